// Wire codes of the enumerations carried in messages (one byte each). A table per enumeration keeps
// encoding and decoding from drifting apart; a byte outside a table is a decode error.
import type { DiskState, Role } from '../state/types.js';
import { WireEncodeError } from './encode-error.js';
import type { AckStatus } from './messages.js';

/** A two-way map between the values of a string enumeration and their byte codes. */
export class ByteEnum<T extends string> {
  private readonly byValue: ReadonlyMap<T, number>;
  private readonly byCode: ReadonlyMap<number, T>;

  constructor(
    readonly name: string,
    table: Readonly<Record<T, number>>,
  ) {
    const entries = Object.entries(table) as [T, number][];
    this.byValue = new Map(entries);
    this.byCode = new Map(entries.map(([value, code]) => [code, value]));
  }

  code(value: T): number {
    const code = this.byValue.get(value);
    if (code === undefined) throw new WireEncodeError(`${value} is not a ${this.name}`);
    return code;
  }

  /** The value of `code`, or undefined for a byte no value has. */
  value(code: number): T | undefined {
    return this.byCode.get(code);
  }
}

export const ROLE_CODES = new ByteEnum<Role>('role', { primary: 1, secondary: 2 });

export const DISK_STATE_CODES = new ByteEnum<DiskState>('disk state', {
  'up-to-date': 1,
  consistent: 2,
  inconsistent: 3,
  outdated: 4,
  unknown: 5,
});

export const ACK_STATUS_CODES = new ByteEnum<AckStatus>('ack status', {
  ok: 0,
  'io-error': 1,
  'no-space': 2,
  refused: 3,
});
