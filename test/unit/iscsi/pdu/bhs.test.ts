import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BHS_LENGTH, decodeBhs, encodeBhs, type Bhs } from '../../../../src/iscsi/pdu/bhs.js';
import { kindOfOpcode, OPCODES, PDU_KINDS } from '../../../../src/iscsi/pdu/opcodes.js';
import { lunField, lunNumber } from '../../../../src/iscsi/pdu/lun.js';
import { anyBhs, bhsFieldsOf } from './arbitraries.js';

function encodeDecoded(bhs: Bhs): Buffer {
  const { totalAHSLength, dataSegmentLength, ...fields } = bhs;
  return encodeBhs(fields, { totalAHSLength, dataSegmentLength });
}

function decoded(buf: Buffer): Bhs {
  const r = decodeBhs(buf);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.value;
}

/** A BHS built byte by byte from the figures of RFC 7143 §11. */
function bytesAt(entries: [offset: number, hex: string][]): Buffer {
  const buf = Buffer.alloc(48);
  for (const [offset, hex] of entries) Buffer.from(hex, 'hex').copy(buf, offset);
  return buf;
}

describe('BHS codec', () => {
  it('has a layout for every opcode of RFC 7143 §11.2.1.2', () => {
    assert.equal(PDU_KINDS.length, 18);
    for (const kind of PDU_KINDS) assert.equal(kindOfOpcode(OPCODES[kind].code), kind);
    assert.equal(kindOfOpcode(0x1c), undefined, 'vendor-specific');
    assert.equal(kindOfOpcode(0x07), undefined, 'reserved');
  });

  for (const kind of PDU_KINDS) {
    it(`decode(encode(x)) = x for ${kind}`, () => {
      fc.assert(
        fc.property(
          bhsFieldsOf(kind),
          fc.integer({ min: 0, max: 0xff }),
          fc.integer({ min: 0, max: 0xffffff }),
          (fields, totalAHSLength, dataSegmentLength) => {
            const bytes = encodeBhs(fields, { totalAHSLength, dataSegmentLength });
            assert.equal(bytes.length, BHS_LENGTH);
            assert.deepEqual(decoded(bytes), { ...fields, totalAHSLength, dataSegmentLength });
          },
        ),
        { numRuns: 200 },
      );
    });
  }

  it('never throws on random bytes, and re-encodes what it decodes to the same meaning', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (raw) => {
        const r = decodeBhs(Buffer.from(raw));
        if (raw.length < 48) assert.ok(!r.ok && r.error.code === 'short-bhs');
        else if (kindOfOpcode((raw[0] ?? 0) & 0x3f) === undefined)
          assert.ok(!r.ok && r.error.code === 'unknown-opcode');
        else if (r.ok) assert.deepEqual(decoded(encodeDecoded(r.value)), r.value);
        else assert.fail(r.error.message);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips through bytes whatever the header', () => {
    fc.assert(fc.property(anyBhs, (bhs) => assert.deepEqual(decoded(encodeDecoded(bhs)), bhs)));
  });

  it('SCSI Command: RFC 7143 §11.3 layout', () => {
    const cdb = Buffer.from('28000000100000000800000000000000', 'hex'); // READ(10) LBA 0x1000, 8 blocks
    const bytes = encodeBhs(
      {
        kind: 'scsi-command',
        immediate: false,
        final: true,
        read: true,
        write: false,
        attr: 1,
        lun: lunField(3),
        initiatorTaskTag: 0x11223344,
        expectedDataTransferLength: 4096,
        cmdSN: 7,
        expStatSN: 9,
        cdb,
      },
      { totalAHSLength: 0, dataSegmentLength: 0 },
    );
    const expected = bytesAt([
      [0, '01c1'],
      [8, '0003000000000000'],
      [16, '11223344'],
      [20, '00001000'],
      [24, '00000007'],
      [28, '00000009'],
      [32, cdb.toString('hex')],
    ]);
    assert.equal(bytes.toString('hex'), expected.toString('hex'));
  });

  it('Login Request: I bit always set, T/C/CSG/NSG, ISID, TSIH, CID (§11.12)', () => {
    const bytes = bytesAt([
      [0, '4387'], // I, opcode 3; T=1, CSG=1, NSG=3
      [2, '0000'],
      [5, '000123'],
      [8, '400001370000'], // ISID
      [14, '0000'],
      [16, '00000001'],
      [20, '0002'],
      [24, '00000005'],
      [28, '00000006'],
    ]);
    assert.deepEqual(decoded(bytes), {
      kind: 'login-request',
      transit: true,
      continue: false,
      csg: 1,
      nsg: 3,
      versionMax: 0,
      versionMin: 0,
      isid: 0x400001370000,
      tsih: 0,
      initiatorTaskTag: 1,
      cid: 2,
      cmdSN: 5,
      expStatSN: 6,
      totalAHSLength: 0,
      dataSegmentLength: 0x123,
    });
  });

  it('Login Response: Status-Class and Status-Detail at bytes 36-37 (§11.13)', () => {
    const bytes = encodeBhs(
      {
        kind: 'login-response',
        transit: false,
        continue: false,
        csg: 0,
        nsg: 0,
        versionMax: 0,
        versionActive: 0,
        isid: 1,
        tsih: 0,
        initiatorTaskTag: 1,
        statSN: 0,
        expCmdSN: 1,
        maxCmdSN: 1,
        statusClass: 2,
        statusDetail: 1,
      },
      { totalAHSLength: 0, dataSegmentLength: 0 },
    );
    assert.equal(bytes[0], 0x23);
    assert.equal(bytes.readUInt16BE(36), 0x0201);
  });

  it('Data-In: F, A, O, U, S flags and status in byte 3 (§11.7.2)', () => {
    const bytes = bytesAt([
      [0, '258500'],
      [3, '02'],
      [16, 'aabbccdd'],
      [20, 'ffffffff'],
      [24, '00000010'],
      [36, '00000004'],
      [40, '00002000'],
      [44, '00000200'],
    ]);
    const bhs = decoded(bytes);
    assert.equal(bhs.kind, 'data-in');
    assert.deepEqual(
      [bhs.final, bhs.acknowledge, bhs.residualOverflow, bhs.residualUnderflow, bhs.hasStatus],
      [true, false, true, false, true],
    );
    assert.equal(bhs.status, 2);
    assert.equal(bhs.statSN, 16);
    assert.equal(bhs.dataSN, 4);
    assert.equal(bhs.bufferOffset, 0x2000);
    assert.equal(bhs.residualCount, 0x200);
  });

  it('R2T, SCSI Response and Reject put their fields where §11.8, §11.4 and §11.17 say', () => {
    const r2t = encodeBhs(
      {
        kind: 'r2t',
        lun: 0n,
        initiatorTaskTag: 1,
        targetTransferTag: 2,
        statSN: 3,
        expCmdSN: 4,
        maxCmdSN: 5,
        r2tSN: 6,
        bufferOffset: 7,
        desiredDataTransferLength: 8,
      },
      { totalAHSLength: 0, dataSegmentLength: 0 },
    );
    assert.equal(r2t.subarray(0, 2).toString('hex'), '3180');
    assert.deepEqual(
      [36, 40, 44].map((o) => r2t.readUInt32BE(o)),
      [6, 7, 8],
    );

    const response = bytesAt([
      [0, '2186'], // U and O... bits: 0x04 (O) and 0x02 (U)
      [2, '0002'], // response 0, status CHECK CONDITION
      [44, '00000010'],
    ]);
    const r = decoded(response);
    assert.ok(r.kind === 'scsi-response' && r.residualOverflow && r.residualUnderflow && r.status === 2);

    const reject = encodeBhs(
      { kind: 'reject', reason: 0x04, statSN: 1, expCmdSN: 2, maxCmdSN: 3, dataSN: 0 },
      { totalAHSLength: 0, dataSegmentLength: 48 },
    );
    assert.equal(reject.subarray(0, 3).toString('hex'), '3f8004');
    assert.equal(reject.readUInt32BE(16), 0xffffffff, 'the ITT of a Reject is reserved');
    assert.equal(reject.readUIntBE(5, 3), 48);
  });

  it('ignores reserved bits on receipt', () => {
    const bytes = bytesAt([[0, '20ff']]); // NOP-In with every bit of byte 1 set
    const bhs = decoded(bytes);
    assert.equal(bhs.kind, 'nop-in');
  });

  it('refuses values that do not fit their fields (a bug in the sender)', () => {
    const base = {
      kind: 'logout-request',
      immediate: true,
      initiatorTaskTag: 1,
      cid: 1,
      cmdSN: 1,
      expStatSN: 1,
    } as const;
    assert.throws(
      () => encodeBhs({ ...base, reasonCode: 0x80 }, { totalAHSLength: 0, dataSegmentLength: 0 }),
      RangeError,
    );
    assert.throws(
      () => encodeBhs({ ...base, reasonCode: 0 }, { totalAHSLength: 0, dataSegmentLength: 2 ** 24 }),
      RangeError,
    );
  });
});

describe('LUN field', () => {
  it('uses peripheral addressing below 256 and flat space addressing above (SAM-5 §4.7.7)', () => {
    assert.equal(lunField(0), 0n);
    assert.equal(lunField(5), 0x0005_0000_0000_0000n);
    assert.equal(lunField(300), 0x412c_0000_0000_0000n);
    for (const n of [0, 1, 255, 256, 1000, 16383]) assert.equal(lunNumber(lunField(n)), n);
    assert.equal(lunNumber(0x0105_0000_0000_0000n), undefined, 'peripheral with bus 1');
    assert.equal(lunNumber(0x0005_0000_0000_0001n), undefined, 'second level');
    assert.equal(lunNumber(0xc000_0000_0000_0000n), undefined, 'extended addressing');
    assert.throws(() => lunField(16384), RangeError);
  });
});
