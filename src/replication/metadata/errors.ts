// The one error type the metadata file's public API rejects with (besides RangeError for a caller's
// out-of-device range, which is a bug above this layer). `code` is stable; the message is for people.
import { TandemError, type ErrorKind } from '../../lib/errors.js';

export type MetadataErrorCode =
  /** open(): there is no file at the path */
  | 'not-found'
  /** create(): a file already exists at the path (never overwritten) */
  | 'exists'
  /** open(): neither superblock slot carries the metadata magic */
  | 'not-metadata'
  /** open(): the newest slot with the magic has a format version this code does not read */
  | 'unsupported-version'
  /** open(): both slots fail their checksum or hold impossible values, or the file is truncated */
  | 'corrupt'
  /** open(): the file describes a device of another size than the caller expects */
  | 'device-size-mismatch'
  /** create(), grow(), metadataBytes(): sizes or options this format cannot represent */
  | 'invalid-geometry'
  /** release() of a range whose extents hold no reference: a caller bug */
  | 'not-active'
  /** the metadata was closed (or is closing, for activate()) */
  | 'closed'
  /** a read, write or fdatasync failed; sticky: every later operation fails with it (reopen) */
  | 'io-error';

const KIND: Record<MetadataErrorCode, ErrorKind> = {
  'not-found': 'not-found',
  exists: 'conflict',
  'not-metadata': 'invalid',
  'unsupported-version': 'invalid',
  corrupt: 'internal',
  'device-size-mismatch': 'conflict',
  'invalid-geometry': 'invalid',
  'not-active': 'internal',
  closed: 'unavailable',
  'io-error': 'unavailable',
};

export class MetadataError extends TandemError {
  declare readonly code: MetadataErrorCode;

  constructor(code: MetadataErrorCode, message: string, details?: Record<string, unknown>) {
    super(KIND[code], code, message, details);
    this.name = 'MetadataError';
  }
}

export function isMetadataError(error: unknown, code?: MetadataErrorCode): error is MetadataError {
  return error instanceof MetadataError && (code === undefined || error.code === code);
}
