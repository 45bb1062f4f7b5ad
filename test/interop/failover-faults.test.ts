// Faults that used to let two nodes acknowledge writes (issue "Never two writers"), in the namespace
// lab with a real client through the virtual IP and a ledger of every write it saw acknowledged.
//
// A primary frozen with its frames dropped (a paused VM: the daemon stopped, the switch drops its
// traffic) is taken over by the secondary. When it resumes it still has the virtual IP and a client
// whose ARP entry still points at it keeps writing there. Those writes must not be acknowledged: the
// replication link is gone, so the resumed node asks the peer to outdate its copy, the peer answers
// that it is active, and the resumed node gives the role up instead of writing alone.
// Needs root (namespaces, ip addr, raw ARP) and a built dist/.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startEtcd } from '../helpers/etcd.js';
import { sleep, startPairInLab, waitFor, type PairInLab } from './failover/pair-in-lab.js';

const TIMERS = { intervalMs: 500, deadTimeMs: 2500 };
const MiB = 1024 * 1024;

interface Acknowledged {
  readonly offset: number;
  readonly pattern: number;
  readonly phase: string;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/** One 1 MiB write through the virtual IP; recorded only when the client saw it acknowledged. */
async function tryWrite(
  pair: PairInLab,
  ledger: Acknowledged[],
  slot: number,
  phase: string,
  timeoutMs: number,
): Promise<boolean> {
  const offset = slot * MiB;
  const pattern = 0x10 + ((slot * 37) % 0xe0);
  const ok = await pair.clientIo([`write -P ${hex(pattern)} ${String(offset)} 1M`], timeoutMs);
  if (ok) ledger.push({ offset, pattern, phase });
  return ok;
}

async function vipOnlyOn(pair: PairInLab, node: 'a' | 'b'): Promise<true | undefined> {
  const holders = await pair.vipHolders();
  return holders.length === 1 && holders[0] === node ? true : undefined;
}

describe('never two writers (namespace lab, real client)', { timeout: 600_000 }, () => {
  it('a frozen primary that resumes after the take-over acknowledges nothing and gives up the role', async (t) => {
    const pair = await startPairInLab(t, { timers: TIMERS });
    const { lab } = pair;
    const ledger: Acknowledged[] = [];
    if (process.env.TANDEM_TEST_DEBUG) {
      t.after(() => console.log(pair.nodes.a.daemon.output().split('\n').slice(-40).join('\n')));
    }
    let slot = 0;
    for (let i = 0; i < 3; i++) assert.ok(await tryWrite(pair, ledger, slot++, 'before', 10_000));

    // Freeze a: its daemon and its virtual IP watchdog stop (the whole machine pauses: a daemon paused
    // alone would be killed by its watchdog), and the switch drops its frames (its kernel cannot
    // answer ARP).
    const macA = await lab.mac('a', lab.nic.data);
    const pid = pair.nodes.a.daemon.child.pid;
    const watchdogPid = pair.watchdogPid('a');
    assert.ok(pid !== undefined);
    assert.ok(watchdogPid !== undefined, "a's daemon logged its watchdog");
    process.kill(watchdogPid, 'SIGSTOP');
    process.kill(pid, 'SIGSTOP');
    await lab.setLink('a', 'data', 'down');
    await lab.setLink('a', 'aux', 'down');
    let frozen = true;
    t.after(() => {
      if (!frozen) return;
      process.kill(pid, 'SIGCONT');
      process.kill(watchdogPid, 'SIGCONT');
    });

    await waitFor(
      'b takes over',
      async () => ((await pair.status('b')).state === 'active' ? true : undefined),
      30_000,
    );
    // a's kernel still has the address (it is frozen, not gone); only b's is reachable.
    await waitFor(
      'the VIP on b',
      async () => ((await pair.vipHolders()).includes('b') ? true : undefined),
      30_000,
    );
    await waitFor(
      'I/O through the VIP on b',
      async () => ((await tryWrite(pair, ledger, slot++, 'b serves', 5000)) ? true : undefined),
      30_000,
    );
    const termB = (await pair.status('b')).term;

    // The client keeps a's MAC for the virtual IP (a stale ARP entry), then a resumes.
    await lab.execOk('client', [
      'ip',
      'neigh',
      'replace',
      lab.addr.data.vip,
      'lladdr',
      macA,
      'dev',
      lab.nic.data,
      'nud',
      'permanent',
    ]);
    await lab.setLink('a', 'data', 'up');
    await lab.setLink('a', 'aux', 'up');
    process.kill(pid, 'SIGCONT');
    process.kill(watchdogPid, 'SIGCONT');
    frozen = false;
    const resumedAt = performance.now();

    // Four clients write to a through the stale entry until a has given up the virtual IP.
    let attempts = 0;
    const acknowledgedBefore = ledger.length;
    let released = false;
    const writer = async (): Promise<void> => {
      while (!released && performance.now() - resumedAt < 20_000) {
        attempts++;
        await tryWrite(pair, ledger, slot++, 'stale ARP to a', 3000);
      }
    };
    const watcher = async (): Promise<void> => {
      while (performance.now() - resumedAt < 20_000) {
        if ((await pair.vipHolders()).every((holder) => holder !== 'a')) break;
        await sleep(100);
      }
      released = true;
    };
    await Promise.all([watcher(), writer(), writer(), writer(), writer()]);
    const acknowledgedByA = ledger.length - acknowledgedBefore;
    const gaveUpAfter = (performance.now() - resumedAt) / 1000;
    t.diagnostic(
      `a gave up the VIP ${gaveUpAfter.toFixed(1)} s after resuming; ${String(attempts)} writes tried through the stale ARP entry, ${String(acknowledgedByA)} acknowledged`,
    );
    await lab.exec('client', ['ip', 'neigh', 'del', lab.addr.data.vip, 'dev', lab.nic.data]);

    await waitFor('the VIP only on b', () => vipOnlyOn(pair, 'b'), 30_000);
    const [a, b] = [await pair.status('a'), await pair.status('b')];
    assert.equal(b.state, 'active', 'b keeps serving');
    assert.equal(b.term, termB, 'b was never deposed');
    assert.notEqual(a.state, 'active', `a gave up the role (${a.lastDecision?.reason ?? ''})`);

    // Every write the client saw acknowledged, whoever acknowledged it, is on the serving copy.
    const missing: string[] = [];
    for (const write of ledger) {
      const ok = await pair.clientIo([`read -P ${hex(write.pattern)} ${String(write.offset)} 1M`], 10_000);
      if (!ok) missing.push(`${write.phase}: ${hex(write.pattern)} at ${String(write.offset / MiB)} MiB`);
    }
    t.diagnostic(`${String(ledger.length)} acknowledged writes checked on b`);
    assert.deepEqual(missing, [], 'no acknowledged write is lost');
  });
});

describe(
  'never two writers with a witness (namespace lab, etcd on the ping node)',
  { timeout: 600_000 },
  () => {
    it('a cut of both links between the nodes leaves one writer, the lease holder; nothing acknowledged is lost', async (t) => {
      const pair = await startPairInLab(t, {
        timers: TIMERS,
        beforeNodes: async (lab) => {
          await startEtcd(t, { netns: lab.ns.ping, host: lab.addr.data.ping });
        },
        witness: (lab) => [`http://${lab.addr.data.ping}:2379`],
      });
      const { lab } = pair;
      const { data, aux } = lab.addr;
      const ledger: Acknowledged[] = [];
      let slot = 0;
      for (let i = 0; i < 3; i++) assert.ok(await tryWrite(pair, ledger, slot++, 'before', 10_000));
      const a = await pair.status('a');
      assert.deepEqual(a.warnings, [], 'no ping-node-mode warning with a witness');

      // Both links between the nodes cut; each still reaches the ping node (and the witness on it).
      const cut = async (action: 'add' | 'del'): Promise<void> => {
        for (const [node, peer] of [
          ['a', 'b'],
          ['b', 'a'],
        ] as const) {
          for (const address of [data[peer], aux[peer]]) {
            await lab.exec(node, ['ip', 'route', action, 'blackhole', `${address}/32`]);
          }
        }
      };
      await cut('add');
      let healed = false;
      t.after(async () => {
        if (!healed) await cut('del');
      });
      assert.ok(await lab.reaches('a', data.ping), 'a reaches the ping node');
      assert.ok(await lab.reaches('b', data.ping), 'b reaches the ping node');

      // For three dead times: b never serves, the address stays on a alone, and the client's writes
      // (through the virtual IP, to a) go on once a has settled that it may write alone.
      const until = performance.now() + 3 * TIMERS.deadTimeMs + 2000;
      const broken: string[] = [];
      let writesDuringCut = 0;
      while (performance.now() < until) {
        if (await tryWrite(pair, ledger, slot++, 'during the cut', 10_000)) writesDuringCut++;
        const [holders, b] = [await pair.vipHolders(), await pair.status('b')];
        if (holders.length !== 1 || holders[0] !== 'a') broken.push(`VIP held by [${holders.join(', ')}]`);
        if (b.state === 'active' || b.state === 'taking-over') broken.push(`b is ${b.state}`);
      }
      const b = await pair.status('b');
      t.diagnostic(
        `during the cut: ${String(writesDuringCut)} writes acknowledged by a; b: ${b.lastDecision?.reason ?? ''}`,
      );
      assert.deepEqual(broken, [], 'one writer during the cut');
      assert.ok(writesDuringCut > 0, 'the lease holder keeps serving');
      assert.match(pair.nodes.b.daemon.output(), /the witness gives the role to lab-a/);

      // Healed: b resyncs, then takes the service by manual failover and reads every acknowledged write.
      await cut('del');
      healed = true;
      await waitFor(
        'b back in sync',
        async () => {
          const [sa, sb] = [await pair.status('a'), await pair.status('b')];
          const synced = [...sa.tasks, ...sb.tasks].every(
            (task) => task.connection === 'connected' && task.diskState === 'up-to-date',
          );
          return synced && sa.peer.upToDate === true ? true : undefined;
        },
        120_000,
      );
      await pair.call('a', 'POST', '/api/v1/failover/manual-failover', {});
      await waitFor(
        'b serves',
        async () => ((await pair.status('b')).state === 'active' ? true : undefined),
        30_000,
      );
      await waitFor('the VIP on b alone', () => vipOnlyOn(pair, 'b'), 30_000);
      const missing: string[] = [];
      for (const write of ledger) {
        const ok = await pair.clientIo([`read -P ${hex(write.pattern)} ${String(write.offset)} 1M`], 15_000);
        if (!ok) missing.push(`${write.phase}: ${hex(write.pattern)} at ${String(write.offset / MiB)} MiB`);
      }
      t.diagnostic(`${String(ledger.length)} acknowledged writes checked on b after the failover`);
      assert.deepEqual(missing, [], 'no acknowledged write is lost');
    });
  },
);
