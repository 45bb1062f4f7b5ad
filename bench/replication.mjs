// Volume replication benchmark: what protocol C costs a writer, and how fast a resync runs.
//
//   npm run bench -- replication
//
// Two Tandem daemons on this machine (loopback), paired. Node A exports two equal LUNs: `plain` (not
// replicated) and `src` (replicated to node B's `dst`). The same qemu-img bench runs against both in
// the same run, in turns: 4 KiB writes QD32 and 128 KiB writes QD16, write-through (the default: each
// write durable on both nodes before its status) and write-back. Then the task is stopped, 256 MiB are
// written through iSCSI, the task is started again and the resync is timed; the baseline is a plain
// copy of the same bytes with dd (1 MiB blocks, fdatasync at the end) on the same filesystem.
// Writes docs/results/replication-bench.md (the hand-written notes below its marker are kept).
//
// Pinning (default on a machine with 2 or more cores): node A runs on CPU 0, node B and the initiator
// (qemu-img) on CPU 1, in both rows: so each node has a core of its own as on two machines, and the
// unreplicated row runs under the very same pinning (node B idles on the initiator's core). The dd
// baseline is not pinned.
//
// Environment knobs (all optional):
//   BENCH_ROUNDS         measurements per row (default 3); the table shows the median
//   BENCH_WRITE_SECONDS  target duration of each qemu-img bench run (default 4)
//   BENCH_PIN            'A:B:client' CPU lists for taskset (default '0:1:1'); '0' or 'off': no pinning
//   BENCH_ONLY=resync    only the resync row
//   BENCH_ROWS=TEXT      only the write rows whose "label, cache" contains TEXT (e.g. "4 KiB write QD32, write-back")
//   BENCH_RESYNC_MIB     bytes written while disconnected, MiB (default 256)
//   BENCH_RESYNC_FIXED   resync at this fixed rate (bytes/s) instead of the dynamic controller
//   BENCH_NODE_ARGS      extra node flags for both daemons, space separated
//                        (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
//   BENCH_TMP            parent directory of the volumes (default /var/tmp)
//   BENCH_NO_RESULTS=1   do not write docs/results/replication-bench.md
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { runChecked, startDaemon, stopAll, stopChild } from './lib/children.mjs';
import { filesystemOf, machineFacts, processCpuSeconds } from './lib/machine.mjs';
import { pinned } from './lib/pinning.mjs';
import { qemuWriteBench } from './lib/qemu-bench.mjs';
import { keptNotes, NOTES_MARKER } from './lib/results-file.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join(REPO, 'docs', 'results', 'replication-bench.md');
const MiB = 1024 * 1024;
const env = process.env;
const ROUNDS = Math.max(1, Number(env.BENCH_ROUNDS ?? 3));
const WRITE_SECONDS = Number(env.BENCH_WRITE_SECONDS ?? 4);
const ONLY_RESYNC = env.BENCH_ONLY === 'resync';
const ROW_FILTER = env.BENCH_ROWS ?? '';
const RESYNC_MIB = Number(env.BENCH_RESYNC_MIB ?? 256);
const NODE_ARGS = (env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const PIN = pinning(env.BENCH_PIN);
const PASSWORD = randomBytes(12).toString('hex');
const SECRET = randomBytes(24).toString('hex');

const TESTS = [
  { label: '4 KiB write QD32', bytes: 4096, depth: 32 },
  { label: '128 KiB write QD16', bytes: 128 * 1024, depth: 16 },
];

/** CPU lists for node A, node B and the initiator, or undefined each (no pinning). */
function pinning(setting) {
  const unpinned = { a: undefined, b: undefined, client: undefined };
  if (setting === '0' || setting === 'off') return unpinned;
  if (setting === undefined || setting === '') {
    return availableParallelism() >= 2 ? { a: '0', b: '1', client: '1' } : unpinned;
  }
  const [a, b, client] = setting.split(':');
  if (!a || !b || !client || !/^[\d,-]+$/.test(`${a},${b},${client}`)) {
    throw new Error(`BENCH_PIN must look like 0:1:1 (node A : node B : initiator), got ${setting}`);
  }
  return { a, b, client };
}

function pinText() {
  if (PIN.a === undefined) {
    return "Not pinned: both nodes and the initiator share every core, so a replicated write pays for two targets' CPU on the same cores.";
  }
  return (
    `Pinned with taskset: node A on CPU ${PIN.a}, node B on CPU ${PIN.b}, the initiator (qemu-img) on CPU ${PIN.client}, ` +
    "in both rows (in the unreplicated row node B idles on the initiator's core): each node has a core of its " +
    "own, as on two machines, and the initiator takes its CPU from node B's core in both rows."
  );
}

function log(message) {
  process.stderr.write(`[replication-bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function startNode(dir, name, cpus) {
  const [command, args] = pinned(cpus, process.execPath, [
    ...NODE_ARGS,
    join(REPO, 'bin', 'tandem'),
    'serve',
    '--data',
    dir,
    '--api',
    '127.0.0.1:0',
    '--iscsi',
    '127.0.0.1:0',
    '--replication',
    '127.0.0.1:0',
    '--node-name',
    name,
  ]);
  const daemon = startDaemon(name, command, args, {
    cwd: REPO,
    env: { ...env, TANDEM_ADMIN_PASSWORD: PASSWORD },
  });
  const ready = JSON.parse(await daemon.waitForLine(/"msg":"node ready"/, 60_000));
  const call = async (method, path, body) => {
    const response = await globalThis.fetch(`${ready.api}${path}`, {
      method,
      headers: {
        authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${name}: ${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return { daemon, call, portal: ready.iscsiPortal };
}

async function waitInSync(node, task) {
  for (;;) {
    const s = await node.call('GET', `/api/v1/replication/tasks/${task}`);
    if (s.connection === 'connected' && s.outOfSyncBytes === 0 && s.peerDiskState === 'up-to-date') return s;
    await sleep(50);
  }
}

const qemuBench = (url, test, count) => qemuWriteBench(url, test, count, 300_000, PIN.client);

/** A run of about WRITE_SECONDS, with the CPU time each node used during it (µs per write). */
async function calibrated(url, test, nodes) {
  const probeCount = test.bytes >= 65536 ? 300 : 2000;
  const probe = await qemuBench(url, test, probeCount);
  const count = Math.max(probeCount, Math.min(2_000_000, Math.round(probe.iops * WRITE_SECONDS)));
  const before = await Promise.all(nodes.map((n) => processCpuSeconds(n.daemon.child.pid)));
  const figure = await qemuBench(url, test, count);
  const after = await Promise.all(nodes.map((n) => processCpuSeconds(n.daemon.child.pid)));
  return { ...figure, cpuMicros: after.map((t, i) => ((t - before[i]) * 1e6) / count) };
}

const median = (values) => [...values].sort((x, y) => x - y)[Math.floor((values.length - 1) / 2)];

export async function main() {
  const startedAt = new Date();
  const base = env.BENCH_TMP ?? '/var/tmp';
  const tmp = await mkdtemp(join(base, 'tandem-repl-bench-'));
  try {
    const fs = await filesystemOf(tmp);
    const facts = await machineFacts(REPO);
    log(`data in ${tmp} (${fs.type}); ${facts.cores} cores, load ${facts.load}`);
    const a = await startNode(join(tmp, 'a'), 'bench-a', PIN.a);
    const b = await startNode(join(tmp, 'b'), 'bench-b', PIN.b);
    const pa = await a.call('PUT', '/api/v1/replication/pairing', { peerName: 'bench-b', secret: SECRET });
    const pb = await b.call('PUT', '/api/v1/replication/pairing', { peerName: 'bench-a', secret: SECRET });
    const size = '1GiB';
    await a.call('POST', '/api/v1/volumes', { name: 'plain', type: 'iscsi', size });
    await a.call('POST', '/api/v1/volumes', { name: 'src', type: 'iscsi', size, replication: true });
    await b.call('POST', '/api/v1/volumes', { name: 'dst', type: 'iscsi', size, replication: true });
    await b.call('PUT', '/api/v1/volumes/dst/replication', { mode: 'destination', mirrorServer: pa.listen });
    await a.call('PUT', '/api/v1/volumes/src/replication', { mode: 'source', mirrorServer: pb.listen });
    await a.call('POST', '/api/v1/replication/tasks', {
      name: 'bench',
      volume: 'src',
      remoteVolume: 'dst',
      ...(env.BENCH_RESYNC_FIXED
        ? { rate: { mode: 'fixed', bytesPerSecond: Number(env.BENCH_RESYNC_FIXED) } }
        : {}),
    });
    await a.call('POST', '/api/v1/replication/tasks/bench/start');
    await waitInSync(a, 'bench');
    const iqnPlain = 'iqn.2026-11.local.tandem:plain';
    const iqnRepl = 'iqn.2026-11.local.tandem:replicated';
    await a.call('POST', '/api/v1/targets', { iqn: iqnPlain, luns: [{ lun: 0, volume: 'plain' }] });
    await a.call('POST', '/api/v1/targets', { iqn: iqnRepl, luns: [{ lun: 0, volume: 'src' }] });
    await sleep(500);
    const urls = {
      plain: `iscsi://${a.portal}/${iqnPlain}/0`,
      replicated: `iscsi://${a.portal}/${iqnRepl}/0`,
    };
    // Warm-up: allocate both volumes' first blocks and let the JIT compile the paths.
    for (const url of Object.values(urls)) await qemuBench(url, TESTS[0], 5000);

    const rows = [];
    for (const mode of ONLY_RESYNC ? [] : ['write-through', 'write-back']) {
      const wb = mode === 'write-back';
      for (const iqn of [iqnPlain, iqnRepl]) {
        await a.call('PATCH', `/api/v1/targets/${iqn}/luns/0`, { writeBack: wb });
      }
      await sleep(300);
      for (const test of TESTS) {
        if (!`${test.label}, ${mode}`.includes(ROW_FILTER)) continue;
        const figures = { plain: [], replicated: [] };
        for (let round = 0; round < ROUNDS; round++) {
          const order = round % 2 === 0 ? ['plain', 'replicated'] : ['replicated', 'plain'];
          for (const which of order) {
            const figure = await calibrated(urls[which], test, [a, b]);
            figures[which].push(figure);
            log(
              `${test.label}, ${mode}, ${which}, round ${round + 1}: ${figure.mibs.toFixed(1)} MiB/s, ` +
                `CPU µs/write A ${figure.cpuMicros[0].toFixed(0)} B ${figure.cpuMicros[1].toFixed(0)}`,
            );
          }
        }
        const plain = median(figures.plain.map((f) => f.iops));
        const replicated = median(figures.replicated.map((f) => f.iops));
        rows.push({
          test,
          mode,
          plain,
          replicated,
          rounds: figures.replicated.map((f, i) => f.iops / figures.plain[i].iops),
          cpu: {
            plainA: median(figures.plain.map((f) => f.cpuMicros[0])),
            replicatedA: median(figures.replicated.map((f) => f.cpuMicros[0])),
            replicatedB: median(figures.replicated.map((f) => f.cpuMicros[1])),
          },
        });
      }
    }

    // Resync: stop, write RESYNC_MIB through iSCSI, start, time until in sync.
    await a.call('PATCH', `/api/v1/targets/${iqnRepl}/luns/0`, { writeBack: true });
    await a.call('POST', '/api/v1/replication/tasks/bench/stop');
    const count = (RESYNC_MIB * MiB) / (1024 * 1024);
    await runChecked(
      ...pinned(PIN.client, 'qemu-img', [
        'bench',
        '-w',
        '-d',
        '8',
        '-s',
        String(MiB),
        '-c',
        String(count),
        '-t',
        'none',
        '-f',
        'raw',
        '--pattern=90',
        urls.replicated,
      ]),
      { timeoutMs: 300_000 },
    );
    const stopped = await a.call('GET', '/api/v1/replication/tasks/bench');
    // The end is node A's log line (written when both disks are up to date), not a status poll: a poll
    // every few ms would cost node A CPU during the resync it measures, and a slower one blurs the time.
    const finished = a.daemon.waitForLine(/resync finished: both disks up to date/, 300_000);
    const complete = a.daemon.waitForLine(/"msg":"resync complete"/, 300_000);
    const started = performance.now();
    await a.call('POST', '/api/v1/replication/tasks/bench/start');
    await finished;
    const resyncSeconds = (performance.now() - started) / 1000;
    await waitInSync(a, 'bench'); // and the status agrees
    const phases = JSON.parse(await complete);
    if (env.BENCH_DEBUG) log(JSON.stringify(phases));
    const resyncMiBs = stopped.outOfSyncBytes / MiB / resyncSeconds;
    log(
      `resync of ${(stopped.outOfSyncBytes / MiB).toFixed(0)} MiB: ${resyncSeconds.toFixed(2)} s, ${resyncMiBs.toFixed(1)} MiB/s ` +
        `(data ${phases.dataSeconds} s, then the peer's flush until ${phases.seconds} s)`,
    );
    const volume = await a.call('GET', '/api/v1/volumes/src');
    const copyTarget = join(tmp, 'copy.img');
    const copyStart = performance.now();
    await runChecked(
      'dd',
      [
        `if=${volume.path}`,
        `of=${copyTarget}`,
        'bs=1M',
        `count=${RESYNC_MIB}`,
        'conv=fdatasync',
        'status=none',
      ],
      { timeoutMs: 300_000 },
    );
    const copySeconds = (performance.now() - copyStart) / 1000;
    const copyMiBs = RESYNC_MIB / copySeconds;
    log(`plain copy of ${RESYNC_MIB} MiB: ${copySeconds.toFixed(2)} s, ${copyMiBs.toFixed(1)} MiB/s`);

    const table = [
      '| test | cache | unreplicated | replicated (protocol C) | replicated/unreplicated | each round | CPU µs/write: unreplicated A; replicated A + B |',
      '|---|---|---|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| ${r.test.label} | ${r.mode} | ${((r.plain * r.test.bytes) / MiB).toFixed(1)} MiB/s (${(r.plain / 1000).toFixed(1)}k IOPS) | ` +
          `${((r.replicated * r.test.bytes) / MiB).toFixed(1)} MiB/s (${(r.replicated / 1000).toFixed(1)}k IOPS) | ` +
          `${(r.replicated / r.plain).toFixed(2)}x | ${r.rounds.map((x) => x.toFixed(2)).join(' ')} | ` +
          `${r.cpu.plainA.toFixed(0)}; ${r.cpu.replicatedA.toFixed(0)} + ${r.cpu.replicatedB.toFixed(0)} |`,
      ),
      '',
      '| resync | out of sync | time | rate | plain copy (dd, same bytes) | resync/copy | of which: data sent; peer flush done |',
      '|---|---|---|---|---|---|---|',
      `| after ${RESYNC_MIB} MiB written while disconnected | ${(stopped.outOfSyncBytes / MiB).toFixed(0)} MiB | ${resyncSeconds.toFixed(2)} s | ${resyncMiBs.toFixed(1)} MiB/s | ${copyMiBs.toFixed(1)} MiB/s | ${(resyncMiBs / copyMiBs).toFixed(2)}x | ${phases.dataSeconds} s; ${phases.seconds} s |`,
    ].join('\n');
    process.stdout.write(`\n${table}\n\n`);
    if (env.BENCH_NO_RESULTS !== '1') {
      const notes = await keptNotes(RESULTS);
      const seconds = ((Date.now() - startedAt.getTime()) / 1000).toFixed(0);
      const text = `# Volume replication benchmark

Written by \`npm run bench -- replication\` (bench/replication.mjs) on ${startedAt.toISOString()}; the run
took ${seconds} s. Two Tandem daemons on one machine (${facts.cores} × ${facts.cpuModel}, ${fs.type}, load
${facts.load} at start), paired over loopback, commit ${facts.commit}. Node A exports two 1 GiB thin LUNs:
one unreplicated, one replicated with protocol C to node B. \`qemu-img bench -w -t none\` against each,
in turns, ${ROUNDS} rounds (medians shown). Write-through: every write durable on both nodes before its
status (fdatasync on both). The resync row: the task stopped, ${RESYNC_MIB} MiB written through iSCSI, the
task started again, timed from the start request until node A logs both disks up to date (connect,
bitmap exchange, data, the peer's final flush, generations); the baseline copies the same bytes with
\`dd bs=1M conv=fdatasync\` on the same filesystem (not pinned). ${pinText()} The CPU column is the CPU
time (user + system, all threads, /proc/PID/stat) each daemon used during the run, per write.

${table}

${NOTES_MARKER}

${notes}`;
      await mkdir(join(REPO, 'docs', 'results'), { recursive: true });
      await writeFile(RESULTS, text.trimEnd() + '\n');
      log(`wrote ${RESULTS}`);
    }
    await stopChild(a.daemon, 30_000);
    await stopChild(b.daemon, 30_000);
  } finally {
    await stopAll();
    await rm(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((error) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
}
