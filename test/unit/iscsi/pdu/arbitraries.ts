// fast-check arbitraries for PDUs, generated from the codec's own layout table so that every field
// of every kind is exercised. Golden-byte tests in bhs.test.ts check the table against RFC 7143.
import fc from 'fast-check';
import { LAYOUTS, type Bhs, type BhsFields } from '../../../../src/iscsi/pdu/bhs.js';
import { PDU_KINDS, type PduKind } from '../../../../src/iscsi/pdu/opcodes.js';
import type { OutgoingPdu } from '../../../../src/iscsi/pdu/pdu.js';

type FieldSpec = { type: string; mask?: number; length?: number };

function fieldArbitrary(field: FieldSpec): fc.Arbitrary<unknown> {
  switch (field.type) {
    case 'flag':
      return fc.boolean();
    case 'bits': {
      const mask = field.mask ?? 0;
      let shift = 0;
      while (((mask >> shift) & 1) === 0) shift++;
      return fc.integer({ min: 0, max: mask >> shift });
    }
    case 'u8':
      return fc.integer({ min: 0, max: 0xff });
    case 'u16':
      return fc.integer({ min: 0, max: 0xffff });
    case 'u32':
      return fc.integer({ min: 0, max: 0xffffffff });
    case 'u48':
      return fc.integer({ min: 0, max: 2 ** 48 - 1 });
    case 'u64':
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case 'bytes':
      return fc.uint8Array({ minLength: field.length, maxLength: field.length }).map((a) => Buffer.from(a));
    default:
      throw new Error(`no arbitrary for ${field.type}`);
  }
}

export function bhsFieldsOf(kind: PduKind): fc.Arbitrary<BhsFields> {
  const fields = LAYOUTS[kind].fields as Record<string, FieldSpec>;
  const record: Record<string, fc.Arbitrary<unknown>> = { kind: fc.constant(kind) };
  for (const [name, field] of Object.entries(fields)) record[name] = fieldArbitrary(field);
  return fc.record(record) as unknown as fc.Arbitrary<BhsFields>;
}

export const anyBhsFields: fc.Arbitrary<BhsFields> = fc.oneof(...PDU_KINDS.map(bhsFieldsOf));

export const anyBhs: fc.Arbitrary<Bhs> = fc
  .tuple(anyBhsFields, fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 0xffffff }))
  .map(([fields, totalAHSLength, dataSegmentLength]) => ({ ...fields, totalAHSLength, dataSegmentLength }));

export const anyOutgoingPdu: fc.Arbitrary<OutgoingPdu> = fc.record({
  bhs: anyBhsFields,
  ahs: fc
    .integer({ min: 0, max: 8 })
    .chain((words) =>
      fc.uint8Array({ minLength: words * 4, maxLength: words * 4 }).map((a) => Buffer.from(a)),
    ),
  data: fc.uint8Array({ maxLength: 70 }).map((a) => Buffer.from(a)),
});
