// Authenticated connections between the two nodes of a replication pair.
export {
  PeerChannel,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type MessageHandler,
  type PeerChannelOptions,
} from './channel.js';
export { connectPeer, type ConnectPeerOptions } from './connect.js';
export { listenPeer, PeerListener, type PeerListenerOptions, type RefusalInfo } from './listener.js';
export { isPeerError, PeerError, type PeerErrorCode } from './peer-error.js';
export {
  certificateFingerprint,
  fingerprintOfDer,
  generateSelfSignedCertificate,
  normalizeFingerprint,
  type PeerTlsOptions,
  type SelfSignedCertificate,
} from './certificates.js';
export { DEFAULT_HANDSHAKE_TIMEOUT_MS } from './handshake.js';
export { DEFAULT_DEAD_MS, DEFAULT_KEEPALIVE_MS } from './keepalive.js';
export { DEFAULT_MAX_QUEUED_OUTPUT } from './framed-socket.js';
export { computeProof, type HandshakeSide, type Secret } from './proof.js';
