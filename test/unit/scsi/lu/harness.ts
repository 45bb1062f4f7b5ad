// Shared pieces for the LU tests: nexuses, CDB builders, a logical unit over a FakeDevice, and
// readers for responses.
import assert from 'node:assert/strict';
import { LogicalUnit, type LogicalUnitSettings } from '../../../../src/scsi/lu/logical-unit.js';
import type { PrStateStore } from '../../../../src/scsi/lu/pr-state.js';
import type { ItNexus, ScsiTaskResponse } from '../../../../src/scsi/lu/scsi-task.js';
import { SENSE_CODES, type SenseCode } from '../../../../src/scsi/sense/sense-reason.js';
import { ScsiStatus } from '../../../../src/scsi/sense/status.js';
import { exampleLu } from '../example-lu.js';
import { FakeDevice } from './fake-device.js';

export const TARGET_PORT = 'iqn.2026-11.local.tandem:v1,t,0x0001';

export const nexus = (name: string, isid = '000000000001'): ItNexus => ({
  initiatorName: `iqn.2026-11.test:${name}`,
  initiatorPort: `iqn.2026-11.test:${name},i,0x${isid}`,
  targetPort: TARGET_PORT,
  relativeTargetPort: 1,
});

export const A = nexus('a');
export const B = nexus('b');
export const C = nexus('c');

export const BLOCK = 512;

export function makeLu(
  options: {
    blocks?: number;
    settings?: Partial<LogicalUnitSettings>;
    store?: PrStateStore;
    thin?: boolean;
  } = {},
): { lu: LogicalUnit; device: FakeDevice } {
  const device = new FakeDevice((options.blocks ?? 2048) * BLOCK);
  const {
    blockSize: _b,
    blockCount: _c,
    writeProtected: _w,
    writeCacheEnabled: _e,
    ...identity
  } = exampleLu({
    thinProvisioned: options.thin ?? true,
  });
  const lu = new LogicalUnit({
    device,
    identity,
    settings: { readOnly: false, writeBack: false, ...options.settings },
    ...(options.store === undefined ? {} : { prStore: options.store }),
  });
  return { lu, device };
}

let tag = 1;

/** Runs a CDB on the LU for a nexus. */
export function run(
  lu: { execute: LogicalUnit['execute'] },
  who: ItNexus,
  cdb: Buffer,
  dataOut?: Buffer,
  lun = 0,
): Promise<ScsiTaskResponse> {
  return lu.execute({
    nexus: who,
    tag: tag++,
    lun,
    cdb,
    attribute: 'simple',
    expectedDataInLength: 1 << 20,
    ...(dataOut === undefined ? {} : { dataOut }),
  });
}

/** Sends TEST UNIT READY until GOOD, as libiscsi does after login. */
export async function clearUnitAttentions(lu: LogicalUnit, who: ItNexus): Promise<void> {
  for (let i = 0; i < 16; i++) {
    const r = await run(lu, who, cdb.testUnitReady());
    if (r.status === ScsiStatus.GOOD) return;
  }
  assert.fail('unit attentions never cleared');
}

export function senseOf(response: ScsiTaskResponse): { code: SenseCode | undefined; information?: number } {
  const sense = response.sense;
  assert.ok(sense !== undefined, `expected sense, got status ${response.status}`);
  const key = (sense[2] ?? 0) & 0x0f;
  const asc = sense[12];
  const ascq = sense[13];
  const code = (Object.keys(SENSE_CODES) as SenseCode[]).find((c) => {
    const spec = SENSE_CODES[c];
    return spec.key === key && spec.asc === asc && spec.ascq === ascq;
  });
  const valid = ((sense[0] ?? 0) & 0x80) !== 0;
  return valid ? { code, information: sense.readUInt32BE(3) } : { code };
}

export function expectGood(response: ScsiTaskResponse): Buffer {
  if (response.status !== ScsiStatus.GOOD) {
    assert.fail(
      `expected GOOD, got ${response.status} ${response.sense === undefined ? '' : String(senseOf(response).code)}`,
    );
  }
  return response.dataIn ?? Buffer.alloc(0);
}

export function expectSense(response: ScsiTaskResponse, code: SenseCode): void {
  assert.equal(response.status, ScsiStatus.CHECK_CONDITION);
  assert.equal(senseOf(response).code, code);
}

export const expectConflict = (response: ScsiTaskResponse): void =>
  assert.equal(response.status, ScsiStatus.RESERVATION_CONFLICT);

const u16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];
const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const u64 = (n: bigint): number[] => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return [...b];
};

/** CDB builders, from the SPC-4 / SBC-3 CDB tables. */
export const cdb = {
  testUnitReady: (): Buffer => Buffer.alloc(6),
  inquiry: (allocation = 255): Buffer => Buffer.from([0x12, 0, 0, ...u16(allocation), 0]),
  requestSense: (allocation = 252): Buffer => Buffer.from([0x03, 0, 0, 0, allocation, 0]),
  reportLuns: (): Buffer => Buffer.from([0xa0, 0, 0, 0, 0, 0, ...u32(4096), 0, 0]),
  readCapacity10: (): Buffer => Buffer.alloc(10).fill(0x25, 0, 1),
  read10: (lba: number, blocks: number, flags = 0): Buffer =>
    Buffer.from([0x28, flags, ...u32(lba), 0, ...u16(blocks), 0]),
  write10: (lba: number, blocks: number, flags = 0): Buffer =>
    Buffer.from([0x2a, flags, ...u32(lba), 0, ...u16(blocks), 0]),
  write16: (lba: bigint, blocks: number, flags = 0): Buffer =>
    Buffer.from([0x8a, flags, ...u64(lba), ...u32(blocks), 0, 0]),
  verify10: (lba: number, blocks: number, bytchk: 0 | 1 | 3): Buffer =>
    Buffer.from([0x2f, bytchk << 1, ...u32(lba), 0, ...u16(blocks), 0]),
  writeAndVerify10: (lba: number, blocks: number): Buffer =>
    Buffer.from([0x2e, 0x02, ...u32(lba), 0, ...u16(blocks), 0]),
  synchronizeCache10: (): Buffer => Buffer.from([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
  writeSame16: (
    lba: bigint,
    blocks: number,
    opts: { unmap?: boolean; ndob?: boolean; anchor?: boolean } = {},
  ): Buffer =>
    Buffer.from([
      0x93,
      (opts.anchor === true ? 0x10 : 0) | (opts.unmap === true ? 0x08 : 0) | (opts.ndob === true ? 0x01 : 0),
      ...u64(lba),
      ...u32(blocks),
      0,
      0,
    ]),
  unmap: (length: number): Buffer => Buffer.from([0x42, 0, 0, 0, 0, 0, 0, ...u16(length), 0]),
  compareAndWrite: (lba: bigint, blocks: number, flags = 0): Buffer =>
    Buffer.from([0x89, flags, ...u64(lba), 0, 0, 0, blocks, 0, 0]),
  getLbaStatus: (lba: bigint, allocation = 4096): Buffer =>
    Buffer.from([0x9e, 0x12, ...u64(lba), ...u32(allocation), 0, 0]),
  modeSense6: (page = 0x3f): Buffer => Buffer.from([0x1a, 0, page, 0, 255, 0]),
  modeSelect6: (length: number): Buffer => Buffer.from([0x15, 0x10, 0, 0, length, 0]),
  reserve6: (): Buffer => Buffer.from([0x16, 0, 0, 0, 0, 0]),
  release6: (): Buffer => Buffer.from([0x17, 0, 0, 0, 0, 0]),
  prIn: (serviceAction: number, allocation = 4096): Buffer =>
    Buffer.from([0x5e, serviceAction, 0, 0, 0, 0, 0, ...u16(allocation), 0]),
  prOut: (serviceAction: number, type: number, length = 24, scope = 0): Buffer =>
    Buffer.from([0x5f, serviceAction, (scope << 4) | type, 0, 0, ...u32(length), 0]),
};

/** The basic PERSISTENT RESERVE OUT parameter list. */
export function prParams(
  key: bigint,
  sark: bigint,
  flags: { allTgPt?: boolean; aptpl?: boolean; specIPt?: boolean } = {},
): Buffer {
  const out = Buffer.alloc(24);
  out.writeBigUInt64BE(key, 0);
  out.writeBigUInt64BE(sark, 8);
  out[20] =
    (flags.specIPt === true ? 0x08 : 0) |
    (flags.allTgPt === true ? 0x04 : 0) |
    (flags.aptpl === true ? 0x01 : 0);
  return out;
}

export const fill = (blocks: number, byte: number): Buffer => Buffer.alloc(blocks * BLOCK, byte);
