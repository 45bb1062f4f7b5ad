// Failover time: kill -9 of the active node → the first successful I/O through the virtual IP.
//
//   npx tsc -p tsconfig.build.json && npm run bench -- failover
//
// In the namespace lab (test/helpers/netns-lab.ts, needs root and `ip netns`): two daemons in their
// own namespaces, the iproute2 virtual IP driver, heartbeats on the data and the auxiliary link, the
// lab's ping node, and qemu-io in the client namespace. Each run: the client writes a pattern
// through the virtual IP; the active node's daemon is killed with SIGKILL, nothing removed by hand
// (its watchdog gives the virtual IP up); the clock runs until a read of every
// acknowledged pattern through the virtual IP succeeds (a fresh qemu-io every 400 ms, since a connect
// to an address nobody holds hangs). Then the killed node is restarted (it comes back passive), Sync
// volume resyncs it, and the next run kills the other node: every run starts from a healthy pair.
//
// Environment: BENCH_FAILOVER_RUNS (per timer set, default 10); BENCH_FAILOVER_TIMERS, a list of
// interval/dead-time pairs in ms (default "500/2500,200/1000": the product's defaults and the
// shortest the config allows); BENCH_FAILOVER_MODES, "ping-node,witness" by default (witness: an
// etcd in the ping node's namespace holds the active role's lease).
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { machineFacts } from './lib/machine.mjs';
import { keptNotes, NOTES_MARKER } from './lib/results-file.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = fileURLToPath(new URL('../docs/results/failover-bench.md', import.meta.url));
const RUNS = Number(process.env.BENCH_FAILOVER_RUNS ?? 10);
const TIMER_SETS = (process.env.BENCH_FAILOVER_TIMERS ?? '500/2500,200/1000').split(',').map((pair) => {
  const [intervalMs, deadTimeMs] = pair.split('/').map(Number);
  if (!Number.isInteger(intervalMs) || !Number.isInteger(deadTimeMs)) {
    throw new Error(`BENCH_FAILOVER_TIMERS: "${pair}" is not INTERVAL/DEADTIME in ms`);
  }
  return { intervalMs, deadTimeMs };
});
const MODES = (process.env.BENCH_FAILOVER_MODES ?? 'ping-node,witness').split(',');
for (const mode of MODES) {
  if (mode !== 'ping-node' && mode !== 'witness')
    throw new Error(`BENCH_FAILOVER_MODES: unknown mode "${mode}"`);
}
const GOAL_S = 5;
const MiB = 1024 * 1024;

function labAvailable() {
  if (process.getuid?.() !== 0) return 'not root';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    execFileSync('qemu-io', ['--version'], { stdio: 'ignore' });
    return null;
  } catch (error) {
    return `ip netns or qemu-io unavailable: ${error instanceof Error ? error.message : String(error)}`;
  }
}

const hex = (n) => `0x${n.toString(16)}`;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/** The helpers are TypeScript test code; tsx (a dev dependency) loads them without a build step. */
async function loadHelpers() {
  const { tsImport } = await import('tsx/esm/api');
  const pair = await tsImport('../test/interop/failover/pair-in-lab.ts', import.meta.url);
  const etcd = await tsImport('../test/helpers/etcd.ts', import.meta.url);
  return { ...pair, startEtcd: etcd.startEtcd };
}

/** The lab and daemons want a test context only for their teardown: collect it here. */
function teardownContext() {
  const cleanups = [];
  return {
    context: { after: (fn) => cleanups.push(fn) },
    async teardown() {
      for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => undefined);
    },
  };
}

async function benchTimers(helpers, timers, mode) {
  const { startPairInLab, secondsToFirstIo, waitFor, startEtcd } = helpers;
  const { context, teardown } = teardownContext();
  const samples = [];
  try {
    const witness =
      mode === 'witness'
        ? {
            beforeNodes: (lab) => startEtcd(context, { netns: lab.ns.ping, host: lab.addr.data.ping }),
            witness: (lab) => [`http://${lab.addr.data.ping}:2379`],
          }
        : {};
    const pair = await startPairInLab(context, { timers, ...witness });
    const written = new Map();
    const reads = () => [...written].map(([offset, p]) => `read -P ${hex(p)} ${String(offset)} 1M`);
    let active = 'a';
    for (let i = 0; i < RUNS; i++) {
      const passive = active === 'a' ? 'b' : 'a';
      const offset = (i % 32) * MiB;
      const pattern = 0x20 + ((i * 29) % 0xd0);
      const wrote = await pair.clientIo([
        `write -P ${hex(pattern)} ${String(offset)} 1M`,
        `read -P ${hex(pattern)} ${String(offset)} 1M`,
      ]);
      if (!wrote) throw new Error(`run ${String(i + 1)}: the write through the virtual IP failed`);
      written.set(offset, pattern);

      const killedAt = performance.now();
      await pair.kill(active);
      const seconds = await secondsToFirstIo(pair, reads(), killedAt);
      const took = await pair.status(passive);
      const steps = (took.lastTransition?.steps ?? []).map((s) => `${s.step} ${String(s.ms)} ms`).join(', ');
      samples.push({ seconds, steps });
      process.stdout.write(
        `failover ${mode} ${String(timers.intervalMs)}/${String(timers.deadTimeMs)} ms run ${String(i + 1)}: ${seconds.toFixed(2)} s (${active} killed; ${passive}: ${steps})\n`,
      );

      // Back to a healthy pair: the killed node returns passive and resyncs; the roles stay swapped.
      await pair.restart(active);
      await waitFor('the restarted node heard', async () =>
        (await pair.status(passive)).peer.upToDate === false ? true : undefined,
      );
      await pair.call(passive, 'POST', '/api/v1/failover/sync-volume', {});
      await waitFor(
        'the restarted node in sync',
        async () => {
          const [s1, s2] = [await pair.status(passive), await pair.status(active)];
          const tasks = [...s1.tasks, ...s2.tasks];
          const ok =
            s1.state === 'active' &&
            s2.state === 'passive' &&
            s1.peer.upToDate === true &&
            s1.peer.pingNodeReachable === true &&
            tasks.every((t) => t.connection === 'connected' && t.diskState === 'up-to-date');
          return ok ? true : undefined;
        },
        120_000,
      );
      active = passive;
    }
  } finally {
    await teardown();
  }
  return samples;
}

export async function main() {
  const unavailable = labAvailable();
  if (unavailable !== null) {
    process.stdout.write(`failover bench skipped: the namespace lab needs root (${unavailable})\n`);
    return;
  }
  if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('BENCH_FAILOVER_RUNS must be a positive integer');
  const helpers = await loadHelpers();
  const startedAt = new Date();
  const facts = await machineFacts(REPO);
  const rows = [];
  for (const mode of MODES) {
    for (const timers of TIMER_SETS) {
      const samples = await benchTimers(helpers, timers, mode);
      const times = samples.map((s) => s.seconds);
      rows.push({
        mode,
        timers,
        times,
        median: median(times),
        max: Math.max(...times),
        min: Math.min(...times),
      });
    }
  }
  const took = Math.round((Date.now() - startedAt.getTime()) / 1000);
  const table = rows
    .map(
      (r) =>
        `| ${r.mode} | ${String(r.timers.intervalMs)} ms / ${String(r.timers.deadTimeMs)} ms | ${String(r.times.length)} | ${r.median.toFixed(2)} s | ${r.min.toFixed(2)} s | ${r.max.toFixed(2)} s | ${r.median <= GOAL_S ? 'yes' : 'no'} | ${r.times.map((x) => x.toFixed(2)).join(' ')} |`,
    )
    .join('\n');
  const notes = await keptNotes(RESULTS);
  const text = `# Failover time benchmark

Written by \`npm run bench -- failover\` (bench/failover.mjs) on ${startedAt.toISOString()}; the run took
${String(took)} s. ${String(facts.cores)} × ${facts.cpuModel}, commit ${facts.commit}.

Setup: the namespace lab (test/helpers/netns-lab.ts): nodes a and b in their own network namespaces
on a data bridge (198.18.0.0/24) and an auxiliary bridge (198.18.1.0/24), a ping node, a client.
Virtual IP 198.18.0.100/24 with the **iproute2** driver (duplicate-address probe with arping,
\`ip addr add\`, gratuitous ARP); heartbeats on both links; replication (protocol C) of one 64 MiB
volume on the auxiliary link. The client is \`qemu-io\` in the client namespace
(\`iscsi://198.18.0.100/...\`). Each run: write a pattern through the virtual IP, \`kill -9\` the
active node's daemon (nothing removed by hand: its watchdog gives the address up), and time until a
read of every acknowledged pattern through the virtual IP succeeds (a fresh qemu-io every 400 ms,
at most 4 at once, so the figure is within 0.4 s of the truth and includes the I/O itself). Then the
killed node restarts passive, Sync volume resyncs it, and the next run kills the other node.
Mode \`witness\`: an etcd in the ping node's namespace holds the active role's lease (the lease lasts
floor(dead time / 1 s) seconds; the new node takes it once it has expired).

Goal: median ≤ ${String(GOAL_S)} s (keepalived takes about 3.5 s with its default timers).

| mode | heartbeat interval / dead time | runs | median | min | max | median ≤ ${String(GOAL_S)} s | each run |
|---|---|---|---|---|---|---|---|
${table}

${NOTES_MARKER}

${notes}`;
  await writeFile(RESULTS, text.replace(/\n+$/, '\n'));
  for (const r of rows) {
    process.stdout.write(
      `failover ${r.mode} ${String(r.timers.intervalMs)}/${String(r.timers.deadTimeMs)} ms: median ${r.median.toFixed(2)} s, max ${r.max.toFixed(2)} s over ${String(r.times.length)} runs (goal ≤ ${String(GOAL_S)} s)\n`,
    );
  }
  process.stdout.write(`wrote ${RESULTS}\n`);
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) await main();
