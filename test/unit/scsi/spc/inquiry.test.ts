import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Inquiry } from '../../../../src/scsi/cdb/command.js';
import { respondInquiry, standardInquiry, unsupportedLunInquiry } from '../../../../src/scsi/spc/inquiry.js';
import { SUPPORTED_VPD_PAGES, vpdPage } from '../../../../src/scsi/spc/vpd.js';
import { exampleLu, hex } from '../example-lu.js';

const ascii = (text: string): Buffer => Buffer.from(text, 'ascii');
const inquiry = (evpd: boolean, pageCode: number, allocationLength: number): Inquiry => ({
  op: 'inquiry',
  evpd,
  pageCode,
  allocationLength,
});

function page(code: number): Buffer {
  const result = vpdPage(exampleLu(), code);
  assert.ok(result.ok);
  return result.value;
}

describe('standard INQUIRY data (SPC-4 §6.6.2)', () => {
  it('has the exact layout', () => {
    const expected = Buffer.concat([
      // direct access; VERSION 06h (SPC-4); HISUP | format 2; ADDITIONAL LENGTH 91; CMDQUE
      hex('00 00 06 12 5b 00 00 02'),
      ascii('TANDEM  '),
      ascii('VIRTUAL-DISK    '),
      ascii('0.1 '),
      Buffer.alloc(22), // vendor specific 36..55, 56, 57
      hex('00a0 0960 0460 04c0'), // SAM-5, iSCSI, SPC-4, SBC-3
      Buffer.alloc(8 + 22), // remaining version descriptors, reserved 74..95
    ]);
    assert.deepEqual(standardInquiry(exampleLu()), expected);
  });

  it('is truncated to any allocation length, never padded', () => {
    const full = standardInquiry(exampleLu());
    for (let alloc = 0; alloc < 300; alloc++) {
      const result = respondInquiry(exampleLu(), inquiry(false, 0, alloc));
      assert.ok(result.ok);
      assert.deepEqual(result.value, full.subarray(0, Math.min(alloc, full.length)));
    }
  });

  it('reports PERIPHERAL QUALIFIER 011b, type 1Fh, for a LUN with no logical unit', () => {
    const data = unsupportedLunInquiry({ vendor: 'TANDEM', product: 'X', revision: '1' });
    assert.equal(data[0], 0x7f);
  });
});

describe('VPD pages', () => {
  it('0x00 lists the supported pages in ascending order', () => {
    assert.deepEqual(page(0x00), hex('00 00 0006 00 80 83 b0 b1 b2'));
    assert.deepEqual(SUPPORTED_VPD_PAGES, [0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2]);
  });

  it('every supported page carries its code and a PAGE LENGTH of n − 3', () => {
    for (const code of SUPPORTED_VPD_PAGES) {
      const data = page(code);
      assert.equal(data[0], 0x00);
      assert.equal(data[1], code);
      assert.equal(data.readUInt16BE(2), data.length - 4);
    }
  });

  it('an unsupported page is INVALID FIELD IN CDB at the PAGE CODE', () => {
    assert.deepEqual(respondInquiry(exampleLu(), inquiry(true, 0x86, 255)), {
      ok: false,
      sense: { code: 'INVALID_FIELD_IN_CDB', field: { inCdb: true, byte: 2 } },
    });
  });

  it('0x80: unit serial number', () => {
    assert.deepEqual(page(0x80), Buffer.concat([hex('00 80 0006'), ascii('abc123')]));
  });

  it('0x83: device identification, designator by designator (SPC-4 §7.8.6)', () => {
    const portName = ascii('iqn.2026-11.local.tandem:v1,t,0x0001'); // 36 bytes → 40 with nulls
    const targetName = ascii('iqn.2026-11.local.tandem:v1'); // 27 bytes → 28 with a null
    const expected = Buffer.concat([
      hex('00 83 0072'),
      // NAA: binary, LU, type 3, 8 bytes
      hex('01 03 00 08 3fedcba987654321'),
      // T10 vendor ID: ASCII, LU, type 1: vendor (8) + serial
      hex('02 01 00 0e'),
      ascii('TANDEM  abc123'),
      // target port name: iSCSI, UTF-8, PIV, target port, SCSI name string
      hex('53 98 00 28'),
      portName,
      Buffer.alloc(4),
      // relative target port 1: iSCSI, binary, PIV, target port, type 4
      hex('51 94 00 04 0000 0001'),
      // SCSI target name: iSCSI, UTF-8, PIV, target device, SCSI name string
      hex('53 a8 00 1c'),
      targetName,
      Buffer.alloc(1),
    ]);
    assert.deepEqual(page(0x83), expected);
  });

  it('0x83: a 32-digit NAA 6h designator is 16 bytes', () => {
    const result = vpdPage(exampleLu({ naa: '6' + '0123456789abcdef'.repeat(2).slice(1) }), 0x83);
    assert.ok(result.ok);
    assert.deepEqual(result.value.subarray(4, 8), hex('01 03 00 10'));
  });

  it('0xB0: block limits for a thin LU (SBC-3 §6.5.3)', () => {
    assert.deepEqual(
      page(0xb0),
      Buffer.concat([
        hex('00 b0 003c'),
        hex('00 01 0008'), // WSNZ 0, MAXIMUM COMPARE AND WRITE LENGTH 1, OPTIMAL GRANULARITY 8
        hex('00004000 00000000 00000000'), // MAX TRANSFER 16384, OPTIMAL 0, MAX PREFETCH 0
        hex('00100000 00000100 00000008 80000000'), // UNMAP: LBA count, descriptors, granularity, UGAVALID
        hex('0000000000010000'), // MAXIMUM WRITE SAME LENGTH 65536
        Buffer.alloc(20),
      ]),
    );
  });

  it('0xB0: no UNMAP limits without thin provisioning; overrides apply', () => {
    const result = vpdPage(exampleLu({ thinProvisioned: false, limits: { maxTransferLength: 1024 } }), 0xb0);
    assert.ok(result.ok);
    assert.deepEqual(result.value.subarray(20, 36), Buffer.alloc(16));
    assert.equal(result.value.readUInt32BE(8), 1024);
  });

  it('0xB1: non-rotating medium', () => {
    assert.deepEqual(page(0xb1), Buffer.concat([hex('00 b1 003c 0001'), Buffer.alloc(58)]));
  });

  it('0xB2: thin provisioning with LBPU, LBPWS, LBPWS10, LBPRZ; full provisioning without', () => {
    assert.deepEqual(page(0xb2), hex('00 b2 0004 00 e4 02 00'));
    const thick = vpdPage(exampleLu({ thinProvisioned: false }), 0xb2);
    assert.ok(thick.ok);
    assert.deepEqual(thick.value, hex('00 b2 0004 00 00 00 00'));
  });

  it('VPD pages are truncated to the allocation length', () => {
    const result = respondInquiry(exampleLu(), inquiry(true, 0x83, 10));
    assert.ok(result.ok);
    assert.deepEqual(result.value, page(0x83).subarray(0, 10));
  });
});
