// The challenge-response proof of the handshake: HMAC-SHA256 over the shared secret.
//
//   proof = HMAC(secret, label(sender's side) || challenge of the other side
//                        || len16 sender's name || len16 receiver's name)
//
// The label differs for the connecting and the accepting side, so a proof can never be replayed in
// the other direction (a reflected proof never verifies), and the names are length-prefixed so that
// two pairs of names cannot concatenate to the same bytes.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type HandshakeSide = 'connecting' | 'accepting';

const LABELS: Readonly<Record<HandshakeSide, Buffer>> = {
  connecting: Buffer.from('tandem replication v1 connecting side\0', 'utf8'),
  accepting: Buffer.from('tandem replication v1 accepting side\0', 'utf8'),
};

export type Secret = string | Buffer;

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.allocUnsafe(2);
  length.writeUInt16BE(bytes.length & 0xffff, 0);
  return Buffer.concat([length, bytes]);
}

/** The proof the node on `side` named `ownName` sends in answer to `otherChallenge`. */
export function computeProof(
  secret: Secret,
  side: HandshakeSide,
  otherChallenge: Buffer,
  ownName: string,
  otherName: string,
): Buffer {
  return createHmac('sha256', secret)
    .update(LABELS[side])
    .update(otherChallenge)
    .update(lengthPrefixed(ownName))
    .update(lengthPrefixed(otherName))
    .digest();
}

/** Whether `proof` is what the peer on `peerSide` must send us for our `ownChallenge`. */
export function proofMatches(
  proof: Buffer,
  secret: Secret,
  peerSide: HandshakeSide,
  ownChallenge: Buffer,
  peerName: string,
  ownName: string,
): boolean {
  const expected = computeProof(secret, peerSide, ownChallenge, peerName, ownName);
  return proof.length === expected.length && timingSafeEqual(proof, expected);
}

export function otherSide(side: HandshakeSide): HandshakeSide {
  return side === 'connecting' ? 'accepting' : 'connecting';
}
