// The 16-byte frame header. Layout (big-endian):
//   0 magic u16 0x5444 ("TD") | 2 version u8 | 3 type u8 | 4 flags u8 (bit 0 = reply)
//   5 three reserved bytes, zero | 8 id u32 | 12 payload length u32
export const FRAME_MAGIC = 0x5444;
export const PROTOCOL_VERSION = 1;
export const HEADER_LENGTH = 16;

/** The largest data block one message carries; larger writes go as several messages. */
export const MAX_DATA_LENGTH = 16 * 1024 * 1024;

/** The largest payload: a data block plus room for its fixed fields. */
export const MAX_PAYLOAD_LENGTH = MAX_DATA_LENGTH + 64;

export const FLAG_REPLY = 0x01;
const KNOWN_FLAGS = FLAG_REPLY;

export const MAX_FRAME_ID = 0xffffffff;

export interface FrameHeader {
  readonly typeCode: number;
  readonly isReply: boolean;
  readonly id: number;
  readonly payloadLength: number;
}

export function writeHeader(target: Buffer, header: FrameHeader): void {
  target.writeUInt16BE(FRAME_MAGIC, 0);
  target[2] = PROTOCOL_VERSION;
  target[3] = header.typeCode;
  target[4] = header.isReply ? FLAG_REPLY : 0;
  target[5] = 0;
  target[6] = 0;
  target[7] = 0;
  target.writeUInt32BE(header.id, 8);
  target.writeUInt32BE(header.payloadLength, 12);
}

/** Reads a header from the first 16 bytes of `source`, or says what is wrong with it. */
export function readHeader(source: Buffer): FrameHeader | { readonly error: string } {
  const magic = source.readUInt16BE(0);
  if (magic !== FRAME_MAGIC) return { error: `bad magic 0x${magic.toString(16).padStart(4, '0')}` };
  const version = source[2] ?? 0;
  if (version !== PROTOCOL_VERSION) return { error: `unsupported protocol version ${version}` };
  const flags = source[4] ?? 0;
  if ((flags & ~KNOWN_FLAGS) !== 0) return { error: `unknown header flags 0x${flags.toString(16)}` };
  if (source[5] !== 0 || source[6] !== 0 || source[7] !== 0)
    return { error: 'reserved header bytes are not zero' };
  const payloadLength = source.readUInt32BE(12);
  if (payloadLength > MAX_PAYLOAD_LENGTH) {
    return { error: `payload of ${payloadLength} bytes exceeds the maximum of ${MAX_PAYLOAD_LENGTH}` };
  }
  return {
    typeCode: source[3] ?? 0,
    isReply: (flags & FLAG_REPLY) !== 0,
    id: source.readUInt32BE(8),
    payloadLength,
  };
}
