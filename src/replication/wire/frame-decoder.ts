// Streaming frame decoder: fed the chunks a socket delivers, it hands out whole frames one at a time.
//
// Nothing here throws on peer input: every problem (bad header, unknown type, a payload over the
// maximum, malformed fields) is a DecodeError value. The stream cannot be resynchronised after one,
// so the decoder then keeps answering that same error and drops whatever it buffered. Memory is
// bounded by the bytes actually received: a payload is only gathered once all of it has arrived.
//
// Ownership: push() takes the chunk; the caller must not modify it afterwards, because the data
// block of write, resync-data and bitmap-chunk may be a view into it (socket chunks are never reused).
import { ByteQueue } from './byte-queue.js';
import { HEADER_LENGTH, readHeader } from './header.js';
import { MESSAGE_CODES, type ReplMessage, type ReplMessageType } from './messages.js';
import { readPayload } from './payload-codecs.js';

export interface DecodedFrame {
  readonly id: number;
  readonly isReply: boolean;
  readonly message: ReplMessage;
}

export interface DecodeError {
  readonly error: string;
}

export type DecodeResult = DecodedFrame | DecodeError;

export function isDecodeError(result: DecodeResult): result is DecodeError {
  return 'error' in result;
}

const TYPE_BY_CODE: ReadonlyMap<number, ReplMessageType> = new Map(
  (Object.entries(MESSAGE_CODES) as [ReplMessageType, number][]).map(([type, code]) => [code, type]),
);

interface PendingFrame {
  readonly type: ReplMessageType;
  readonly id: number;
  readonly isReply: boolean;
  readonly payloadLength: number;
}

export class FrameDecoder {
  private readonly queue = new ByteQueue();
  private pending: PendingFrame | undefined;
  private failure: DecodeError | undefined;

  /** Bytes received and not yet handed out in a frame. */
  get buffered(): number {
    return this.queue.length;
  }

  /** The error that ended the stream, if one did. */
  get error(): DecodeError | undefined {
    return this.failure;
  }

  push(chunk: Buffer): void {
    if (this.failure === undefined) this.queue.push(chunk);
  }

  /** The next whole frame, undefined until more bytes arrive, or the error that ended the stream. */
  next(): DecodeResult | undefined {
    if (this.failure !== undefined) return this.failure;
    if (this.pending === undefined) {
      if (this.queue.length < HEADER_LENGTH) return undefined;
      const header = readHeader(this.queue.take(HEADER_LENGTH));
      if ('error' in header) return this.fail(header.error);
      const type = TYPE_BY_CODE.get(header.typeCode);
      if (type === undefined) return this.fail(`unknown message type 0x${header.typeCode.toString(16)}`);
      this.pending = { type, id: header.id, isReply: header.isReply, payloadLength: header.payloadLength };
    }
    const frame = this.pending;
    if (this.queue.length < frame.payloadLength) return undefined;
    this.pending = undefined;
    const payload = this.queue.take(frame.payloadLength);
    try {
      return { id: frame.id, isReply: frame.isReply, message: readPayload(frame.type, payload) };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return this.fail(`malformed ${frame.type} (id ${frame.id}): ${reason}`);
    }
  }

  /** Every frame available now; stops after an error, which is the last thing yielded. */
  *frames(): Generator<DecodeResult, void, undefined> {
    for (;;) {
      const result = this.next();
      if (result === undefined) return;
      yield result;
      if (isDecodeError(result)) return;
    }
  }

  private fail(error: string): DecodeError {
    this.failure = { error };
    this.pending = undefined;
    this.queue.clear();
    return this.failure;
  }
}
