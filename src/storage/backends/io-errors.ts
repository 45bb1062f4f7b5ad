// errno → BlockIoError, in one place, for the backends that touch files (BlockDevice contract:
// failures on the data path reject with a BlockIoError and nothing else).
import { BlockIoError, type BlockIoErrorKind } from '../block-device.js';

/** errno codes that mean the pool or a quota is full: SPACE ALLOCATION FAILED for a thin volume. */
const NO_SPACE: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT']);
/** Codes that mean the handle is gone (closed under us), not that the medium failed. */
const UNAVAILABLE: ReadonlySet<string> = new Set(['EBADF', 'ERR_INVALID_STATE']);

export function errnoKind(code: string | undefined): BlockIoErrorKind {
  if (code !== undefined && NO_SPACE.has(code)) return 'no-space';
  if (code !== undefined && UNAVAILABLE.has(code)) return 'unavailable';
  // EIO, ENXIO, EROFS, EFBIG, EINVAL from the kernel and anything else: the store failed us.
  return 'medium';
}

export function toBlockIoError(error: unknown, what: string): BlockIoError {
  if (error instanceof BlockIoError) return error;
  const code = codeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  return new BlockIoError(errnoKind(code), `${what}: ${message}`, code);
}

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = error.code;
  return typeof code === 'string' ? code : undefined;
}
