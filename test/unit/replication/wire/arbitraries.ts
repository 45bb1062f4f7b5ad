// fast-check arbitraries for every replication message, shared by the wire tests.
import fc from 'fast-check';

/** fc.record with an ordinary prototype, so decoded messages deep-equal the generated ones. */
function record<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}
import type { DiskState, Generations, Role } from '../../../../src/replication/state/types.js';
import type { AckStatus, AttachFields, ReplMessage } from '../../../../src/replication/wire/index.js';

export const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
/** Any Unicode text; its UTF-8 form stays far below the u16 length limit. */
export const text = fc.string({ unit: 'binary', maxLength: 40 });
export const bytes = (maxLength: number): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ maxLength }).map((array) => Buffer.from(array));
export const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((array) => Buffer.from(array));

const role = fc.constantFrom<Role>('primary', 'secondary');
const diskState = fc.constantFrom<DiskState>(
  'up-to-date',
  'consistent',
  'inconsistent',
  'outdated',
  'unknown',
);
const ackStatus = fc.constantFrom<AckStatus>('ok', 'io-error', 'no-space', 'refused');
const generations: fc.Arbitrary<Generations> = fc
  .tuple(u64, u64, u64, u64)
  .map(([current, bitmap, older, oldest]) => ({ current, bitmap, history: [older, oldest] }));

const attachFields: fc.Arbitrary<AttachFields> = record({
  task: text,
  volume: text,
  sizeBytes: u64,
  role,
  diskState,
  generations,
  flags: u32,
});

export const anyMessage: fc.Arbitrary<ReplMessage> = fc.oneof(
  record({ type: fc.constant('hello'), protocol: u16, nodeName: text, challenge: bytes32 }),
  record({ type: fc.constant('auth'), proof: bytes32 }),
  fc.constant({ type: 'auth-ok' }),
  record({ type: fc.constant('refused'), code: text, message: text }),
  attachFields.map((fields) => ({ type: 'attach', ...fields })),
  attachFields.map((fields) => ({ type: 'attach-ok', ...fields })),
  fc.constant({ type: 'browse-request' }),
  record({
    type: fc.constant('browse-reply'),
    volumes: fc.array(record({ name: text, sizeBytes: u64, unavailable: text }), { maxLength: 4 }),
  }),
  record({ type: fc.constant('state'), role, diskState }),
  record({ type: fc.constant('generations'), generations }),
  record({ type: fc.constant('bitmap-chunk'), firstBlock: u64, bits: bytes(64), last: fc.boolean() }),
  record({ type: fc.constant('write'), offset: u64, fua: fc.boolean(), data: bytes(300) }),
  record({ type: fc.constant('discard'), offset: u64, length: u32 }),
  fc.constant({ type: 'flush' }),
  record({ type: fc.constant('ack'), status: ackStatus, message: text }),
  record({ type: fc.constant('resync-data'), offset: u64, data: bytes(300) }),
  record({ type: fc.constant('verify-request'), offset: u64, length: u32 }),
  record({ type: fc.constant('verify-reply'), offset: u64, length: u32, digest: bytes32 }),
  fc.constant({ type: 'outdate' }),
  record({ type: fc.constant('pr-state'), state: text }),
  fc.constant({ type: 'ping' }),
  fc.constant({ type: 'pong' }),
  record({ type: fc.constant('disconnect'), reason: text }),
) as fc.Arbitrary<ReplMessage>;

export interface FrameSpec {
  readonly message: ReplMessage;
  readonly id: number;
  readonly isReply: boolean;
}

export const anyFrame: fc.Arbitrary<FrameSpec> = record({
  message: anyMessage,
  id: u32,
  isReply: fc.boolean(),
});

/** Cuts `data` at the given positions (taken modulo its length) into consecutive chunks. */
export function cutInto(data: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const point of [...points, data.length]) {
    chunks.push(data.subarray(at, point));
    at = point;
  }
  return chunks;
}
