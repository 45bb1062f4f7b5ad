// Volume replication between two real daemons on loopback, written to through real iSCSI clients.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { openSync, writeSync, closeSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { runOk } from '../../helpers/programs.js';
import { inSync, pair, replicatedPair, sha256OfFile, startNode, task, TASK, waitForTask } from './pair.js';

const MiB = 1024 * 1024;

/** qemu-io commands on an iscsi:// URL (each -c one command), failing the test on error. */
function qemuIo(url: string, commands: string[]): Promise<string> {
  return runOk('qemu-io', ['-f', 'raw', ...commands.flatMap((c) => ['-c', c]), url]);
}

describe('volume replication between two nodes', { concurrency: false }, () => {
  it('mirrors iSCSI writes so both volumes end byte-identical', async (t) => {
    const { a, b, url } = await replicatedPair(t);
    await qemuIo(url, [
      'write -P 0x11 0 1M',
      'write -P 0x22 3M 513k',
      'write -P 0x33 7777k 8k',
      'write -P 0x44 60M 4M',
      'read -P 0x22 3M 513k',
      // One SCSI write larger than one replication message (the target advertises 64 MiB).
      'write -P 0x55 16M 32M',
      'read -P 0x55 16M 32M',
    ]);
    const statusA = await task(a);
    assert.equal(statusA.role, 'primary');
    assert.equal(statusA.outOfSyncBytes, 0);
    assert.equal(statusA.connection, 'connected', 'a large write does not cut the pair');
    assert.equal(statusA.peerDiskState, 'up-to-date');
    assert.doesNotMatch(a.daemon.output(), /WireEncodeError|exceeds the maximum/);
    const statusB = await task(b, `${TASK}_reverse`);
    assert.equal(statusB.role, 'secondary');
    assert.equal(statusB.diskState, 'up-to-date');
    assert.equal(sha256OfFile(await a.imagePath('src')), sha256OfFile(await b.imagePath('dst')));
    // The initial sync of the thin 64 MiB volume sent no zeroes: its unallocated regions went as discards.
    const initial = a.daemon
      .output()
      .split('\n')
      .find((line) => line.includes('"resync complete"'));
    assert.ok(initial);
    assert.equal((JSON.parse(initial) as { sentBytes: number }).sentBytes, 0);
    // Prometheus sees the same state.
    const metrics = await a.call('GET', '/metrics');
    assert.match(String(metrics.body), /tandem_replication_connection\{task="mirror1",state="connected"\} 1/);
    assert.match(String(metrics.body), /tandem_replication_out_of_sync_bytes\{task="mirror1"\} 0/);
  });

  it('after a disconnect resyncs only the regions written meanwhile', async (t) => {
    const { a, b, url } = await replicatedPair(t);
    await a.ok('POST', `/api/v1/replication/tasks/${TASK}/stop`);
    // Scattered writes while the peer is away: 5 regions of 64 KiB.
    await qemuIo(
      url,
      [1, 9, 17, 33, 50].map((m, i) => `write -P 0x${(0x50 + i).toString(16)} ${m}M 64k`),
    );
    const stopped = await task(a);
    assert.equal(stopped.peerDiskState, 'outdated');
    assert.equal(stopped.outOfSyncBytes, 5 * 64 * 1024);
    assert.notEqual(sha256OfFile(await a.imagePath('src')), sha256OfFile(await b.imagePath('dst')));
    await a.ok('POST', `/api/v1/replication/tasks/${TASK}/start`);
    await waitForTask(a, (s) => inSync(s) && s.outOfSyncBytes === 0);
    // What went over the wire: the daemon logs the bytes of each resync.
    const resyncs = a.daemon
      .output()
      .split('\n')
      .filter((line) => line.includes('"resync complete"'))
      .map((line) => JSON.parse(line) as { bytes: number; sentBytes: number });
    const last = resyncs.at(-1);
    assert.ok(last, 'a resync ran');
    assert.equal(last.bytes, 5 * 64 * 1024, 'only the dirty regions were resynced');
    assert.ok(last.sentBytes <= 5 * 64 * 1024);
    assert.equal(sha256OfFile(await a.imagePath('src')), sha256OfFile(await b.imagePath('dst')));
  });

  it('online verify finds a byte flipped on the destination, and the resync repairs it', async (t) => {
    const { a, b, url } = await replicatedPair(t);
    await qemuIo(url, ['write -P 0x66 0 8M']);
    const dstPath = await b.imagePath('dst');
    const fd = openSync(dstPath, 'r+');
    writeSync(fd, Buffer.from([0x99]), 0, 1, 5 * MiB + 123);
    closeSync(fd);
    assert.notEqual(sha256OfFile(await a.imagePath('src')), sha256OfFile(dstPath));
    await a.ok('POST', `/api/v1/replication/tasks/${TASK}/verify`);
    await waitForTask(a, (s) => inSync(s) && s.outOfSyncBytes === 0 && s.connection === 'connected');
    assert.match(a.daemon.output(), /verify: region differs from the peer/);
    assert.equal(sha256OfFile(await a.imagePath('src')), sha256OfFile(dstPath));
  });

  it('refuses a wrong secret, a size mismatch and a destination exported as a LUN, changing nothing', async (t) => {
    // Wrong secret: B was paired with another secret.
    const [a, b] = await Promise.all([startNode(t, 'node-a'), startNode(t, 'node-b')]);
    await pair(a, b, 'not the secret node A was given!!');
    await a.ok('POST', '/api/v1/volumes', { name: 'src', type: 'iscsi', size: '16MiB', replication: true });
    await b.ok('POST', '/api/v1/volumes', { name: 'dst', type: 'iscsi', size: '32MiB', replication: true });
    await b.ok('PUT', '/api/v1/volumes/dst/replication', { mode: 'destination', mirrorServer: a.listen });
    await a.ok('PUT', '/api/v1/volumes/src/replication', { mode: 'source', mirrorServer: b.listen });
    await a.ok('POST', '/api/v1/replication/tasks', { name: TASK, volume: 'src', remoteVolume: 'dst' });
    await a.ok('POST', `/api/v1/replication/tasks/${TASK}/start`);
    const refused = await waitForTask(a, (s) => s.lastError !== null && /auth/.test(s.lastError));
    assert.notEqual(refused.connection, 'connected');
    assert.match(b.daemon.output(), /replication connection refused/);
    assert.equal((await b.call('GET', `/api/v1/replication/tasks/${TASK}_reverse`)).status, 404);

    // Right secret now, but the sizes differ.
    await b.ok('PUT', '/api/v1/replication/pairing', {
      peerName: 'node-a',
      secret: 'a shared secret of the pair, long enough',
    });
    const mismatch = await waitForTask(a, (s) => s.lastError !== null && /size/.test(s.lastError));
    assert.match(mismatch.lastError ?? '', /32 ?MiB|33554432/);
    assert.equal((await b.call('GET', `/api/v1/replication/tasks/${TASK}_reverse`)).status, 404);
    await a.ok('POST', `/api/v1/replication/tasks/${TASK}/stop`);

    // A destination volume cannot be exported, and an exported volume cannot become a destination.
    const mapped = await b.call('POST', '/api/v1/targets', {
      iqn: 'iqn.2026-11.local.tandem:dst',
      luns: [{ lun: 0, volume: 'dst' }],
    });
    assert.equal(mapped.status, 409);
    await b.ok('POST', '/api/v1/volumes', { name: 'other', type: 'iscsi', size: '16MiB', replication: true });
    await b.ok('POST', '/api/v1/targets', {
      iqn: 'iqn.2026-11.local.tandem:other',
      luns: [{ lun: 0, volume: 'other' }],
    });
    const toDestination = await b.call('PUT', '/api/v1/volumes/other/replication', {
      mode: 'destination',
      mirrorServer: a.listen,
    });
    assert.equal(toDestination.status, 409);
    assert.equal((await b.call('GET', '/api/v1/volumes/other/replication')).status, 404);
  });

  it('detects a split brain, refuses to connect, and resolves it by command keeping the victim copy', async (t) => {
    const { a, b, url } = await replicatedPair(t, { size: '32MiB' });
    await qemuIo(url, ['write -P 0x10 0 4M']);
    await a.ok('POST', `/api/v1/replication/tasks/${TASK}/stop`);
    // A writes alone.
    await qemuIo(url, ['write -P 0xaa 1M 64k']);
    // B is promoted (as after a failover) and written to through its own LUN.
    const reverse = `${TASK}_reverse`;
    await b.ok('POST', `/api/v1/replication/tasks/${reverse}/promote`, { force: true });
    await b.ok('POST', '/api/v1/targets', {
      iqn: 'iqn.2026-11.local.tandem:b',
      luns: [{ lun: 0, volume: 'dst' }],
    });
    await qemuIo(`iscsi://${b.daemon.iscsiPortal}/iqn.2026-11.local.tandem:b/0`, ['write -P 0xbb 2M 64k']);
    await b.ok('DELETE', '/api/v1/targets/iqn.2026-11.local.tandem:b');
    await b.ok('POST', `/api/v1/replication/tasks/${reverse}/demote`);

    await a.ok('POST', `/api/v1/replication/tasks/${TASK}/start`);
    const split = await waitForTask(a, (s) => s.connection === 'split-brain');
    assert.match(split.lastError ?? '', /split brain/);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal((await task(a)).connection, 'split-brain', 'it does not resolve itself');

    // B's changes are discarded, after a copy.
    const resolved = await b.ok<{ copy?: string }>(
      'POST',
      `/api/v1/replication/tasks/${reverse}/resolve-split-brain`,
      {
        discard: 'local',
      },
    );
    assert.ok(resolved.copy && existsSync(resolved.copy), 'the victim data was copied');
    const copy = readFileSync(resolved.copy);
    assert.equal(copy[2 * MiB], 0xbb, "the copy holds B's own change");
    await a.ok('POST', `/api/v1/replication/tasks/${TASK}/resolve-split-brain`, { discard: 'peer' });
    await a.ok('POST', `/api/v1/replication/tasks/${TASK}/start`);
    await waitForTask(a, (s) => inSync(s) && s.outOfSyncBytes === 0);
    const dst = await b.imagePath('dst');
    assert.equal(sha256OfFile(await a.imagePath('src')), sha256OfFile(dst));
    assert.ok(readdirSync(dirname(dst)).some((f) => f.includes('split-brain')));
  });
});

describe('volume replication under fire', { concurrency: false }, () => {
  it('every write the initiator saw acknowledged is on the destination when the source is killed', async (t) => {
    const rounds = 3;
    for (let round = 0; round < rounds; round++) {
      const { a, b, url } = await replicatedPair(t, { size: '32MiB' });
      // 256 writes of 64 KiB, each with its own pattern; qemu-io reports each one as it completes.
      const writes = Array.from({ length: 256 }, (_, i) => ({
        offset: ((i * 97) % 512) * 64 * 1024,
        pattern: (i % 250) + 1,
      }));
      const child = spawnQemuIo(
        url,
        writes.map((w) => `write -P ${w.pattern} ${w.offset} 64k`),
      );
      // Kill -9 the source at a random moment while the writes run (after the first has completed).
      const until = Date.now() + 20_000;
      while (!child.output().includes('wrote') && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 150)));
      a.daemon.child.kill('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 300));
      child.kill();
      const output = await child.done;
      const acknowledged = [...output.matchAll(/wrote 65536\/65536 bytes at offset (\d+)/g)].map((m) =>
        Number(m[1]),
      );
      const dst = readFileSync(await b.imagePath('dst'));
      // The last acknowledged pattern at each offset must be on B.
      const expected = new Map<number, number>();
      let n = 0;
      for (const w of writes) {
        if (n >= acknowledged.length) break;
        if (acknowledged[n] !== w.offset) continue;
        expected.set(w.offset, w.pattern);
        n++;
      }
      for (const [offset, pattern] of expected) {
        assert.equal(dst[offset], pattern, `round ${round}: acknowledged write at ${offset} is missing on B`);
        assert.equal(
          dst[offset + 65535],
          pattern,
          `round ${round}: acknowledged write at ${offset} is torn on B`,
        );
      }
      t.diagnostic(`round ${round}: ${acknowledged.length} writes acknowledged before kill -9, all on B`);
    }
  });

  it('kill -9 of the source during heavy writes, restart, reconnect: the volumes end identical', async (t) => {
    const { a, b, url } = await replicatedPair(t, { size: '32MiB' });
    const child = spawnQemuIo(
      url,
      Array.from({ length: 200 }, (_, i) => `write -P ${(i % 200) + 1} ${((i * 131) % 480) * 64}k 64k`),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    a.daemon.child.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.kill();
    await child.done;
    await a.daemon.stop('SIGKILL');
    const again = await startNode(t, 'node-a', a.dataDir);
    // The task was running: it reconnects by itself and resyncs what the activity log says may differ.
    await waitForTask(again, (s) => inSync(s) && s.outOfSyncBytes === 0, 60_000);
    assert.match(again.daemon.output(), /activity log extents marked out of sync/);
    assert.equal(sha256OfFile(await again.imagePath('src')), sha256OfFile(await b.imagePath('dst')));
  });
});

/** qemu-io in the background; after the target dies libiscsi retries forever, so callers kill it. */
function spawnQemuIo(
  url: string,
  commands: string[],
): { done: Promise<string>; kill: () => void; output: () => string } {
  // Line-buffered, so every acknowledgement qemu-io printed is seen even though it is killed.
  const child = spawn('stdbuf', ['-oL', 'qemu-io', '-f', 'raw', ...commands.flatMap((c) => ['-c', c]), url], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return {
    done: new Promise((resolve) => child.on('close', () => resolve(output))),
    kill: () => child.kill('SIGKILL'),
    output: () => output,
  };
}
