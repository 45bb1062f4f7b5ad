import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BlockIoError } from '../../../src/storage/block-device.js';
import { MemoryBlockDevice } from '../../../src/storage/backends/memory-device.js';
import {
  MirrorDevice,
  type PeerDataPath,
  type WriteIntentLog,
} from '../../../src/replication/mirror-device.js';

const SIZE = 1024 * 1024;

/** A write-intent log that records what happened, in order. */
function recordingLog() {
  const events: string[] = [];
  const dirty: [number, number][] = [];
  const log: WriteIntentLog = {
    activate: (offset, length) => {
      events.push(`activate ${offset}+${length}`);
      return undefined;
    },
    release: (offset, length) => events.push(`release ${offset}+${length}`),
    markDirty: (offset, length) => {
      events.push(`dirty ${offset}+${length}`);
      dirty.push([offset, length]);
    },
  };
  return { log, events, dirty };
}

/** A peer backed by its own memory device; `gate` lets a test hold its acknowledgements. */
function fakePeer() {
  const disk = new MemoryBlockDevice(SIZE);
  const state = { fail: false, flushes: 0, held: [] as (() => void)[], hold: false };
  const ack = async (): Promise<void> => {
    if (state.hold) await new Promise<void>((resolve) => state.held.push(resolve));
    if (state.fail) throw new Error('link down');
  };
  const peer: PeerDataPath = {
    write: async (offset, data, fua) => {
      await disk.write(offset, data, { fua });
      await ack();
    },
    discard: async (offset, length) => {
      await disk.discard(offset, length);
      await ack();
    },
    flush: async () => {
      state.flushes++;
      await ack();
    },
  };
  return { peer, disk, state };
}

function mirror(writable = true) {
  const local = new MemoryBlockDevice(SIZE);
  const { log, events, dirty } = recordingLog();
  const lost: string[] = [];
  const device = new MirrorDevice({
    local,
    log,
    peerLost: (reason) => {
      events.push('peer lost');
      lost.push(reason);
      return Promise.resolve();
    },
    writable: () => writable,
  });
  return { device, local, events, dirty, lost };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('MirrorDevice', () => {
  it('completes a write only after both sides have it (protocol C)', async () => {
    const { device, local, events } = mirror();
    const { peer, disk, state } = fakePeer();
    device.attachPeer(peer);
    state.hold = true;
    let done = false;
    const write = device.write(4096, Buffer.alloc(4096, 7)).then(() => (done = true));
    await tick();
    await tick();
    assert.equal(done, false, 'not complete while the peer has not acknowledged');
    assert.deepEqual(await local.read(4096, 4096), Buffer.alloc(4096, 7));
    state.hold = false;
    for (const release of state.held.splice(0)) release();
    await write;
    assert.deepEqual(await disk.read(4096, 4096), Buffer.alloc(4096, 7));
    assert.deepEqual(events, ['activate 4096+4096', 'release 4096+4096']);
  });

  it('sends flushes and FUA to the peer', async () => {
    const { device } = mirror();
    const { peer, state } = fakePeer();
    const fuas: boolean[] = [];
    device.attachPeer({ ...peer, write: (o, d, fua) => (fuas.push(fua), peer.write(o, d, fua)) });
    await device.write(0, Buffer.alloc(512, 1), { fua: true });
    await device.flush();
    assert.deepEqual(fuas, [true]);
    assert.equal(state.flushes, 1);
  });

  it('shares one peer flush between concurrent callers, never one that started before a caller', async () => {
    const { device } = mirror();
    const { peer, state } = fakePeer();
    device.attachPeer(peer);
    state.hold = true;
    const first = device.flush();
    await tick();
    assert.equal(state.flushes, 1);
    // Callers arriving while that flush is in flight may have writes it does not cover: they share
    // the next one, started once it settles.
    const later = [device.flush(), device.flush(), device.flush()];
    await tick();
    assert.equal(state.flushes, 1, 'no second flush while the first is in flight');
    state.hold = false;
    for (const release of state.held.splice(0)) release();
    await first;
    await Promise.all(later);
    assert.equal(state.flushes, 2, 'three callers: one flush after the running one');
  });

  it('a failed peer flush fences the peer and the flush still completes locally', async () => {
    const { device, lost } = mirror();
    const { peer, state } = fakePeer();
    device.attachPeer(peer);
    state.fail = true;
    await Promise.all([device.flush(), device.flush()]);
    assert.equal(lost.length, 1);
    assert.equal(device.connected, false);
  });

  it('marks writes out of sync while the peer is away, and fences once before the first lone write', async () => {
    const { device, events, dirty, lost } = mirror();
    const { peer } = fakePeer();
    device.attachPeer(peer);
    await device.detachPeer('stopped');
    await device.write(8192, Buffer.alloc(1000, 2));
    await device.discard(65536, 4096);
    assert.deepEqual(dirty, [
      [8192, 1000],
      [65536, 4096],
    ]);
    assert.deepEqual(lost, ['stopped']);
    assert.equal(events.indexOf('peer lost') < events.indexOf('dirty 8192+1000'), true);
  });

  it('a peer that fails a write is fenced before the write completes, and the blocks are marked', async () => {
    const { device, events, dirty, lost } = mirror();
    const { peer, state } = fakePeer();
    device.attachPeer(peer);
    state.fail = true;
    await device.write(0, Buffer.alloc(4096, 3));
    assert.deepEqual(dirty, [[0, 4096]]);
    assert.equal(lost.length, 1);
    assert.equal(device.connected, false);
    assert.deepEqual(events.slice(-3), ['dirty 0+4096', 'peer lost', 'release 0+4096']);
    // Later writes do not try the peer again and do not fence again.
    await device.write(4096, Buffer.alloc(4096, 4));
    assert.equal(lost.length, 1);
  });

  it('a refused fencing holds the write unacknowledged, then fails it and every later one', async () => {
    const local = new MemoryBlockDevice(SIZE);
    const { log } = recordingLog();
    let refuse = (): void => undefined;
    const device = new MirrorDevice({
      local,
      log,
      // The engine's peerLost when the peer answered that it serves: it waits for the demotion, then throws.
      peerLost: () =>
        new Promise<void>((_, reject) => {
          refuse = () => reject(new BlockIoError('unavailable', 'gave up the primary role'));
        }),
      writable: () => true,
    });
    const { peer, state } = fakePeer();
    device.attachPeer(peer);
    state.fail = true;
    let settled = false;
    const write = device.write(0, Buffer.alloc(4096, 7)).finally(() => (settled = true));
    const later = device.write(8192, Buffer.alloc(4096, 8));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(settled, false, 'not acknowledged while the fencing is refused');
    refuse();
    await assert.rejects(write, /gave up the primary role/);
    await assert.rejects(later, /gave up the primary role/);
    await assert.rejects(device.write(0, Buffer.alloc(4096, 9)), /gave up the primary role/);

    // A new term as primary starts clean.
    device.forgetLoss();
    const { peer: fresh } = fakePeer();
    device.attachPeer(fresh);
    await device.write(0, Buffer.alloc(4096, 10));
  });

  it('holds a write made without the peer when this node may no longer write alone (witness lease gone)', async () => {
    const local = new MemoryBlockDevice(SIZE);
    const { log } = recordingLog();
    let allowed = true;
    let giveUp = (): void => undefined;
    const suspended = new Promise<never>((_, reject) => {
      giveUp = () => reject(new BlockIoError('unavailable', 'gave up the primary role'));
    });
    suspended.catch(() => undefined);
    const device = new MirrorDevice({
      local,
      log,
      peerLost: () => Promise.resolve(),
      writable: () => true,
      confirmAlone: () => (allowed ? undefined : suspended),
    });
    await device.write(0, Buffer.alloc(4096, 1)); // no peer, lease held: acknowledged
    allowed = false;
    let settled = false;
    const write = device.write(4096, Buffer.alloc(4096, 2)).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(settled, false, 'not acknowledged without the lease');
    giveUp();
    await assert.rejects(write, /gave up the primary role/);

    // With the peer attached, protocol C needs no lease: the peer's acknowledgement is the proof.
    const { peer } = fakePeer();
    device.attachPeer(peer);
    await device.write(8192, Buffer.alloc(4096, 3));
  });

  it('a local failure is reported (MEDIUM ERROR upstairs) and the blocks count as out of sync', async () => {
    const { device, local, dirty } = mirror();
    const { peer } = fakePeer();
    device.attachPeer(peer);
    local.failNext('medium', 'write');
    await assert.rejects(device.write(0, Buffer.alloc(512)), (e: unknown) => e instanceof BlockIoError);
    assert.deepEqual(dirty, [[0, 512]]);
  });

  it('refuses writes on a secondary', async () => {
    const { device } = mirror(false);
    await assert.rejects(
      device.write(0, Buffer.alloc(512)),
      (e: unknown) => e instanceof BlockIoError && e.kind === 'unavailable',
    );
  });

  it('holds application writes while a resync holds their region', async () => {
    const { device } = mirror();
    const release = await device.regions.acquire(0, 65536);
    let done = false;
    const write = device.write(4096, Buffer.alloc(512)).then(() => (done = true));
    await tick();
    await tick();
    assert.equal(done, false);
    release();
    await write;
    assert.equal(done, true);
  });
});
