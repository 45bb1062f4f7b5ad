// Online verify (DRBD's verify): compares SHA-256 digests of every region with the peer's while I/O
// goes on, and marks the regions that differ out of sync, so the next resync repairs them. A region
// is held in the mirror's region lock from the request until the peer's digest and ours are taken, so
// a write in flight cannot make the two sides read different generations of the same bytes.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { VerifyProgress } from './control.js';
import type { ReplicationMetadata } from './metadata/replication-metadata.js';
import type { MirrorDevice } from './mirror-device.js';
import type { PeerChannel } from './peer/index.js';

const REGION_BYTES = 1024 * 1024;
const IN_FLIGHT = 4;

export interface VerifyOptions {
  readonly channel: PeerChannel;
  readonly device: MirrorDevice;
  readonly meta: ReplicationMetadata;
  readonly logger: Logger;
}

export interface VerifyRun {
  /** Resolves with the bytes found different. */
  readonly done: Promise<number>;
  progress(): VerifyProgress;
  stop(): void;
}

export function runVerify(options: VerifyOptions): VerifyRun {
  const total = options.device.size;
  let next = 0;
  let verified = 0;
  let mismatched = 0;
  const flags = { stopped: false };

  const verifyRegion = async (offset: number, length: number): Promise<void> => {
    const release = await options.device.regions.acquire(offset, offset + length);
    try {
      const [reply, data] = await Promise.all([
        options.channel.request({ type: 'verify-request', offset: BigInt(offset), length }),
        options.device.read(offset, length),
      ]);
      if (reply.type !== 'verify-reply') throw new Error(`the peer answered verify with ${reply.type}`);
      const ours = createHash('sha256').update(data).digest();
      if (!ours.equals(reply.digest)) {
        mismatched += length;
        options.meta.markDirty(offset, length);
        options.logger.warn({ offset, length }, 'verify: region differs from the peer; marked out of sync');
      }
      verified += length;
    } finally {
      release();
    }
  };

  const worker = async (): Promise<void> => {
    while (!flags.stopped && next < total) {
      const offset = next;
      const length = Math.min(REGION_BYTES, total - offset);
      next += length;
      await verifyRegion(offset, length);
    }
  };

  const done = (async () => {
    options.logger.info({ bytes: total }, 'online verify started');
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    if (flags.stopped) throw new Error('verify flags.stopped');
    await options.meta.flush();
    return mismatched;
  })();
  return {
    done,
    progress: () => ({ totalBytes: total, doneBytes: verified, mismatchedBytes: mismatched }),
    stop: () => {
      flags.stopped = true;
    },
  };
}
