// A socket that speaks frames: decodes what arrives and hands whole frames to one receiver, encodes
// what is sent. Output is corked and flushed once per event-loop turn (a burst of small acks costs
// one write), and reading stops while the peer is not draining our output and we keep queueing
// answers to it, so a peer that sends requests but does not read the replies cannot make us queue
// without bound.
//
// Only answers count (replies and pongs): our own requests are bounded by their senders' windows
// (the resync's bytes in flight, the initiator's queue depth), and stopping to read while our own
// resync data drains would also stop the acknowledgements that let the resync go on: every window
// would stall until all of it had drained. A hard limit still stops reading past
// HARD_OUTPUT_FACTOR × the limit of anything queued.
//
// Reading also stops while no receiver is set: the handshake hands the socket over to the channel
// that way without losing frames that arrived in the same chunk as the last handshake message.
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import {
  encodeFrame,
  FrameDecoder,
  isDecodeError,
  type DecodedFrame,
  type ReplMessage,
} from '../wire/index.js';

/** Bytes of queued output beyond which we stop reading from the peer. */
export const DEFAULT_MAX_QUEUED_OUTPUT = 4 * 1024 * 1024;

/** Answer bytes that may be queued while the output is backed up before reading stops. */
const ANSWER_ALLOWANCE_BYTES = 64 * 1024;

/** Reading stops past this many times the output limit whatever is queued. */
const HARD_OUTPUT_FACTOR = 32;

/** How long a closed connection may take to flush before it is destroyed. */
const END_GRACE_MS = 2000;

/** Who ended the connection: us, the peer (or the network), or a protocol error in its bytes. */
export type EndCause = 'local' | 'remote' | 'protocol-error';

export type FrameReceiver = (frame: DecodedFrame) => void;
export type EndHandler = (reason: string, cause: EndCause) => void;

export class FramedSocket {
  private readonly decoder = new FrameDecoder();
  private receiver: FrameReceiver | undefined;
  private endHandler: EndHandler | undefined;
  private corked = false;
  private outputBlocked = false;
  /** Answer bytes queued since the output last drained while it was over the limit. */
  private answersBackedUp = 0;
  private reading = true;
  private endReason: string | undefined;
  private pumping = false;
  private lastQueuedOutput = 0;
  /** When the peer last showed it is alive: bytes arrived or our queued output shrank. */
  lastHeardAt = performance.now();
  /** When the last frame was queued for sending. */
  lastSentAt = performance.now();

  constructor(
    readonly socket: Socket,
    private readonly maxQueuedOutput = DEFAULT_MAX_QUEUED_OUTPUT,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.end('peer closed the connection', 'remote'));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.end(`connection error: ${error.code ?? error.message}`, 'remote');
      socket.destroy();
    });
    socket.on('close', () => this.end('connection closed', 'remote'));
    socket.on('drain', () => (this.answersBackedUp = 0));
    this.updateReading();
  }

  get ended(): boolean {
    return this.endReason !== undefined;
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? 'unknown';
  }

  get remotePort(): number {
    return this.socket.remotePort ?? 0;
  }

  /** Sets who receives frames; undefined pauses reading (frames wait in the decoder). */
  setReceiver(receiver: FrameReceiver | undefined): void {
    this.receiver = receiver;
    this.updateReading();
    if (receiver !== undefined) this.pump();
  }

  /** Sets who hears about the end of the connection (once, with the first reason). */
  onEnd(handler: EndHandler): void {
    this.endHandler = handler;
  }

  /** Queues a frame; frames queued in one event-loop turn go out in one write. */
  send(message: ReplMessage, id: number, isReply: boolean): void {
    if (this.ended) return;
    const parts = encodeFrame(message, id, isReply);
    if (!this.corked) {
      this.corked = true;
      this.lastSentAt = performance.now();
      this.socket.cork();
      setImmediate(() => this.flush());
    }
    for (const part of parts) this.socket.write(part);
    const queued = this.socket.writableLength;
    if (queued <= this.maxQueuedOutput) return;
    if (isReply || message.type === 'pong') {
      for (const part of parts) this.answersBackedUp += part.length;
    }
    if (this.answersBackedUp > ANSWER_ALLOWANCE_BYTES || queued > this.hardOutputLimit) this.blockOutput();
  }

  private get hardOutputLimit(): number {
    return this.maxQueuedOutput * HARD_OUTPUT_FACTOR;
  }

  /** Ends the connection after flushing what is queued; the first reason is the one reported. */
  end(reason: string, cause: EndCause = 'local'): void {
    if (this.ended) return;
    this.endReason = reason;
    this.receiver = undefined;
    this.flush();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), END_GRACE_MS).unref();
    this.updateReading();
    this.endHandler?.(reason, cause);
  }

  /** Counts a shrinking output queue as a sign of life while we do not read (called periodically). */
  noteOutputProgress(): void {
    const queued = this.socket.writableLength;
    if (queued < this.lastQueuedOutput) this.lastHeardAt = performance.now();
    this.lastQueuedOutput = queued;
  }

  private flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
    if (this.socket.writableLength > this.hardOutputLimit) this.blockOutput();
  }

  private blockOutput(): void {
    if (this.outputBlocked || this.socket.destroyed) return;
    this.outputBlocked = true;
    this.updateReading();
    this.socket.once('drain', () => {
      this.outputBlocked = false;
      this.lastHeardAt = performance.now();
      this.updateReading();
    });
  }

  private updateReading(): void {
    const shouldRead = !this.ended && this.receiver !== undefined && !this.outputBlocked;
    if (shouldRead === this.reading) return;
    this.reading = shouldRead;
    if (shouldRead) this.socket.resume();
    else this.socket.pause();
  }

  private onData(chunk: Buffer): void {
    this.lastHeardAt = performance.now();
    if (this.ended) return;
    this.decoder.push(chunk);
    this.pump();
  }

  /** Hands out decoded frames while someone receives them; re-entrant calls are folded in. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.receiver !== undefined && !this.ended) {
        const result = this.decoder.next();
        if (result === undefined) break;
        if (isDecodeError(result)) {
          this.end(`protocol error: ${result.error}`, 'protocol-error');
          break;
        }
        this.receiver(result);
      }
    } finally {
      this.pumping = false;
    }
  }
}
