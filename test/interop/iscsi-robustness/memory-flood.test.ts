// Floods of data the target did not ask for must not grow the process without bound. Each flood runs
// for a few seconds as fast as the socket takes it (the sender respects its own socket's backpressure,
// so what piles up in this process is the target's doing), while RSS and heap are sampled; the peak
// growth must stay under a bound far below the bytes sent, and the session must still work after.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { encodePdu } from '../../../src/iscsi/pdu/pdu.js';
import { RESERVED_TAG } from '../../../src/iscsi/pdu/codes.js';
import { lunField } from '../../../src/iscsi/pdu/lun.js';
import { ScsiStatus } from '../../../src/scsi/sense/status.js';
import {
  BLOCK,
  loggedIn,
  padCdb,
  read10,
  sleep,
  startPortal,
  write10,
  type TestInitiator,
  type TestPortal,
} from './harness.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const FLOOD_MS = 3000;
/** A flood goes on past FLOOD_MS until this much is sent (a slow machine), but never past FLOOD_MAX_MS. */
const FLOOD_MAX_MS = 15_000;
const MiB = 1024 * 1024;
/** Peak growth allowed during a flood: generous for V8 and socket buffers, far below what is sent. */
const GROWTH_BOUND = 160 * MiB;
const SEGMENT = 64 * 1024;
const MIN_SENT = 3 * GROWTH_BOUND;

interface Usage {
  rss: number;
  heap: number;
}

function usage(): Usage {
  const u = process.memoryUsage();
  return { rss: u.rss, heap: u.heapUsed + u.external + u.arrayBuffers };
}

/** Sends `next()` PDUs as fast as the socket drains for FLOOD_MS, sampling memory; returns bytes sent and peaks. */
async function flood(
  initiator: TestInitiator,
  next: (i: number) => Buffer,
): Promise<{ sent: number; base: Usage; peak: Usage }> {
  gc();
  const base = usage();
  const peak = { ...base };
  const sampler = setInterval(() => {
    const u = usage();
    peak.rss = Math.max(peak.rss, u.rss);
    peak.heap = Math.max(peak.heap, u.heap);
  }, 50);
  let sent = 0;
  const started = Date.now();
  const going = (): boolean => {
    const elapsed = Date.now() - started;
    return elapsed < FLOOD_MS || (sent < MIN_SENT && elapsed < FLOOD_MAX_MS);
  };
  try {
    for (let i = 0; going(); i++) {
      const bytes = next(i);
      if (!(await initiator.writeRaw(bytes))) break;
      sent += bytes.length;
    }
  } finally {
    clearInterval(sampler);
  }
  const u = usage();
  peak.rss = Math.max(peak.rss, u.rss);
  peak.heap = Math.max(peak.heap, u.heap);
  return { sent, base, peak };
}

function checkBounded(what: string, r: { sent: number; base: Usage; peak: Usage }): void {
  const rss = r.peak.rss - r.base.rss;
  const heap = r.peak.heap - r.base.heap;
  const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;
  const report = `${what}: sent ${mib(r.sent)}, peak growth rss ${mib(rss)}, heap+external ${mib(heap)}`;
  // The flood must be big enough that an unbounded buffer would show.
  assert.ok(r.sent >= MIN_SENT, `${report}: too little sent to judge`);
  assert.ok(rss < GROWTH_BOUND, `${report}: RSS grew past ${mib(GROWTH_BOUND)}`);
  assert.ok(heap < GROWTH_BOUND, `${report}: heap grew past ${mib(GROWTH_BOUND)}`);
}

describe('iSCSI robustness: floods of unsolicited data', () => {
  let target: TestPortal;
  const initiators: TestInitiator[] = [];
  before(async () => {
    target = await startPortal({ deviceBytes: 64 * MiB });
  });
  after(async () => {
    for (const initiator of initiators) initiator.destroy();
    await target.close();
  });

  it('Data-Out for unknown tasks is dropped', async () => {
    const initiator = await loggedIn(target.port, 'iqn.2026-11.test:flood-unknown', 0x400000000101);
    initiators.push(initiator);
    await initiator.testUnitReady();
    const data = Buffer.alloc(SEGMENT, 0xa5);
    const result = await flood(initiator, (i) =>
      encodePdu({
        bhs: {
          kind: 'data-out',
          final: false,
          lun: lunField(0),
          initiatorTaskTag: 0x10000 + (i % 1000),
          targetTransferTag: i % 2 === 0 ? RESERVED_TAG : i,
          expStatSN: initiator.expStatSN,
          dataSN: i,
          bufferOffset: (i * SEGMENT) >>> 0,
        },
        data,
      }),
    );
    checkBounded('Data-Out for unknown tasks', result);
    await initiator.testUnitReady();
  });

  it('Data-Out beyond what a large write asked for is refused, and the write fails', async () => {
    const initiator = await loggedIn(target.port, 'iqn.2026-11.test:flood-write', 0x400000000102);
    initiators.push(initiator);
    await initiator.testUnitReady();
    // WRITE (10) of 32 MiB, EDTL 32 MiB, no immediate data: the target asks for one burst by R2T.
    const blocks = (32 * MiB) / BLOCK;
    const itt = 0x7000;
    await initiator.send({
      bhs: {
        kind: 'scsi-command',
        immediate: false,
        final: true,
        read: false,
        write: true,
        attr: 1,
        lun: lunField(0),
        initiatorTaskTag: itt,
        expectedDataTransferLength: blocks * BLOCK,
        cmdSN: initiator.cmdSN,
        expStatSN: initiator.expStatSN,
        cdb: padCdb(write10(0, 0xffff & blocks)),
      },
    });
    initiator.cmdSN += 1;
    const r2t = await initiator.waitFor((b) => b.kind === 'r2t');
    assert.notEqual(r2t, 'closed');
    const data = Buffer.alloc(SEGMENT, 0x5a);
    // Unsolicited Data-Out (InitialR2T=Yes) at ever larger offsets, then more for the failed task.
    const result = await flood(initiator, (i) =>
      encodePdu({
        bhs: {
          kind: 'data-out',
          final: false,
          lun: lunField(0),
          initiatorTaskTag: itt,
          targetTransferTag: RESERVED_TAG,
          expStatSN: initiator.expStatSN,
          dataSN: i,
          bufferOffset: (i * SEGMENT) % (64 * MiB),
        },
        data,
      }),
    );
    checkBounded('Data-Out flood for a large write', result);
    const status = await initiator.waitFor((b) => b.kind === 'scsi-response' && b.initiatorTaskTag === itt);
    assert.ok(status !== 'closed' && status.bhs.kind === 'scsi-response');
    assert.equal(status.bhs.status, ScsiStatus.CHECK_CONDITION);
    await initiator.testUnitReady();
  });

  it('a flood of NOP-Out pings from an initiator that does not read its answers is bounded', async () => {
    const initiator = await loggedIn(target.port, 'iqn.2026-11.test:flood-ping', 0x400000000103);
    initiators.push(initiator);
    await initiator.testUnitReady();
    // Stop reading: every NOP-Out asks for a NOP-In echoing its 64 KiB, which the target must not
    // queue without limit.
    initiator.socket.pause();
    const data = Buffer.alloc(SEGMENT, 0x3c);
    const sending = flood(initiator, (i) =>
      encodePdu({
        bhs: {
          kind: 'nop-out',
          immediate: true,
          lun: 0n,
          initiatorTaskTag: 0x20000 + i,
          targetTransferTag: RESERVED_TAG,
          cmdSN: initiator.cmdSN,
          expStatSN: initiator.expStatSN,
        },
        data,
      }),
    );
    // A target that stops reading leaves the sender waiting on drain: stop waiting after the flood's
    // time, hang up (which ends the wait) and judge the memory sampled meanwhile.
    const result = await Promise.race([sending, sleep(FLOOD_MS + 2000).then(() => undefined)]);
    initiator.destroy();
    const r = result ?? (await sending);
    const rss = r.peak.rss - r.base.rss;
    const heap = r.peak.heap - r.base.heap;
    const report = `NOP-Out echo flood: sent ${(r.sent / MiB).toFixed(1)} MiB, peak growth rss ${(rss / MiB).toFixed(1)} MiB, heap+external ${(heap / MiB).toFixed(1)} MiB`;
    assert.ok(rss < GROWTH_BOUND && heap < GROWTH_BOUND, report);
    // Either the target stopped reading (backpressure) or it kept up without queueing.
    assert.ok(result === undefined || r.sent >= MIN_SENT, `${report}: neither backpressure nor a full flood`);
  });

  // Reads and unfinished writes each have a per-session budget (session.ts): past it, TASK SET FULL.
  it('immediate READs from an initiator that does not read cannot queue unbounded Data-In', async () => {
    const initiator = await loggedIn(target.port, 'iqn.2026-11.test:read-amp', 0x400000000105);
    initiators.push(initiator);
    await initiator.testUnitReady();
    const blocks = (8 * MiB) / BLOCK;
    // Real data, so the read buffers are resident rather than untouched zero pages.
    const w = await initiator.command(write10(0, blocks), { writeData: Buffer.alloc(8 * MiB, 0x77) });
    assert.equal(w.status, ScsiStatus.GOOD);
    initiator.socket.pause();
    gc();
    const base = usage();
    const peak = { ...base };
    // 48 bytes each: 64 immediate READ (10) of 8 MiB ask for 512 MiB of Data-In.
    const commands = Array.from({ length: 64 }, (_, i) =>
      encodePdu({
        bhs: {
          kind: 'scsi-command',
          immediate: true,
          final: true,
          read: true,
          write: false,
          attr: 1,
          lun: lunField(0),
          initiatorTaskTag: 0x30000 + i,
          expectedDataTransferLength: 8 * MiB,
          cmdSN: initiator.cmdSN,
          expStatSN: initiator.expStatSN,
          cdb: padCdb(read10(0, blocks)),
        },
      }),
    );
    await initiator.writeRaw(Buffer.concat(commands));
    for (let i = 0; i < 40; i++) {
      await sleep(50);
      const u = usage();
      peak.rss = Math.max(peak.rss, u.rss);
      peak.heap = Math.max(peak.heap, u.heap);
    }
    initiator.destroy();
    const growth = Math.max(peak.rss - base.rss, peak.heap - base.heap);
    assert.ok(growth < GROWTH_BOUND, `memory grew ${(growth / MiB).toFixed(1)} MiB`);
  });

  it('many unfinished large writes cannot pin unbounded memory', async () => {
    const initiator = await loggedIn(target.port, 'iqn.2026-11.test:write-pin', 0x400000000106);
    initiators.push(initiator);
    await initiator.testUnitReady();
    gc();
    const base = usage();
    // 40 writes of 8 MiB, each sent all but its last burst: 310 MiB the target must hold or refuse.
    const writes = 40;
    const size = 8 * MiB;
    const data = Buffer.alloc(256 * 1024, 0x42);
    for (let i = 0; i < writes; i++) {
      const itt = 0x50000 + i;
      await initiator.send({
        bhs: {
          kind: 'scsi-command',
          immediate: true,
          final: true,
          read: false,
          write: true,
          attr: 1,
          lun: lunField(0),
          initiatorTaskTag: itt,
          expectedDataTransferLength: size,
          cmdSN: initiator.cmdSN,
          expStatSN: initiator.expStatSN,
          cdb: padCdb(write10(0, size / BLOCK)),
        },
      });
      for (;;) {
        const r2t = await initiator.waitFor(
          (b) => b.kind === 'r2t' || b.kind === 'reject' || b.kind === 'scsi-response',
        );
        if (r2t === 'closed' || r2t.bhs.kind !== 'r2t') break;
        if (r2t.bhs.bufferOffset + r2t.bhs.desiredDataTransferLength >= size) break; // leave the last burst
        for (let at = 0; at < r2t.bhs.desiredDataTransferLength; at += data.length) {
          await initiator.send({
            bhs: {
              kind: 'data-out',
              final: at + data.length >= r2t.bhs.desiredDataTransferLength,
              lun: lunField(0),
              initiatorTaskTag: itt,
              targetTransferTag: r2t.bhs.targetTransferTag,
              expStatSN: initiator.expStatSN,
              dataSN: at / data.length,
              bufferOffset: r2t.bhs.bufferOffset + at,
            },
            data: data.subarray(0, Math.min(data.length, r2t.bhs.desiredDataTransferLength - at)),
          });
        }
      }
    }
    gc();
    const now = usage();
    const growth = Math.max(now.rss - base.rss, now.heap - base.heap);
    initiator.destroy();
    assert.ok(growth < GROWTH_BOUND, `memory grew ${(growth / MiB).toFixed(1)} MiB`);
  });

  it('a large READ stays correct after the floods', async () => {
    const initiator = await loggedIn(target.port, 'iqn.2026-11.test:after-flood', 0x400000000104);
    initiators.push(initiator);
    await initiator.testUnitReady();
    const r = await initiator.command(read10(0, 2048), { readLength: 2048 * BLOCK });
    assert.equal(r.status, ScsiStatus.GOOD);
    assert.equal(r.data.length, 2048 * BLOCK);
    await initiator.logout();
  });
});
