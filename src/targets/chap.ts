// Rules for CHAP users of a target (RFC 7143 §12.1.3). Incoming users are initiators proving who they
// are; the single outgoing user is the target's own identity for mutual CHAP.
import type { ChapUserRecord } from '../config/repositories/targets-repo.js';
import { conflict, invalid } from '../lib/errors.js';

export const CHAP_SECRET_MIN = 12;
export const CHAP_SECRET_MAX = 255;
const USERNAME_PATTERN = /^[\x21-\x39\x3b-\x7e]{1,255}$/; // printable ASCII without space or ':'

export function validateChapUser(user: ChapUserRecord): ChapUserRecord {
  const direction: string = user.direction; // records may come from untyped input
  if (direction !== 'incoming' && direction !== 'outgoing') {
    throw invalid('bad-chap-direction', 'CHAP direction must be incoming or outgoing');
  }
  if (!USERNAME_PATTERN.test(user.username)) {
    throw invalid(
      'bad-chap-user',
      'CHAP user name must be 1 to 255 printable characters without spaces or ":"',
    );
  }
  const length = Buffer.byteLength(user.secret, 'utf8');
  if (length < CHAP_SECRET_MIN || length > CHAP_SECRET_MAX) {
    throw invalid(
      'bad-chap-secret',
      `CHAP secret for "${user.username}" must be ${CHAP_SECRET_MIN} to ${CHAP_SECRET_MAX} bytes (RFC 7143 asks for at least 96 bits)`,
    );
  }
  if (hasControlCharacter(user.secret))
    throw invalid('bad-chap-secret', 'CHAP secret must not hold control characters');
  return user;
}

/** Checks a whole set of users: one outgoing user at most, mutual only on top of one-way, and never the
 * same secret in both directions (that would let a reflected challenge authenticate). */
export function validateChapSet(users: readonly ChapUserRecord[]): void {
  const seen = new Set<string>();
  for (const user of users) {
    validateChapUser(user);
    const key = `${user.direction}:${user.username}`;
    if (seen.has(key))
      throw conflict('chap-user-exists', `CHAP user "${user.username}" (${user.direction}) is already set`);
    seen.add(key);
  }
  const incoming = users.filter((u) => u.direction === 'incoming');
  const outgoing = users.filter((u) => u.direction === 'outgoing');
  if (outgoing.length > 1)
    throw conflict('chap-mutual-exists', 'a target has at most one mutual (outgoing) CHAP user');
  if (outgoing.length === 1 && incoming.length === 0) {
    throw invalid('chap-mutual-alone', 'mutual CHAP needs at least one incoming CHAP user first');
  }
  const mutual = outgoing[0];
  if (mutual && incoming.some((u) => u.secret === mutual.secret)) {
    throw invalid('chap-same-secret', 'the mutual CHAP secret must differ from every incoming secret');
  }
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
