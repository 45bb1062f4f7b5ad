// Typed errors with stable `code` strings. The API maps `kind` to an HTTP status and shows `code` and
// `message` to people; the CLI prints them. Exceptions that are not TandemErrors are bugs.

export type ErrorKind =
  | 'invalid' // the request is malformed or names something impossible
  | 'not-found'
  | 'conflict' // the request clashes with existing state (duplicate, in use)
  | 'no-space'
  | 'unauthorized'
  | 'forbidden'
  | 'throttled' // too many attempts; the details say when to try again
  | 'unavailable' // a resource the request needs is not there right now
  | 'internal';

export class TandemError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly details: Record<string, unknown> | undefined;

  constructor(kind: ErrorKind, code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'TandemError';
    this.kind = kind;
    this.code = code;
    this.details = details;
  }
}

export const invalid = (code: string, message: string, details?: Record<string, unknown>): TandemError =>
  new TandemError('invalid', code, message, details);

export const notFound = (code: string, message: string): TandemError =>
  new TandemError('not-found', code, message);

export const conflict = (code: string, message: string, details?: Record<string, unknown>): TandemError =>
  new TandemError('conflict', code, message, details);

export const noSpace = (code: string, message: string, details?: Record<string, unknown>): TandemError =>
  new TandemError('no-space', code, message, details);

export function isTandemError(error: unknown): error is TandemError {
  return error instanceof TandemError;
}

/** The message of anything thrown, for logs and wrapped errors. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
