import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ModeSelect, ModeSense, PageControl } from '../../../../src/scsi/cdb/command.js';
import { respondModeSense } from '../../../../src/scsi/spc/mode-sense.js';
import { parseModeSelect } from '../../../../src/scsi/spc/mode-select.js';
import type { LogicalUnitInfo } from '../../../../src/scsi/spc/logical-unit.js';
import { exampleLu, hex } from '../example-lu.js';

const sense = (overrides: Partial<ModeSense> = {}): ModeSense => ({
  op: 'mode-sense',
  cdbLength: 6,
  dbd: false,
  llbaa: false,
  pageControl: 'current',
  pageCode: 0x3f,
  subpageCode: 0,
  allocationLength: 255,
  ...overrides,
});

function modeSense(lu: LogicalUnitInfo, overrides: Partial<ModeSense> = {}): Buffer {
  const result = respondModeSense(lu, sense(overrides));
  assert.ok(result.ok);
  return result.value;
}

const CACHING = Buffer.concat([hex('08 12 00'), Buffer.alloc(17)]);
const CONTROL = hex('0a 0a 02 10 00 00 0000 0000 0000');
const IEC = hex('1c 0a 08 00 00000000 00000000');

describe('MODE SENSE (SPC-4 §6.13, §6.14)', () => {
  it('(6), all pages: header, short block descriptor, caching, control, informational exceptions', () => {
    assert.deepEqual(
      modeSense(exampleLu()),
      Buffer.concat([hex('37 00 10 08'), hex('00000800 00 000200'), CACHING, CONTROL, IEC]),
    );
  });

  it('WP follows write protection; WCE follows the write-back setting', () => {
    const data = modeSense(exampleLu({ writeProtected: true, writeCacheEnabled: true }), { pageCode: 0x08 });
    assert.equal(data[2], 0x90);
    assert.equal(data[4 + 8 + 2], 0x04);
  });

  it('DBD leaves out the block descriptor', () => {
    assert.deepEqual(
      modeSense(exampleLu(), { dbd: true, pageCode: 0x0a }),
      Buffer.concat([hex('0f 00 10 00'), CONTROL]),
    );
  });

  it('(10) with LLBAA returns a long LBA block descriptor', () => {
    assert.deepEqual(
      modeSense(exampleLu(), { cdbLength: 10, llbaa: true, pageCode: 0x1c }),
      Buffer.concat([hex('0022 00 10 01 00 0010'), hex('0000000000000800 00000000 00000200'), IEC]),
    );
  });

  it('(10) without LLBAA returns a short one', () => {
    const data = modeSense(exampleLu(), { cdbLength: 10, pageCode: 0x1c });
    assert.deepEqual(data.subarray(0, 8), hex('001a 00 10 00 00 0008'));
  });

  it('a capacity beyond 32 bits reports FFFFFFFFh in a short descriptor', () => {
    const data = modeSense(exampleLu({ blockCount: 0x1_0000_0001n }), { pageCode: 0x08 });
    assert.deepEqual(data.subarray(4, 12), hex('ffffffff 00 000200'));
  });

  it('changeable values: only WCE', () => {
    const data = modeSense(exampleLu(), { pageControl: 'changeable' });
    assert.deepEqual(data.subarray(4, 12), Buffer.alloc(8));
    assert.deepEqual(data.subarray(12, 32), Buffer.concat([hex('08 12 04'), Buffer.alloc(17)]));
    assert.deepEqual(data.subarray(32), hex('0a 0a 00000000 00000000 0000 1c 0a 00000000 00000000 0000'));
  });

  it('default values equal the current ones', () => {
    assert.deepEqual(modeSense(exampleLu(), { pageControl: 'default' }), modeSense(exampleLu()));
  });

  it('saved values: SAVING PARAMETERS NOT SUPPORTED', () => {
    const result = respondModeSense(exampleLu(), sense({ pageControl: 'saved' as PageControl }));
    assert.ok(!result.ok);
    assert.equal(result.sense.code, 'SAVING_PARAMETERS_NOT_SUPPORTED');
  });

  it('an unknown page or subpage is INVALID FIELD IN CDB', () => {
    assert.deepEqual(respondModeSense(exampleLu(), sense({ pageCode: 0x01 })), {
      ok: false,
      sense: { code: 'INVALID_FIELD_IN_CDB', field: { inCdb: true, byte: 2, bit: 5 } },
    });
    assert.deepEqual(respondModeSense(exampleLu(), sense({ subpageCode: 0x01 })), {
      ok: false,
      sense: { code: 'INVALID_FIELD_IN_CDB', field: { inCdb: true, byte: 3 } },
    });
    assert.ok(respondModeSense(exampleLu(), sense({ subpageCode: 0xff })).ok);
  });

  it('is truncated to the allocation length with MODE DATA LENGTH untouched', () => {
    const full = modeSense(exampleLu());
    assert.deepEqual(modeSense(exampleLu(), { allocationLength: 4 }), full.subarray(0, 4));
    assert.deepEqual(modeSense(exampleLu(), { allocationLength: 0 }), Buffer.alloc(0));
  });
});

const select = (parameterListLength: number, cdbLength: 6 | 10 = 6): ModeSelect => ({
  op: 'mode-select',
  cdbLength,
  parameterListLength,
});

describe('MODE SELECT (SPC-4 §6.11, §6.12)', () => {
  it('turns WCE on with what MODE SENSE returned, as Linux sd does', () => {
    const data = modeSense(exampleLu(), { pageCode: 0x08 });
    data[0] = 0; // MODE DATA LENGTH is reserved in MODE SELECT
    data[2] = 0;
    data[4 + 8 + 2] = data[4 + 8 + 2]! | 0x04;
    assert.deepEqual(parseModeSelect(exampleLu(), select(data.length), data), {
      ok: true,
      value: { writeCacheEnabled: true },
    });
  });

  it('turns WCE off with MODE SELECT (10), no block descriptor', () => {
    const data = Buffer.concat([hex('0000 00 00 00 00 0000'), CACHING]);
    assert.deepEqual(parseModeSelect(exampleLu({ writeCacheEnabled: true }), select(data.length, 10), data), {
      ok: true,
      value: { writeCacheEnabled: false },
    });
  });

  it('accepts all pages sent back unchanged', () => {
    const data = modeSense(exampleLu());
    assert.deepEqual(parseModeSelect(exampleLu(), select(data.length), data), {
      ok: true,
      value: { writeCacheEnabled: false },
    });
  });

  it('a zero parameter list length changes nothing', () => {
    assert.deepEqual(parseModeSelect(exampleLu({ writeCacheEnabled: true }), select(0), Buffer.alloc(0)), {
      ok: true,
      value: { writeCacheEnabled: true },
    });
  });

  it('changing a bit that is not changeable is INVALID FIELD IN PARAMETER LIST at that bit', () => {
    const data = Buffer.concat([hex('00 00 00 00'), CACHING]);
    data[4 + 2] = 0x01; // RCD
    assert.deepEqual(parseModeSelect(exampleLu(), select(data.length), data), {
      ok: false,
      sense: { code: 'INVALID_FIELD_IN_PARAMETER_LIST', field: { inCdb: false, byte: 6, bit: 0 } },
    });
    const control = Buffer.concat([hex('00 00 00 00'), CONTROL]);
    control[4 + 2] = control[4 + 2]! | 0x04; // D_SENSE
    assert.deepEqual(parseModeSelect(exampleLu(), select(control.length), control), {
      ok: false,
      sense: { code: 'INVALID_FIELD_IN_PARAMETER_LIST', field: { inCdb: false, byte: 6, bit: 2 } },
    });
  });

  it('refuses unknown pages, subpages, wrong page lengths and medium types', () => {
    const field = (byte: number, bit?: number) => ({
      ok: false,
      sense: {
        code: 'INVALID_FIELD_IN_PARAMETER_LIST',
        field: bit === undefined ? { inCdb: false, byte } : { inCdb: false, byte, bit },
      },
    });
    const unknown = hex('00 00 00 00 01 0a 00000000 00000000 0000');
    assert.deepEqual(parseModeSelect(exampleLu(), select(unknown.length), unknown), field(4, 5));
    const subpage = hex('00 00 00 00 48 01 0012');
    assert.deepEqual(parseModeSelect(exampleLu(), select(subpage.length), subpage), field(4, 6));
    const short = hex('00 00 00 00 08 02 00 00');
    assert.deepEqual(parseModeSelect(exampleLu(), select(short.length), short), field(5));
    const medium = hex('00 01 00 00');
    assert.deepEqual(parseModeSelect(exampleLu(), select(medium.length), medium), field(1));
  });

  it('checks the block descriptor: same block length, capacity unchanged or 0', () => {
    const ok = hex('00 00 00 08 00000000 00 000200');
    assert.ok(parseModeSelect(exampleLu(), select(ok.length), ok).ok);
    const bad = hex('00 00 00 08 00000000 00 001000');
    assert.deepEqual(parseModeSelect(exampleLu(), select(bad.length), bad), {
      ok: false,
      sense: { code: 'INVALID_FIELD_IN_PARAMETER_LIST', field: { inCdb: false, byte: 9 } },
    });
    const odd = hex('00 00 00 04 00000000');
    assert.deepEqual(parseModeSelect(exampleLu(), select(odd.length), odd), {
      ok: false,
      sense: { code: 'INVALID_FIELD_IN_PARAMETER_LIST', field: { inCdb: false, byte: 3 } },
    });
  });

  it('a list cut short is PARAMETER LIST LENGTH ERROR', () => {
    const lengthError = { ok: false, sense: { code: 'PARAMETER_LIST_LENGTH_ERROR' } };
    const cut = Buffer.concat([hex('00 00 00 00'), CACHING.subarray(0, 10)]);
    assert.deepEqual(parseModeSelect(exampleLu(), select(cut.length), cut), lengthError);
    assert.deepEqual(parseModeSelect(exampleLu(), select(3), hex('00 00 00')), lengthError);
    assert.deepEqual(parseModeSelect(exampleLu(), select(8), hex('00 00 00 00')), lengthError);
    const dangling = hex('00 00 00 00 08');
    assert.deepEqual(parseModeSelect(exampleLu(), select(dangling.length), dangling), lengthError);
  });
});
