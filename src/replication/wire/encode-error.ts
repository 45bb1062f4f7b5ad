// Encoding is given our own messages, so a value that does not fit the wire is a bug in the caller:
// it is thrown as a typed error rather than silently truncated.
import { TandemError } from '../../lib/errors.js';

export class WireEncodeError extends TandemError {
  constructor(message: string) {
    super('invalid', 'wire-encode', message);
    this.name = 'WireEncodeError';
  }
}
