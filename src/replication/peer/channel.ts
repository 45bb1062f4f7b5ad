// An authenticated connection to the peer node: one-way messages, requests correlated with their
// replies by frame id, keepalive, and one close reason.
//
// Ids: a request carries a non-zero id that no other pending request has; a one-way message carries
// id 0. Replies whose request is no longer pending (it timed out) are dropped.
//
// Timeouts: one timer for the channel, armed for the earliest deadline of a pending request, instead
// of a timer per request (a setTimeout and clearTimeout on every replicated write cost more than the
// request's framing).
import { performance } from 'node:perf_hooks';
import { TandemError } from '../../lib/errors.js';
import {
  HANDSHAKE_ONLY_TYPES,
  MAX_FRAME_ID,
  type DecodedFrame,
  type ReplMessage,
  type ReplMessageType,
} from '../wire/index.js';
import type { FramedSocket } from './framed-socket.js';
import { DEFAULT_DEAD_MS, DEFAULT_KEEPALIVE_MS, startKeepalive } from './keepalive.js';
import { PeerError } from './peer-error.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** The longest close reason sent to the peer; reasons are for people, not for data. */
const MAX_REASON_LENGTH = 500;

/** Messages the channel sends itself: keepalive, and `disconnect` through close(). */
const CHANNEL_OWN_TYPES: ReadonlySet<ReplMessageType> = new Set(['ping', 'pong', 'disconnect']);

export interface PeerChannelOptions {
  /** Idle time after which we send a ping (default 2000). */
  readonly keepaliveMs?: number | undefined;
  /** Silence after which the peer counts as dead and the channel closes (default 6000). */
  readonly deadMs?: number | undefined;
  /** How long request() waits for a reply unless told otherwise (default 30000). */
  readonly requestTimeoutMs?: number | undefined;
}

/**
 * Receives the peer's requests and one-way messages. For a request (`id` non-zero) call `respond`
 * exactly once; for a one-way message (`id` 0) calling it is an error.
 */
export type MessageHandler = (
  message: ReplMessage,
  id: number,
  respond: (reply: ReplMessage) => void,
) => void;

interface PendingRequest {
  readonly resolve: (reply: ReplMessage) => void;
  readonly reject: (error: PeerError) => void;
  /** performance.now() after which the request fails with request-timeout. */
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly type: ReplMessageType;
}

export class PeerChannel {
  private readonly pending = new Map<number, PendingRequest>();
  /** The one timeout timer, due at `timerDue` (Infinity: not armed). */
  private timeoutTimer: NodeJS.Timeout | undefined;
  private timerDue = Number.POSITIVE_INFINITY;
  private nextId = 1;
  private handler: MessageHandler | undefined;
  /** A message that arrived before a handler was set; reading waits until one is. */
  private held: DecodedFrame | undefined;
  private reason: string | undefined;
  private readonly stopKeepalive: () => void;
  private resolveClosed!: (reason: string) => void;
  private readonly requestTimeoutMs: number;
  /** Resolves with the close reason once the channel is closed, by either side. */
  readonly closed: Promise<string>;

  /** Made by connectPeer and PeerListener once the handshake has authenticated `peerName`. */
  constructor(
    private readonly framed: FramedSocket,
    readonly peerName: string,
    options: PeerChannelOptions = {},
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    framed.onEnd((reason) => this.finish(reason));
    this.stopKeepalive = startKeepalive(framed, {
      keepaliveMs: options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS,
      deadMs: options.deadMs ?? DEFAULT_DEAD_MS,
      sendPing: () => this.framed.send({ type: 'ping' }, 0, false),
      onDead: () => this.close('peer timed out'),
    });
    framed.setReceiver((frame) => this.receive(frame));
    if (framed.ended) this.finish('connection closed');
  }

  get isClosed(): boolean {
    return this.reason !== undefined;
  }

  /** Why the channel closed, once it has. */
  get closeReason(): string | undefined {
    return this.reason;
  }

  get remoteAddress(): string {
    return this.framed.remoteAddress;
  }

  /** Sets the receiver of the peer's requests and one-way messages (replaces any earlier one). */
  onMessage(handler: MessageHandler): void {
    this.handler = handler;
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    this.deliver(held, handler);
    if (!this.isClosed) this.framed.setReceiver((frame) => this.receive(frame));
  }

  /** Sends a one-way message. Dropped once the channel is closed (see `closed`). */
  send(message: ReplMessage): void {
    this.checkSendable(message);
    this.framed.send(message, 0, false);
  }

  /** Sends a request; resolves with the peer's reply, rejects with a PeerError on timeout or close. */
  request(message: ReplMessage, timeoutMs = this.requestTimeoutMs): Promise<ReplMessage> {
    this.checkSendable(message);
    if (this.reason !== undefined) {
      return Promise.reject(
        new PeerError('closed', `the connection to ${this.peerName} is closed: ${this.reason}`),
      );
    }
    const id = this.allocateId();
    const deadline = performance.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, deadline, timeoutMs, type: message.type });
      if (deadline < this.timerDue) this.armTimeout(deadline);
      this.framed.send(message, id, false);
    });
  }

  /** Answers the peer's request `requestId`. Dropped once the channel is closed. */
  reply(requestId: number, message: ReplMessage): void {
    if (requestId === 0)
      throw new TandemError('internal', 'not-a-request', 'a one-way message cannot be answered');
    this.checkSendable(message);
    this.framed.send(message, requestId, true);
  }

  /** Tells the peer why, then closes; pending requests reject. Later calls do nothing. */
  close(reason: string): void {
    if (this.reason !== undefined) return;
    this.framed.send({ type: 'disconnect', reason: reason.slice(0, MAX_REASON_LENGTH) }, 0, false);
    this.finish(reason);
    this.framed.end(reason);
  }

  private finish(reason: string): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.stopKeepalive();
    const error = new PeerError('closed', `the connection to ${this.peerName} closed: ${reason}`);
    clearTimeout(this.timeoutTimer);
    this.timeoutTimer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
    for (const request of this.pending.values()) request.reject(error);
    this.pending.clear();
    this.held = undefined;
    this.resolveClosed(reason);
  }

  private receive(frame: DecodedFrame): void {
    if (frame.isReply) {
      const request = this.pending.get(frame.id);
      if (request === undefined) return;
      this.pending.delete(frame.id);
      request.resolve(frame.message);
      return;
    }
    const { message } = frame;
    switch (message.type) {
      case 'ping':
        this.framed.send({ type: 'pong' }, 0, false);
        return;
      case 'pong':
        return;
      case 'disconnect':
        this.finish(`peer disconnected: ${message.reason}`);
        this.framed.end(`peer disconnected: ${message.reason}`);
        return;
      default:
        break;
    }
    if (HANDSHAKE_ONLY_TYPES.has(message.type)) {
      this.close(`protocol error: ${message.type} is not allowed after authentication`);
      return;
    }
    if (this.handler === undefined) {
      this.held = frame;
      this.framed.setReceiver(undefined);
      return;
    }
    this.deliver(frame, this.handler);
  }

  private deliver({ message, id }: DecodedFrame, handler: MessageHandler): void {
    let answered = false;
    const respond = (reply: ReplMessage): void => {
      if (id === 0)
        throw new TandemError('internal', 'not-a-request', `a one-way ${message.type} cannot be answered`);
      if (answered)
        throw new TandemError('internal', 'already-answered', `request ${id} was already answered`);
      answered = true;
      this.reply(id, reply);
    };
    try {
      handler(message, id, respond);
    } catch (error) {
      this.close(`message handler failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private armTimeout(due: number): void {
    clearTimeout(this.timeoutTimer);
    this.timerDue = due;
    const delay = Math.max(0, Math.ceil(due - performance.now()));
    // Unref'd: it may outlive the last reply until it next fires; the socket keeps a live link going.
    this.timeoutTimer = setTimeout(() => this.expireRequests(), delay).unref();
  }

  /** Fails every pending request past its deadline, then re-arms for the earliest one left. */
  private expireRequests(): void {
    this.timeoutTimer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
    // Timers have millisecond granularity: count a deadline less than 1 ms away as reached.
    const now = performance.now() + 1;
    let earliest = Number.POSITIVE_INFINITY;
    for (const [id, request] of this.pending) {
      if (request.deadline <= now) {
        this.pending.delete(id);
        request.reject(
          new PeerError(
            'request-timeout',
            `${this.peerName} did not answer a ${request.type} within ${request.timeoutMs} ms`,
          ),
        );
      } else if (request.deadline < earliest) {
        earliest = request.deadline;
      }
    }
    if (earliest !== Number.POSITIVE_INFINITY) this.armTimeout(earliest);
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id >= MAX_FRAME_ID ? 1 : id + 1;
      if (!this.pending.has(id)) return id;
    }
  }

  private checkSendable(message: ReplMessage): void {
    if (HANDSHAKE_ONLY_TYPES.has(message.type) || CHANNEL_OWN_TYPES.has(message.type)) {
      throw new TandemError('internal', 'reserved-message', `${message.type} is sent by the channel itself`);
    }
  }
}
