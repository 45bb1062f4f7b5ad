// 64 initiators with distinct names and ISIDs log in at once, each writes its own LBA range, reads it
// back, and logs out; the portal's session table follows them up and back down to empty.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ScsiStatus } from '../../../src/scsi/sense/status.js';
import {
  BLOCK,
  eventually,
  read10,
  startPortal,
  TARGET_IQN,
  TestInitiator,
  write10,
  type TestPortal,
} from './harness.js';

const SESSIONS = 64;
const BLOCKS_EACH = 64; // 32 KiB each: immediate data plus R2Ts

describe('iSCSI robustness: concurrent sessions', () => {
  let target: TestPortal;
  before(async () => {
    target = await startPortal({ deviceBytes: SESSIONS * BLOCKS_EACH * BLOCK });
  });
  after(async () => {
    await target.close();
  });

  it(`${SESSIONS} sessions log in, write and read back their own LBA range, and log out`, async () => {
    const initiators = await Promise.all(
      Array.from({ length: SESSIONS }, async (_, i) => {
        const initiator = await TestInitiator.connect(target.port);
        await initiator.login({ initiatorName: `iqn.2026-11.test:host-${i}`, isid: 0x800000000000 + i });
        return initiator;
      }),
    );
    assert.equal(target.portal.sessionsByTarget().get(TARGET_IQN), SESSIONS);

    const payloads = initiators.map(() => randomBytes(BLOCKS_EACH * BLOCK));
    await Promise.all(
      initiators.map(async (initiator, i) => {
        await initiator.testUnitReady();
        const lba = i * BLOCKS_EACH;
        const written = await initiator.command(write10(lba, BLOCKS_EACH), { writeData: payloads[i] });
        assert.equal(written.status, ScsiStatus.GOOD, `session ${i}: WRITE status`);
      }),
    );
    // Read back only after every write landed, so a write into another session's range would show.
    await Promise.all(
      initiators.map(async (initiator, i) => {
        const lba = i * BLOCKS_EACH;
        const read = await initiator.command(read10(lba, BLOCKS_EACH), { readLength: BLOCKS_EACH * BLOCK });
        assert.equal(read.status, ScsiStatus.GOOD, `session ${i}: READ status`);
        assert.ok(read.data.equals(payloads[i]!), `session ${i}: data read back differs`);
      }),
    );
    await Promise.all(initiators.map((initiator) => initiator.logout()));
    await eventually(5000, 'session table empty', () => target.portal.sessionsByTarget().size === 0);
  });
});
