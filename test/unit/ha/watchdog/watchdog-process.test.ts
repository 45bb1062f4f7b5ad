// The watchdog as a real process beside a stand-in daemon (test/helpers/fake-vip-daemon.ts) holding a
// loopback virtual IP (a listener on 127.0.0.x, no root needed): the daemon dies with its whole
// process group, is paused, blocks its event loop, or stops cleanly. The iproute2 address in a
// network namespace is test/interop/vip-watchdog.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listenerAt } from '../../../../src/ha/vip/loopback-driver.js';
import { watchdogTiming } from '../../../../src/ha/watchdog/decide.js';
import type { FakeDaemonConfig } from '../../../helpers/fake-vip-daemon.js';
import { processAlive, startFakeDaemon, waitFor } from '../../../helpers/watchdog.js';
import { freePort } from '../../../../src/lib/free-port.js';

const TIMERS = { intervalMs: 500, deadTimeMs: 2500 };
const ALLOWED = watchdogTiming(TIMERS).allowedSilenceMs;
/** The bound of every wait: the dead time, and a margin for a loaded two-core machine. */
const WITHIN_MS = TIMERS.deadTimeMs + 1500;

async function config(): Promise<FakeDaemonConfig> {
  const address = `127.0.${String(100 + Math.floor(Math.random() * 100))}.${String(2 + Math.floor(Math.random() * 250))}`;
  return {
    vip: { address, prefixLength: 8, broadcast: '127.255.255.255', nic: 'lo', port: await freePort(address) },
    driver: 'loopback',
    timers: TIMERS,
  };
}

describe('the virtual IP watchdog process (loopback address)', { timeout: 120_000 }, () => {
  it('kill -9 of the daemon and its whole process group: the watchdog, in its own, does its work and exits', async (t) => {
    const c = await config();
    const daemon = await startFakeDaemon(t, c, undefined, { detached: true });
    assert.ok(await listenerAt(c.vip.address, c.vip.port!, 500));
    assert.ok(processAlive(daemon.watchdogPid));
    const started = performance.now();
    process.kill(-daemon.pid, 'SIGKILL');
    assert.equal((await daemon.exited).signal, 'SIGKILL');
    await waitFor(
      'the watchdog exits',
      () => (processAlive(daemon.watchdogPid) ? undefined : true),
      WITHIN_MS,
    );
    t.diagnostic(`the watchdog was done ${(performance.now() - started).toFixed(0)} ms after the kill`);
    const lines = daemon.watchdogLines();
    assert.equal(lines.length, 1, daemon.log());
    assert.equal(lines[0]?.reason, 'daemon-gone');
    assert.equal(lines[0].daemon, 'already gone');
    assert.equal(await listenerAt(c.vip.address, c.vip.port!, 500), false);
  });

  it('SIGSTOP of the daemon alone: the watchdog kills it after the allowed silence', async (t) => {
    const c = await config();
    const daemon = await startFakeDaemon(t, c);
    const stoppedAt = performance.now();
    process.kill(daemon.pid, 'SIGSTOP');
    const exit = await Promise.race([
      daemon.exited,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), WITHIN_MS)),
    ]);
    const after = performance.now() - stoppedAt;
    assert.ok(exit, `the paused daemon was not killed within ${String(WITHIN_MS)} ms`);
    assert.equal(exit.signal, 'SIGKILL');
    assert.ok(after >= ALLOWED - watchdogTiming(TIMERS).beatEveryMs, `killed after ${String(after)} ms`);
    t.diagnostic(
      `paused daemon killed ${after.toFixed(0)} ms after SIGSTOP (allowed silence ${String(ALLOWED)} ms)`,
    );
    await waitFor(
      'the watchdog exits',
      () => (processAlive(daemon.watchdogPid) ? undefined : true),
      WITHIN_MS,
    );
    const lines = daemon.watchdogLines();
    assert.equal(lines.length, 1, daemon.log());
    assert.equal(lines[0]?.reason, 'daemon-silent');
    assert.equal(lines[0].daemon, 'killed');
    assert.equal(await listenerAt(c.vip.address, c.vip.port!, 500), false);
  });

  it('a blocked event loop (the worker threads may run on): the daemon is killed', async (t) => {
    const c = { ...(await config()), blockMs: 60_000 };
    const daemon = await startFakeDaemon(t, c);
    const blockedAt = performance.now();
    process.kill(daemon.pid, 'SIGUSR1');
    const exit = await Promise.race([
      daemon.exited,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), WITHIN_MS)),
    ]);
    assert.ok(exit, 'the blocked daemon was not killed in time');
    assert.equal(exit.signal, 'SIGKILL');
    t.diagnostic(
      `blocked daemon killed ${(performance.now() - blockedAt).toFixed(0)} ms after the loop blocked`,
    );
    assert.equal(daemon.watchdogLines()[0]?.reason, 'daemon-silent');
  });

  it('a watchdog that dies is started again and told the address again', async (t) => {
    const c = await config();
    const daemon = await startFakeDaemon(t, c);
    process.kill(daemon.watchdogPid, 'SIGKILL');
    const started = (): number[] =>
      daemon
        .log()
        .split('\n')
        .filter((l) => l.includes('virtual IP watchdog started'))
        .map((l) => (JSON.parse(l) as { watchdogPid: number }).watchdogPid);
    const second = await waitFor('a second watchdog', () => started()[1], 15_000);
    t.after(() => {
      if (processAlive(second)) process.kill(second, 'SIGKILL');
    });
    // Give it the moment to be told the address, then let the daemon die.
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(daemon.pid, 'SIGKILL');
    await waitFor('the second watchdog exits', () => (processAlive(second) ? undefined : true), WITHIN_MS);
    const line = daemon
      .log()
      .split('\n')
      .find((l) => l.includes(`"pid":${String(second)},`) && l.includes('daemon-gone'));
    assert.ok(line, daemon.log());
    assert.match(
      line,
      new RegExp(`"address":"${c.vip.address.replaceAll('.', '\\.')}"`),
      'it knew the address',
    );
  });

  it('a clean stop: the watchdog exits and touches nothing', async (t) => {
    const c = await config();
    const daemon = await startFakeDaemon(t, c);
    process.kill(daemon.pid, 'SIGTERM');
    const exit = await daemon.exited;
    assert.equal(exit.code, 0, daemon.log());
    await waitFor(
      'the watchdog exits',
      () => (processAlive(daemon.watchdogPid) ? undefined : true),
      WITHIN_MS,
    );
    assert.deepEqual(daemon.watchdogLines(), [], 'no action taken, nothing logged');
  });
});
