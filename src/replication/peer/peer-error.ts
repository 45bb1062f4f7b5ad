// Errors of peer connections. `code` says what happened; messages never contain the shared secret.
import { TandemError, type ErrorKind } from '../../lib/errors.js';

export type PeerErrorCode =
  | 'auth-failed' // the shared secrets differ (or a forged proof)
  | 'unknown-node' // the listener does not know this node name
  | 'bad-certificate' // a TLS peer certificate does not have the pinned fingerprint
  | 'protocol-error' // bytes that are not our protocol, or a message out of place
  | 'handshake-timeout'
  | 'request-timeout'
  | 'connect-failed' // TCP or TLS could not be set up
  | 'closed' // the connection ended (the message says why)
  | 'refused'; // the peer refused with a code this node does not know

const KIND_OF: Readonly<Record<PeerErrorCode, ErrorKind>> = {
  'auth-failed': 'unauthorized',
  'unknown-node': 'forbidden',
  'bad-certificate': 'unauthorized',
  'protocol-error': 'unavailable',
  'handshake-timeout': 'unavailable',
  'request-timeout': 'unavailable',
  'connect-failed': 'unavailable',
  closed: 'unavailable',
  refused: 'unavailable',
};

export class PeerError extends TandemError {
  declare readonly code: PeerErrorCode;

  constructor(code: PeerErrorCode, message: string) {
    super(KIND_OF[code], code, message);
    this.name = 'PeerError';
  }
}

export function isPeerError(error: unknown): error is PeerError {
  return error instanceof PeerError;
}

/** The PeerError for a peer's `refused` message during the handshake. */
export function refusalError(code: string, message: string): PeerError {
  const known = code in KIND_OF && code !== 'refused' ? (code as PeerErrorCode) : 'refused';
  const said = known === 'refused' ? `${code}: ${message}` : message;
  return new PeerError(known, `the peer refused the connection (${said})`);
}
