// Failed block I/O as a sense reason (SBC-3 §4.12 and Annex D): the one mapping from BlockIoError kinds
// to what the initiator hears. Anything that is not a BlockIoError is a bug and is rethrown.
import { BlockIoError } from '../../storage/block-device.js';
import { senseReason, type SenseReason } from '../sense/sense-reason.js';

export type IoDirection = 'read' | 'write';

export function ioFailure(error: unknown, direction: IoDirection): SenseReason {
  if (!(error instanceof BlockIoError)) throw error;
  switch (error.kind) {
    case 'medium':
      return senseReason(direction === 'read' ? 'UNRECOVERED_READ_ERROR' : 'WRITE_ERROR');
    case 'no-space':
      // SBC-3 §4.7.3.7: a thin LU out of space fails the write and reports it as a data protect.
      return senseReason(
        direction === 'read' ? 'UNRECOVERED_READ_ERROR' : 'SPACE_ALLOCATION_FAILED_WRITE_PROTECT',
      );
    case 'unavailable':
      return senseReason('LOGICAL_UNIT_NOT_READY');
  }
}

/** Runs block I/O, turning a BlockIoError into a failed ScsiResult. */
export async function guarded<T>(
  direction: IoDirection,
  io: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; sense: SenseReason }> {
  try {
    return { ok: true, value: await io() };
  } catch (error) {
    return { ok: false, sense: ioFailure(error, direction) };
  }
}
