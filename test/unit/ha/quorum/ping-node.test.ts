import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ProgramResult } from '../../../../src/lib/run-program.js';
import {
  PingNodeChecker,
  interpretPing,
  pingArgs,
  pingOnce,
  type PingRunner,
} from '../../../../src/ha/quorum/ping-node.js';

const result = (code: number, stdout = '', stderr = ''): ProgramResult => ({ code, stdout, stderr });

describe('ping node check', () => {
  it('builds an argument array with the wait and optional source', () => {
    assert.deepEqual(pingArgs({ address: '192.0.2.1' }, 1000), ['-n', '-c', '1', '-W', '1', '192.0.2.1']);
    assert.deepEqual(pingArgs({ address: '192.0.2.1', source: 'eth1' }, 2500), [
      '-n',
      '-c',
      '1',
      '-W',
      '2.5',
      '-I',
      'eth1',
      '192.0.2.1',
    ]);
    assert.deepEqual(pingArgs({ address: 'fe80::1', source: '10.0.0.2' }, 50).slice(3, 5), ['-W', '0.2']);
  });

  it('reads iputils exit codes and keeps the program’s own words', () => {
    assert.deepEqual(interpretPing(result(0, '64 bytes from 127.0.0.1')), { ok: true, error: null });
    assert.deepEqual(
      interpretPing(result(1, 'PING x\n\n--- x ping statistics ---\n1 packets transmitted, 0 received')),
      {
        ok: false,
        error: 'no reply',
      },
    );
    assert.deepEqual(
      interpretPing(result(1, 'PING 198.18.255.254\nFrom 10.0.0.1 icmp_seq=1 Destination Net Unreachable\n')),
      { ok: false, error: 'no reply: From 10.0.0.1 icmp_seq=1 Destination Net Unreachable' },
    );
    assert.deepEqual(interpretPing(result(2, '', 'ping: SO_BINDTODEVICE eth9: No such device\n')), {
      ok: false,
      error: 'ping failed (exit 2): ping: SO_BINDTODEVICE eth9: No such device',
    });
    assert.deepEqual(interpretPing(result(128)), { ok: false, error: 'ping failed (exit 128)' });
  });

  it('reports a runner that cannot start instead of throwing', async () => {
    const broken: PingRunner = () => Promise.reject(new Error('cannot run ping: spawn ping ENOENT'));
    assert.deepEqual(await pingOnce({ address: '192.0.2.1' }, 500, broken), {
      ok: false,
      error: 'cannot run ping: spawn ping ENOENT',
    });
  });

  it('flips reachability with the answers and forgets an answer after the dead time', async () => {
    let now = 0;
    let answer: ProgramResult = result(0);
    const calls: string[][] = [];
    const runner: PingRunner = (args) => {
      calls.push([...args]);
      return Promise.resolve(answer);
    };
    const checker = new PingNodeChecker({
      nodes: [{ address: '192.0.2.1' }, { address: '192.0.2.2', source: 'eth1' }],
      intervalMs: 1000,
      deadTimeMs: 2500,
      monoNow: () => now,
      runner,
    });
    assert.equal(checker.snapshot(now).reachable, false, 'nothing checked yet');
    await checker.checkNow();
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[1], ['-n', '-c', '1', '-W', '1', '-I', 'eth1', '192.0.2.2']);
    let snap = checker.snapshot(now);
    assert.ok(snap.reachable && snap.perNode.every((n) => n.reachable && n.error === null));
    answer = result(1, 'From 192.0.2.9 icmp_seq=1 Destination Host Unreachable');
    now = 2000;
    await checker.checkNow();
    snap = checker.snapshot(now);
    assert.ok(snap.reachable, 'the last success is still within the dead time');
    assert.match(snap.perNode[0]?.error ?? '', /Destination Host Unreachable/);
    now = 2600;
    snap = checker.snapshot(now);
    assert.equal(snap.reachable, false);
    assert.equal(snap.perNode[0]?.lastOkAgoMs, 2600);
  });

  it('never overlaps checks of the same node', async () => {
    let release: (() => void) | undefined;
    let started = 0;
    const runner: PingRunner = () => {
      started++;
      return new Promise((resolve) => (release = () => resolve(result(0))));
    };
    const checker = new PingNodeChecker({
      nodes: [{ address: '192.0.2.1' }],
      intervalMs: 1000,
      deadTimeMs: 2500,
      monoNow: () => 0,
      runner,
    });
    const first = checker.checkNow();
    await checker.checkNow();
    assert.equal(started, 1, 'the second check skipped the node still in flight');
    release?.();
    await first;
    assert.equal(checker.snapshot(0).reachable, true);
  });

  it('pings for real: 127.0.0.1 answers, an unrouted address does not, a bad NIC is an error', async () => {
    assert.deepEqual(await pingOnce({ address: '127.0.0.1' }, 1000), { ok: true, error: null });
    assert.deepEqual(await pingOnce({ address: '127.0.0.1', source: '127.0.0.1' }, 1000), {
      ok: true,
      error: null,
    });
    // 198.18.0.0/15 is reserved for benchmarking and has no route here.
    const unreachable = await pingOnce({ address: '198.18.255.254' }, 500);
    assert.equal(unreachable.ok, false);
    assert.match(unreachable.error ?? '', /^no reply/);
    const badNic = await pingOnce({ address: '127.0.0.1', source: 'no-such-nic0' }, 500);
    assert.equal(badNic.ok, false);
    assert.match(badNic.error ?? '', /^ping failed \(exit 2\): .*no-such-nic0/);
  });
});
