// The replication wire protocol: message types, their binary encoding and the streaming decoder.
export { WireEncodeError } from './encode-error.js';
export {
  ATTACH_FLAG_CRASHED_PRIMARY,
  HANDSHAKE_ONLY_TYPES,
  HANDSHAKE_TYPES,
  MESSAGE_CODES,
  REFUSAL_CODES,
} from './messages.js';
export type * from './messages.js';
export {
  FLAG_REPLY,
  FRAME_MAGIC,
  HEADER_LENGTH,
  MAX_DATA_LENGTH,
  MAX_FRAME_ID,
  MAX_PAYLOAD_LENGTH,
  PROTOCOL_VERSION,
} from './header.js';
export { CHALLENGE_LENGTH, DIGEST_LENGTH, PROOF_LENGTH } from './payload-codecs.js';
export { encodeFrame, frameLength } from './frame-encoder.js';
export {
  FrameDecoder,
  isDecodeError,
  type DecodeError,
  type DecodedFrame,
  type DecodeResult,
} from './frame-decoder.js';
export { splitForWire, type WirePiece } from './split.js';
