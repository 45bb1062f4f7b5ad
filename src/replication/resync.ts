// The sync source's side of a resync: sends every out-of-sync region to the peer, clears its bits as
// the peer acknowledges, paced by the rate controller (state/rate-controller.ts). Regions the thin
// volume has not allocated go as discards, not as zeroes (SEEK_DATA through allocation()).
//
// Each region is held in the mirror's region lock from the read until the peer's acknowledgement, so
// an application write to the same bytes waits and the peer never ends with older data. A resync that
// stops (disconnect, crash) leaves the uncleared bits in the bitmap: the next one resumes from there.
import type { Logger } from 'pino';
import type { BlockDevice } from '../storage/block-device.js';
import type { ResyncProgress } from './control.js';
import type { ReplicationMetadata } from './metadata/replication-metadata.js';
import type { MirrorDevice } from './mirror-device.js';
import type { PeerChannel } from './peer/index.js';
import { ResyncRateController } from './state/rate-controller.js';
import type { ReplMessage } from './wire/index.js';

/** The largest region sent in one message. */
const CHUNK_BYTES = 4 * 1024 * 1024;
/**
 * The largest data block of one resync-data message. A region is read at once and sent as pieces of
 * this size (views of the read, no copy): the receiver gathers each message into one buffer when it
 * spans socket reads, and a 4 MiB gather into a fresh allocation cost more than the rest of its path
 * (page faults and garbage collection); a 128 KiB piece is reused heap memory and is written inline.
 */
const PIECE_BYTES = 128 * 1024;
/** Regions in flight at once at most (the rate controller usually allows fewer). */
const MAX_IN_FLIGHT = 16;
/** Regions in flight beside application I/O (DRBD's c-fill-target). */
const BUSY_FILL_REGIONS = 4;
/** Regions in flight while the volume has no application I/O: enough to keep the source's reads, the
 * link and the target's writes all busy at once. */
const IDLE_FILL_REGIONS = 16;
/** Metadata and the peer are flushed about this often during a resync (see flushInBackground). */
const FLUSH_EVERY_BYTES = 32 * 1024 * 1024;

/** What the resync reads regions from: a block device, reading into reused buffers when it can. */
export type ResyncSource = Pick<BlockDevice, 'read' | 'allocation'> & {
  readonly readInto?: (target: Buffer, offset: number) => Promise<void>;
};

export interface ResyncOptions {
  readonly channel: PeerChannel;
  readonly device: MirrorDevice;
  readonly local: ResyncSource;
  readonly meta: ReplicationMetadata;
  readonly rate: { readonly mode: 'dynamic' | 'fixed'; readonly bytesPerSecond: number };
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface ResyncRun {
  /** Resolves when nothing is out of sync any more; rejects when the peer failed a region. */
  readonly done: Promise<void>;
  progress(nowMs: number): ResyncProgress;
  stop(): void;
  /** Bytes sent as data (not counting regions sent as discards). */
  readonly sentBytes: number;
}

export function runResync(options: ResyncOptions): ResyncRun {
  const now = options.now ?? (() => performance.now());
  const controller = new ResyncRateController(
    options.rate.mode === 'fixed'
      ? { mode: 'fixed', rateBytesPerSecond: options.rate.bytesPerSecond }
      : // DRBD's c-fill-target way: keep a fixed amount in flight (a few 4 MiB regions) and let the
        // acknowledgements set the pace; a latency target misreads the time a 4 MiB region takes as
        // congestion even on an idle link.
        // While no application I/O comes in, a deeper window: only the cap limits the resync.
        {
          mode: 'dynamic',
          maxRateBytesPerSecond: options.rate.bytesPerSecond,
          fillTargetBytes: BUSY_FILL_REGIONS * CHUNK_BYTES,
          idleFillTargetBytes: IDLE_FILL_REGIONS * CHUNK_BYTES,
        },
  );
  const total = options.meta.dirtyBytes;
  let done = 0;
  let sent = 0;
  // Changed by callbacks (stop, a failed region): an object so every reader sees the change.
  const flags: { stopped: boolean; failure: Error | undefined } = { stopped: false, failure: undefined };
  let inFlightBytes = 0;
  let inFlight = 0;
  let lastLatency: number | undefined;
  let sinceFlush = 0;
  const halted = (): boolean => flags.stopped || flags.failure !== undefined;
  const wake: (() => void)[] = [];
  const notify = (): void => {
    for (const resolve of wake.splice(0)) resolve();
  };

  // Region buffers are reused: a fresh 4 MiB buffer per region costs its page faults and garbage
  // collection every time. A buffer goes back to the pool only once every piece sent from it was
  // acknowledged, so the socket no longer holds a view of it; after a failure it is left to the GC
  // (a piece may still sit in the socket's queue).
  const pool: Buffer[] = [];
  const readExtent = async (extentOffset: number, extentLength: number): Promise<Buffer> => {
    const readInto = options.local.readInto;
    if (readInto === undefined || extentLength !== CHUNK_BYTES)
      return options.local.read(extentOffset, extentLength);
    const buffer = pool.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES);
    await readInto.call(options.local, buffer, extentOffset);
    return buffer;
  };

  const sendRegion = async (offset: number, length: number): Promise<void> => {
    const release = await options.device.regions.acquire(offset, offset + length);
    try {
      if (flags.stopped) return;
      const started = now();
      // Every extent's requests go out at once; the region is done when all are acknowledged.
      const requests: Promise<void>[] = [];
      const borrowed: Buffer[] = [];
      for (const extent of await options.local.allocation(offset, length)) {
        if (!extent.mapped) {
          requests.push(
            expectOk(
              options.channel.request({
                type: 'discard',
                offset: BigInt(extent.offset),
                length: extent.length,
              }),
              extent.offset,
            ),
          );
          continue;
        }
        const data = await readExtent(extent.offset, extent.length);
        if (data.length === CHUNK_BYTES) borrowed.push(data);
        for (let at = 0; at < data.length; at += PIECE_BYTES) {
          const piece = data.subarray(at, at + PIECE_BYTES);
          const pieceOffset = extent.offset + at;
          requests.push(
            expectOk(
              options.channel.request({ type: 'resync-data', offset: BigInt(pieceOffset), data: piece }),
              pieceOffset,
            ).then(() => {
              sent += piece.length;
            }),
          );
        }
      }
      // All settled before the region lock goes, even when one failed: none may still be in flight.
      const failed = (await Promise.allSettled(requests)).find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      pool.push(...borrowed);
      options.meta.clearDirty(offset, length);
      lastLatency = now() - started;
      controller.record(now(), length, lastLatency);
      done += length;
      sinceFlush += length;
    } finally {
      release();
    }
  };

  // Every FLUSH_EVERY_BYTES, without holding up the regions: our metadata (cleared bits made durable,
  // so a crash resumes from here) and a flush on the peer, which starts its disk on what it has so
  // far, so the final flush finds little left to write: the disk then works while data still comes,
  // instead of all of it after the last region.
  const background = new Set<Promise<void>>();
  const track = (work: Promise<void>): void => {
    const tracked = work
      .catch((error: unknown) => {
        flags.failure ??= error instanceof Error ? error : new Error(String(error));
      })
      .finally(() => background.delete(tracked));
    background.add(tracked);
  };
  const flushInBackground = (): void => {
    if (background.size > 0) return; // the previous ones are still running: skip this turn
    track(options.meta.flush());
    track(
      options.channel.request({ type: 'flush' }).then((reply) => {
        if (reply.type !== 'ack' || reply.status !== 'ok')
          throw new Error('the peer could not flush resync data');
      }),
    );
  };

  const loop = async (): Promise<void> => {
    const running = new Set<Promise<void>>();
    while (!halted()) {
      let queued = false;
      for (const region of options.meta.dirtyRuns(0, CHUNK_BYTES)) {
        if (halted()) break;
        // Pace: wait for a slot and for the controller's allowance.
        for (;;) {
          if (halted()) break;
          const appIoAt = options.device.lastApplicationIoAt;
          if (appIoAt > Number.NEGATIVE_INFINITY) controller.noteApplicationIo(Math.max(0, appIoAt));
          const allowance = controller.allowance(now(), inFlightBytes, lastLatency);
          if (inFlight < MAX_IN_FLIGHT && (allowance >= region.length || (inFlight === 0 && allowance > 0)))
            break;
          await Promise.race([new Promise<void>((resolve) => wake.push(resolve)), sleep(10)]);
        }
        if (halted()) break;
        controller.sent(now(), region.length);
        inFlight++;
        inFlightBytes += region.length;
        queued = true;
        const task = sendRegion(region.offset, region.length)
          .catch((error: unknown) => {
            flags.failure ??= error instanceof Error ? error : new Error(String(error));
          })
          .finally(() => {
            inFlight--;
            inFlightBytes -= region.length;
            running.delete(task);
            notify();
          });
        running.add(task);
        if (sinceFlush >= FLUSH_EVERY_BYTES) {
          sinceFlush = 0;
          flushInBackground();
        }
      }
      await Promise.all([...running]);
      if (!queued && options.meta.dirtyBytes === 0) break;
      if (!queued) await sleep(10); // bits set by regions still being written elsewhere
    }
    await Promise.all([...running]);
    await Promise.all([...background]);
    await options.meta.flush();
    if (flags.failure !== undefined) throw flags.failure;
    if (flags.stopped) throw new Error('resync stopped');
    // Everything the peer acknowledged must be durable there before it may call itself up to date.
    dataDoneAt = now();
    const reply = await options.channel.request({ type: 'flush' });
    if (reply.type !== 'ack' || reply.status !== 'ok')
      throw new Error('the peer could not flush the resync data');
  };

  const started = now();
  let dataDoneAt = started;
  const donePromise = loop();
  options.logger.info({ outOfSyncBytes: total }, 'resync started');
  void donePromise.then(
    () =>
      options.logger.info(
        {
          bytes: done,
          sentBytes: sent,
          seconds: ((now() - started) / 1000).toFixed(2),
          // The data phase and the peer's final flush apart: the flush is disk time, not the link's.
          dataSeconds: ((dataDoneAt - started) / 1000).toFixed(2),
        },
        'resync complete',
      ),
    () => undefined,
  );
  return {
    done: donePromise,
    get sentBytes() {
      return sent;
    },
    progress: (nowMs) => {
      const remaining = options.meta.dirtyBytes;
      const rate = controller.rateBytesPerSecond(nowMs);
      return {
        totalBytes: Math.max(total, done + remaining),
        doneBytes: done,
        bytesPerSecond: rate,
        etaSeconds: controller.etaSeconds(remaining, nowMs) ?? null,
      };
    },
    stop: () => {
      flags.stopped = true;
      notify();
    },
  };
}

/** Resolves when the peer acknowledged `reply` as ok; rejects with the reason otherwise. */
async function expectOk(reply: Promise<ReplMessage>, offset: number): Promise<void> {
  const answer = await reply;
  if (answer.type !== 'ack' || answer.status !== 'ok') {
    throw new Error(
      `the peer refused resync data at ${offset}: ${answer.type === 'ack' ? answer.message : answer.type}`,
    );
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
