// CHAP authentication of the target (RFC 7143 §12.1.3, RFC 1994), as the authenticator and, for
// mutual CHAP, as the authenticated side. Pure: the caller supplies random bytes and the target's
// users, and passes the initiator's CHAP_* keys in; it gets the keys to answer or a failure.
//
// Exchange (target view):
//   1. initiator: CHAP_A=<algorithms>           target: CHAP_A=5, CHAP_I=<id>, CHAP_C=<challenge>
//   2. initiator: CHAP_N, CHAP_R [, CHAP_I, CHAP_C for mutual]
//                                               target: [CHAP_N, CHAP_R for mutual] → authenticated
// Rules held here: only MD5 (algorithm 5); the response is MD5(id ‖ secret ‖ challenge); a mutual
// challenge equal to ours is refused (a reflection attack); the target never answers a mutual
// challenge with a secret that an initiator also uses (the target manager refuses such sets too).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { TextPair } from '../text/key-value.js';

export const CHAP_MD5 = 5;
export const CHAP_CHALLENGE_BYTES = 16;

export interface ChapUsers {
  /** Initiator credentials the target accepts. */
  readonly incoming: readonly { readonly username: string; readonly secret: string }[];
  /** The target's own identity for mutual CHAP, if configured. */
  readonly outgoing?: { readonly username: string; readonly secret: string };
}

export type ChapState =
  | { readonly step: 'await-algorithm' }
  | { readonly step: 'await-response'; readonly id: number; readonly challenge: Buffer }
  | { readonly step: 'done'; readonly username: string };

export type ChapOutcome =
  | { readonly ok: true; readonly state: ChapState; readonly response: TextPair[] }
  | { readonly ok: false; readonly reason: string };

export const CHAP_START: ChapState = { step: 'await-algorithm' };

/** Decodes a CHAP binary value: `0x`/`0X` hex or `0b`/`0B` base64 (RFC 7143 §6.1). */
export function decodeChapBinary(value: string): Buffer | undefined {
  if (/^0[xX][0-9a-fA-F]+$/.test(value)) {
    const hex = value.slice(2);
    return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex');
  }
  if (/^0[bB][A-Za-z0-9+/]+={0,2}$/.test(value)) return Buffer.from(value.slice(2), 'base64');
  return undefined;
}

export function chapResponse(id: number, secret: string, challenge: Buffer): Buffer {
  return createHash('md5')
    .update(Buffer.from([id & 0xff]))
    .update(secret, 'utf8')
    .update(challenge)
    .digest();
}

const get = (keys: readonly TextPair[], key: string): string | undefined =>
  keys.find((k) => k.key === key)?.value;

/** Advances the exchange with the CHAP_* keys of one login request. `random(n)` gives n random bytes. */
export function stepChap(
  state: ChapState,
  keys: readonly TextPair[],
  users: ChapUsers,
  random: (bytes: number) => Buffer,
): ChapOutcome {
  switch (state.step) {
    case 'await-algorithm': {
      const offered = get(keys, 'CHAP_A');
      if (offered === undefined) return { ok: false, reason: 'CHAP_A missing' };
      const algorithms = offered.split(',').map((a) => Number(a.trim()));
      if (!algorithms.includes(CHAP_MD5))
        return { ok: false, reason: `no supported CHAP algorithm in "${offered}"` };
      const id = random(1)[0] ?? 0;
      const challenge = random(CHAP_CHALLENGE_BYTES);
      return {
        ok: true,
        state: { step: 'await-response', id, challenge },
        response: [
          { key: 'CHAP_A', value: String(CHAP_MD5) },
          { key: 'CHAP_I', value: String(id) },
          { key: 'CHAP_C', value: `0x${challenge.toString('hex')}` },
        ],
      };
    }
    case 'await-response': {
      const name = get(keys, 'CHAP_N');
      const responseText = get(keys, 'CHAP_R');
      if (name === undefined || responseText === undefined)
        return { ok: false, reason: 'CHAP_N or CHAP_R missing' };
      const received = decodeChapBinary(responseText);
      if (received === undefined) return { ok: false, reason: 'CHAP_R is not a binary value' };
      const user = users.incoming.find((u) => u.username === name);
      if (user === undefined) return { ok: false, reason: `unknown CHAP user "${name}"` };
      const expected = chapResponse(state.id, user.secret, state.challenge);
      if (received.length !== expected.length || !timingSafeEqual(received, expected)) {
        return { ok: false, reason: `wrong CHAP response for "${name}"` };
      }
      const mutualId = get(keys, 'CHAP_I');
      const mutualChallengeText = get(keys, 'CHAP_C');
      if (mutualId === undefined && mutualChallengeText === undefined) {
        return { ok: true, state: { step: 'done', username: name }, response: [] };
      }
      if (mutualId === undefined || mutualChallengeText === undefined) {
        return { ok: false, reason: 'mutual CHAP needs both CHAP_I and CHAP_C' };
      }
      const outgoing = users.outgoing;
      if (outgoing === undefined)
        return { ok: false, reason: 'mutual CHAP asked for, but the target has no mutual identity' };
      const id = Number(mutualId);
      const challenge = decodeChapBinary(mutualChallengeText);
      if (!/^\d{1,3}$/.test(mutualId) || id > 255 || challenge === undefined || challenge.length === 0) {
        return { ok: false, reason: 'malformed mutual CHAP_I or CHAP_C' };
      }
      if (challenge.equals(state.challenge)) return { ok: false, reason: 'mutual challenge reflects ours' };
      if (users.incoming.some((u) => u.secret === outgoing.secret)) {
        return { ok: false, reason: 'the mutual secret equals an initiator secret' };
      }
      return {
        ok: true,
        state: { step: 'done', username: name },
        response: [
          { key: 'CHAP_N', value: outgoing.username },
          { key: 'CHAP_R', value: `0x${chapResponse(id, outgoing.secret, challenge).toString('hex')}` },
        ],
      };
    }
    case 'done':
      return { ok: false, reason: 'CHAP keys after authentication finished' };
  }
}
