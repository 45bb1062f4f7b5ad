// The virtual IP watchdog with the iproute2 driver in the namespace lab: a stand-in daemon
// (test/helpers/fake-vip-daemon.ts, the real watchdog client and an observed Iproute2VipDriver) takes
// 198.18.0.100/24 on node a's data0, then dies (kill -9), is paused (SIGSTOP) or stops cleanly. The
// address must be gone from a's kernel within the dead time (and node b's duplicate-address check
// then finds it free), or, after a clean stop, be left exactly as the daemon left it.
// Needs root (namespaces, ip addr, raw ARP).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Iproute2VipDriver } from '../../src/ha/vip/iproute2-driver.js';
import type { VirtualIp } from '../../src/ha/vip/types.js';
import { watchdogTiming } from '../../src/ha/watchdog/decide.js';
import { createLab, type Lab } from '../helpers/netns-lab.js';
import { processAlive, startFakeDaemon, waitFor, type FakeDaemon } from '../helpers/watchdog.js';

const TIMERS = { intervalMs: 500, deadTimeMs: 2500 };
/** Every wait is bounded by the dead time plus a margin for a loaded two-core machine. */
const WITHIN_MS = TIMERS.deadTimeMs + 1500;

function vipOf(lab: Lab): VirtualIp {
  return {
    address: lab.addr.data.vip,
    prefixLength: lab.addr.data.prefixLength,
    broadcast: lab.addr.data.broadcast,
    nic: lab.nic.data,
  };
}

/** Whether a's data0 carries the address, per `ip -n NS -j addr show`. */
async function boundOnA(lab: Lab): Promise<boolean> {
  const out = await lab.execOk('a', ['ip', '-j', 'addr', 'show', 'dev', lab.nic.data]);
  const links = JSON.parse(out) as { addr_info?: { local?: string }[] }[];
  return links.some((l) => l.addr_info?.some((a) => a.local === lab.addr.data.vip) === true);
}

async function startOnA(
  t: Parameters<typeof startFakeDaemon>[0],
  lab: Lab,
  extra: { keepOnStop?: boolean } = {},
): Promise<FakeDaemon> {
  const daemon = await startFakeDaemon(
    t,
    { vip: vipOf(lab), driver: 'iproute2', timers: TIMERS, ...extra },
    (argv, options) => lab.spawn('a', argv, options),
  );
  assert.equal(await boundOnA(lab), true, 'the daemon took the address');
  // b sees it taken.
  assert.equal(await new Iproute2VipDriver({ run: lab.runner('b') }).inUse(vipOf(lab)), true);
  return daemon;
}

describe('the virtual IP watchdog in the namespace lab (iproute2)', { timeout: 300_000 }, () => {
  it('kill -9 of the daemon: the address leaves its kernel at once, and b may take it', async (t) => {
    const lab = await createLab(t, { verify: false });
    const daemon = await startOnA(t, lab);
    const killedAt = performance.now();
    process.kill(daemon.pid, 'SIGKILL');
    await waitFor(
      'the address gone from a',
      async () => ((await boundOnA(lab)) ? undefined : true),
      WITHIN_MS,
    );
    t.diagnostic(`address gone ${(performance.now() - killedAt).toFixed(0)} ms after kill -9 of the daemon`);
    await waitFor(
      'the watchdog exits',
      () => (processAlive(daemon.watchdogPid) ? undefined : true),
      WITHIN_MS,
    );
    const lines = daemon.watchdogLines();
    assert.equal(lines.length, 1, daemon.log());
    assert.equal(lines[0]?.reason, 'daemon-gone');
    assert.equal(lines[0].removed, true);
    // b's duplicate-address check, intact, finds the address free and takes it.
    const onB = new Iproute2VipDriver({ run: lab.runner('b') });
    assert.equal(await onB.inUse(vipOf(lab)), false);
    await onB.acquire(vipOf(lab));
    assert.equal(await lab.reaches('client', lab.addr.data.vip), true);
  });

  it('SIGSTOP of the daemon alone: killed, and the address removed, after the allowed silence', async (t) => {
    const lab = await createLab(t, { verify: false });
    const daemon = await startOnA(t, lab);
    const stoppedAt = performance.now();
    process.kill(daemon.pid, 'SIGSTOP');
    await waitFor(
      'the address gone from a',
      async () => ((await boundOnA(lab)) ? undefined : true),
      WITHIN_MS,
    );
    const goneAfter = performance.now() - stoppedAt;
    const exit = await Promise.race([
      daemon.exited,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), WITHIN_MS)),
    ]);
    assert.ok(exit, 'the paused daemon was killed');
    assert.equal(exit.signal, 'SIGKILL');
    t.diagnostic(
      `address gone ${goneAfter.toFixed(0)} ms after SIGSTOP (allowed silence ${String(watchdogTiming(TIMERS).allowedSilenceMs)} ms, dead time ${String(TIMERS.deadTimeMs)} ms)`,
    );
    // Not before the allowed silence (less one beat interval: the last beat came before the stop).
    const timing = watchdogTiming(TIMERS);
    assert.ok(
      goneAfter >= timing.allowedSilenceMs - timing.beatEveryMs,
      `gone after ${goneAfter.toFixed(0)} ms`,
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
    assert.equal(lines[0].removed, true);
    assert.equal(await new Iproute2VipDriver({ run: lab.runner('b') }).inUse(vipOf(lab)), false);
  });

  it('a clean stop: the watchdog removes nothing, even an address the daemon left bound', async (t) => {
    const lab = await createLab(t, { verify: false });
    // Releases the address itself, then stops the watchdog: as node.stop() after failover.close().
    const releasing = await startOnA(t, lab);
    process.kill(releasing.pid, 'SIGTERM');
    assert.equal((await releasing.exited).code, 0, releasing.log());
    await waitFor(
      'the watchdog exits',
      () => (processAlive(releasing.watchdogPid) ? undefined : true),
      WITHIN_MS,
    );
    assert.deepEqual(releasing.watchdogLines(), []);
    assert.equal(await boundOnA(lab), false);

    // Stops without releasing: the address must stay, whatever the watchdog's record said.
    const keeping = await startOnA(t, lab, { keepOnStop: true });
    process.kill(keeping.pid, 'SIGTERM');
    assert.equal((await keeping.exited).code, 0, keeping.log());
    await waitFor(
      'the watchdog exits',
      () => (processAlive(keeping.watchdogPid) ? undefined : true),
      WITHIN_MS,
    );
    await new Promise((resolve) => setTimeout(resolve, TIMERS.deadTimeMs));
    assert.deepEqual(keeping.watchdogLines(), []);
    assert.equal(await boundOnA(lab), true, 'the watchdog left the address alone');
  });
});
