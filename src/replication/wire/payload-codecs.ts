// The payload layout of every message type. Fixed fields come first; write, resync-data and
// bitmap-chunk end with their data block, whose length is whatever the payload has left, so the
// block can travel as its own buffer without being copied into the frame.
import type { Generations } from '../state/types.js';
import { ACK_STATUS_CODES, DISK_STATE_CODES, ROLE_CODES } from './enums.js';
import { FieldReader } from './field-reader.js';
import type { FieldWriter } from './field-writer.js';
import type { AttachFields, BrowsableVolume, MessageOf, ReplMessage, ReplMessageType } from './messages.js';

export const CHALLENGE_LENGTH = 32;
export const PROOF_LENGTH = 32;
export const DIGEST_LENGTH = 32;

interface PayloadCodec<T extends ReplMessageType> {
  /** Writes the fixed fields. */
  write(writer: FieldWriter, message: MessageOf<T>): void;
  /** The trailing data block, passed through uncopied. */
  data?(message: MessageOf<T>): Buffer;
  /** Reads a whole payload; the data block, if any, is a view of the payload. */
  read(reader: FieldReader): MessageOf<T>;
}

function writeGenerations(writer: FieldWriter, generations: Generations): void {
  writer.u64(generations.current);
  writer.u64(generations.bitmap);
  writer.u64(generations.history[0]);
  writer.u64(generations.history[1]);
}

function readGenerations(reader: FieldReader): Generations {
  const current = reader.u64();
  const bitmap = reader.u64();
  const older = reader.u64();
  const oldest = reader.u64();
  return { current, bitmap, history: [older, oldest] };
}

function writeAttach(writer: FieldWriter, fields: AttachFields): void {
  writer.string(fields.task);
  writer.string(fields.volume);
  writer.u64(fields.sizeBytes);
  writer.u8(ROLE_CODES.code(fields.role));
  writer.u8(DISK_STATE_CODES.code(fields.diskState));
  writeGenerations(writer, fields.generations);
  writer.u32(fields.flags);
}

function readAttach(reader: FieldReader): AttachFields {
  return {
    task: reader.string(),
    volume: reader.string(),
    sizeBytes: reader.u64(),
    role: reader.enumeration(ROLE_CODES),
    diskState: reader.enumeration(DISK_STATE_CODES),
    generations: readGenerations(reader),
    flags: reader.u32(),
  };
}

/** A codec for a message without fields. */
function empty<T extends 'auth-ok' | 'browse-request' | 'flush' | 'outdate' | 'ping' | 'pong'>(
  type: T,
): PayloadCodec<T> {
  const message = { type } as MessageOf<T>;
  return {
    write: () => undefined,
    read: () => message,
  };
}

const CODECS: { readonly [T in ReplMessageType]: PayloadCodec<T> } = {
  hello: {
    write: (w, m) => {
      w.u16(m.protocol);
      w.string(m.nodeName);
      w.fixedBytes(m.challenge, CHALLENGE_LENGTH);
    },
    read: (r) => ({
      type: 'hello',
      protocol: r.u16(),
      nodeName: r.string(),
      challenge: r.copiedBytes(CHALLENGE_LENGTH),
    }),
  },
  auth: {
    write: (w, m) => w.fixedBytes(m.proof, PROOF_LENGTH),
    read: (r) => ({ type: 'auth', proof: r.copiedBytes(PROOF_LENGTH) }),
  },
  'auth-ok': empty('auth-ok'),
  refused: {
    write: (w, m) => {
      w.string(m.code);
      w.string(m.message);
    },
    read: (r) => ({ type: 'refused', code: r.string(), message: r.string() }),
  },
  attach: {
    write: writeAttach,
    read: (r) => ({ type: 'attach', ...readAttach(r) }),
  },
  'attach-ok': {
    write: writeAttach,
    read: (r) => ({ type: 'attach-ok', ...readAttach(r) }),
  },
  'browse-request': empty('browse-request'),
  'browse-reply': {
    write: (w, m) => {
      w.u16(m.volumes.length);
      for (const volume of m.volumes) {
        w.string(volume.name);
        w.u64(volume.sizeBytes);
        w.string(volume.unavailable);
      }
    },
    read: (r) => {
      // Entries are read one by one, so a lying count fails on the payload's end, never allocates.
      const count = r.u16();
      const volumes: BrowsableVolume[] = [];
      for (let i = 0; i < count; i++) {
        volumes.push({ name: r.string(), sizeBytes: r.u64(), unavailable: r.string() });
      }
      return { type: 'browse-reply', volumes };
    },
  },
  state: {
    write: (w, m) => {
      w.u8(ROLE_CODES.code(m.role));
      w.u8(DISK_STATE_CODES.code(m.diskState));
    },
    read: (r) => ({
      type: 'state',
      role: r.enumeration(ROLE_CODES),
      diskState: r.enumeration(DISK_STATE_CODES),
    }),
  },
  generations: {
    write: (w, m) => writeGenerations(w, m.generations),
    read: (r) => ({ type: 'generations', generations: readGenerations(r) }),
  },
  'bitmap-chunk': {
    write: (w, m) => {
      w.u64(m.firstBlock);
      w.bool(m.last);
    },
    data: (m) => m.bits,
    read: (r) => ({ type: 'bitmap-chunk', firstBlock: r.u64(), last: r.bool(), bits: r.rest() }),
  },
  write: {
    write: (w, m) => {
      w.u64(m.offset);
      w.bool(m.fua);
    },
    data: (m) => m.data,
    read: (r) => ({ type: 'write', offset: r.u64(), fua: r.bool(), data: r.rest() }),
  },
  discard: {
    write: (w, m) => {
      w.u64(m.offset);
      w.u32(m.length);
    },
    read: (r) => ({ type: 'discard', offset: r.u64(), length: r.u32() }),
  },
  flush: empty('flush'),
  ack: {
    write: (w, m) => {
      w.u8(ACK_STATUS_CODES.code(m.status));
      w.string(m.message);
    },
    read: (r) => ({ type: 'ack', status: r.enumeration(ACK_STATUS_CODES), message: r.string() }),
  },
  'resync-data': {
    write: (w, m) => w.u64(m.offset),
    data: (m) => m.data,
    read: (r) => ({ type: 'resync-data', offset: r.u64(), data: r.rest() }),
  },
  'verify-request': {
    write: (w, m) => {
      w.u64(m.offset);
      w.u32(m.length);
    },
    read: (r) => ({ type: 'verify-request', offset: r.u64(), length: r.u32() }),
  },
  'verify-reply': {
    write: (w, m) => {
      w.u64(m.offset);
      w.u32(m.length);
      w.fixedBytes(m.digest, DIGEST_LENGTH);
    },
    read: (r) => ({
      type: 'verify-reply',
      offset: r.u64(),
      length: r.u32(),
      digest: r.copiedBytes(DIGEST_LENGTH),
    }),
  },
  outdate: empty('outdate'),
  'pr-state': {
    write: (w, m) => w.string(m.state),
    read: (r) => ({ type: 'pr-state', state: r.string() }),
  },
  ping: empty('ping'),
  pong: empty('pong'),
  disconnect: {
    write: (w, m) => w.string(m.reason),
    read: (r) => ({ type: 'disconnect', reason: r.string() }),
  },
};

// Indexing the mapped table with a union key loses the link between key and message type; every
// entry is keyed by its own type, so widening to the union is sound.
function codecOf(type: ReplMessageType): PayloadCodec<ReplMessageType> {
  return CODECS[type] as PayloadCodec<ReplMessageType>;
}

/** Writes the fixed fields of `message` and returns its data block (empty when it has none). */
export function writePayload(writer: FieldWriter, message: ReplMessage): Buffer | undefined {
  const codec = codecOf(message.type);
  codec.write(writer, message);
  return codec.data?.(message);
}

/** Decodes a whole payload; throws PayloadError (caught by the frame decoder) when malformed. */
export function readPayload(type: ReplMessageType, payload: Buffer): ReplMessage {
  const reader = new FieldReader(payload);
  const message = codecOf(type).read(reader);
  reader.end();
  return message;
}
