// The messages two replication peers exchange: one discriminated union on `type`, and the numeric
// code each type has on the wire. Codes are grouped by phase (handshake, attach, I/O, resync and
// verify, connection upkeep) so a frame dump is readable; a code is never reused for another type.
import type { DiskState, Generations, Role } from '../state/types.js';

/** Why a peer refused a handshake or a request; other strings may appear from newer peers. */
export const REFUSAL_CODES = [
  'auth-failed',
  'unknown-node',
  'bad-certificate',
  'protocol-error',
  'no-such-task',
  'size-mismatch',
  'busy',
  'split-brain',
] as const;

export type KnownRefusalCode = (typeof REFUSAL_CODES)[number];

export type AckStatus = 'ok' | 'io-error' | 'no-space' | 'refused';

/** Bits of `attach.flags`. */
export const ATTACH_FLAG_CRASHED_PRIMARY = 1 << 0;

export interface HelloMessage {
  readonly type: 'hello';
  readonly protocol: number;
  readonly nodeName: string;
  /** 32 random bytes the other side must prove knowledge of the secret over. */
  readonly challenge: Buffer;
}

export interface AuthMessage {
  readonly type: 'auth';
  /** HMAC-SHA256, 32 bytes. */
  readonly proof: Buffer;
}

export interface AuthOkMessage {
  readonly type: 'auth-ok';
}

export interface RefusedMessage {
  readonly type: 'refused';
  readonly code: string;
  readonly message: string;
}

/** One side's view of a replicated volume; `attach-ok` carries the responder's own view. */
export interface AttachFields {
  readonly task: string;
  readonly volume: string;
  readonly sizeBytes: bigint;
  readonly role: Role;
  readonly diskState: DiskState;
  readonly generations: Generations;
  /** A u32 bit set, see ATTACH_FLAG_*. */
  readonly flags: number;
}

export interface AttachMessage extends AttachFields {
  readonly type: 'attach';
}

export interface AttachOkMessage extends AttachFields {
  readonly type: 'attach-ok';
}

/** Asks the peer which of its volumes could be the destination of a new task. */
export interface BrowseRequestMessage {
  readonly type: 'browse-request';
}

export interface BrowsableVolume {
  readonly name: string;
  readonly sizeBytes: bigint;
  /** Why the volume cannot be chosen now, or '' when it can. */
  readonly unavailable: string;
}

export interface BrowseReplyMessage {
  readonly type: 'browse-reply';
  readonly volumes: readonly BrowsableVolume[];
}

export interface StateMessage {
  readonly type: 'state';
  readonly role: Role;
  readonly diskState: DiskState;
}

export interface GenerationsMessage {
  readonly type: 'generations';
  readonly generations: Generations;
}

export interface BitmapChunkMessage {
  readonly type: 'bitmap-chunk';
  /** The block the first bit of `bits` stands for. */
  readonly firstBlock: bigint;
  readonly bits: Buffer;
  readonly last: boolean;
}

export interface WriteMessage {
  readonly type: 'write';
  readonly offset: bigint;
  /** Force unit access: the peer makes the data durable before it acknowledges. */
  readonly fua: boolean;
  readonly data: Buffer;
}

export interface DiscardMessage {
  readonly type: 'discard';
  readonly offset: bigint;
  readonly length: number;
}

export interface FlushMessage {
  readonly type: 'flush';
}

export interface AckMessage {
  readonly type: 'ack';
  readonly status: AckStatus;
  readonly message: string;
}

export interface ResyncDataMessage {
  readonly type: 'resync-data';
  readonly offset: bigint;
  readonly data: Buffer;
}

export interface VerifyRequestMessage {
  readonly type: 'verify-request';
  readonly offset: bigint;
  readonly length: number;
}

export interface VerifyReplyMessage {
  readonly type: 'verify-reply';
  readonly offset: bigint;
  readonly length: number;
  /** SHA-256 of the range, 32 bytes. */
  readonly digest: Buffer;
}

export interface OutdateMessage {
  readonly type: 'outdate';
}

/** The primary's persistent reservation state of the volume (JSON), so it survives a failover. */
export interface PrStateMessage {
  readonly type: 'pr-state';
  readonly state: string;
}

export interface PingMessage {
  readonly type: 'ping';
}

export interface PongMessage {
  readonly type: 'pong';
}

export interface DisconnectMessage {
  readonly type: 'disconnect';
  readonly reason: string;
}

export type ReplMessage =
  | HelloMessage
  | AuthMessage
  | AuthOkMessage
  | RefusedMessage
  | AttachMessage
  | AttachOkMessage
  | BrowseRequestMessage
  | BrowseReplyMessage
  | StateMessage
  | GenerationsMessage
  | BitmapChunkMessage
  | WriteMessage
  | DiscardMessage
  | FlushMessage
  | AckMessage
  | ResyncDataMessage
  | VerifyRequestMessage
  | VerifyReplyMessage
  | OutdateMessage
  | PrStateMessage
  | PingMessage
  | PongMessage
  | DisconnectMessage;

export type ReplMessageType = ReplMessage['type'];

/** The message of a given type. */
export type MessageOf<T extends ReplMessageType> = Extract<ReplMessage, { type: T }>;

/** The wire code of every message type. */
export const MESSAGE_CODES = {
  hello: 0x01,
  auth: 0x02,
  'auth-ok': 0x03,
  refused: 0x04,
  attach: 0x10,
  'attach-ok': 0x11,
  state: 0x12,
  generations: 0x13,
  'bitmap-chunk': 0x14,
  'browse-request': 0x15,
  'browse-reply': 0x16,
  write: 0x20,
  discard: 0x21,
  flush: 0x22,
  ack: 0x23,
  'resync-data': 0x30,
  'verify-request': 0x31,
  'verify-reply': 0x32,
  outdate: 0x33,
  'pr-state': 0x34,
  ping: 0x40,
  pong: 0x41,
  disconnect: 0x42,
} as const satisfies Record<ReplMessageType, number>;

/** The message types allowed before the handshake has authenticated the peer. */
export const HANDSHAKE_TYPES: ReadonlySet<ReplMessageType> = new Set(['hello', 'auth', 'auth-ok', 'refused']);

/** The handshake's own messages, out of place once the peer is authenticated (`refused` is not). */
export const HANDSHAKE_ONLY_TYPES: ReadonlySet<ReplMessageType> = new Set(['hello', 'auth', 'auth-ok']);
