// The one error type of the pure replication state code. Only misuse throws it (an impossible
// generation identifier, a negative byte count, bad controller options): the decisions themselves
// report refusals as values, never as exceptions.
import { TandemError } from '../../lib/errors.js';

export type ReplicationStateErrorCode =
  'generation-invalid' | 'resync-rate-options-invalid' | 'resync-rate-input-invalid';

export class ReplicationStateError extends TandemError {
  constructor(code: ReplicationStateErrorCode, message: string) {
    super('invalid', code, message);
    this.name = 'ReplicationStateError';
  }
}
