// iSCSI benchmark: Tandem's target against tgt (Debian `tgt`, the baseline in DESIGN.md), same
// clients, same run, equal file-backed LUNs (1 GiB, prefilled with the same bytes, same filesystem).
//
//   node bench/iscsi-vs-tgt.mjs          (or `npm run bench`)
//
// Rows: iscsi-perf 128 KiB sequential read QD32 and 4 KiB random read QD32 (fixed duration),
// qemu-img bench 4 KiB write QD32 and 128 KiB write QD16 (count calibrated to a fixed duration),
// each with the write cache on (Tandem --wb, tgt WCE=1) and off (Tandem write-through, tgt WCE=0,
// which makes tgt's bs_rdwr fdatasync after every write). It prints the figures of both targets and
// the ratio Tandem/tgt, and writes the table to docs/results/iscsi-bench.md.
//
// Environment knobs (all optional):
//   BENCH_READ_SECONDS   duration of each iscsi-perf run (default 10)
//   BENCH_WRITE_SECONDS  target duration of each qemu-img bench run (default 5)
//   BENCH_ROUNDS         measurements per row and target (default 3); the table shows the median
//   BENCH_ONLY           comma list of rows: seq-read-128k,rand-read-4k,write-4k,write-128k
//   BENCH_MODES          comma list of cache modes: wb,wt (default both)
//   BENCH_TANDEM_NODE_ARGS  extra node flags for the Tandem daemon, space separated
//                        (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
//   BENCH_TMP            parent directory of the LUN files (default /var/tmp; tmpfs is refused)
//   BENCH_NO_RESULTS=1   do not write docs/results/iscsi-bench.md
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort, run, runChecked, startDaemon, stopAll, stopChild } from './lib/children.mjs';
import { filesystemOf, machineFacts } from './lib/machine.mjs';
import { qemuWriteBench } from './lib/qemu-bench.mjs';
import { keptNotes, NOTES_MARKER } from './lib/results-file.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join(REPO, 'docs', 'results', 'iscsi-bench.md');
const LUN_BYTES = 2 ** 30;
const TANDEM_IQN = 'iqn.2026-11.local.tandem:bench';
const TGT_IQN = 'iqn.2026-11.local.tgt:bench';
const MiB = 2 ** 20;
const CLOCK_TICKS = 100; // USER_HZ: /proc/PID/stat counts CPU time in 1/100 s on Linux

const TESTS = [
  {
    id: 'seq-read-128k',
    label: '128 KiB seq read QD32 (iscsi-perf)',
    kind: 'read',
    bytes: 128 * 1024,
    depth: 32,
    random: false,
  },
  {
    id: 'rand-read-4k',
    label: '4 KiB random read QD32 (iscsi-perf)',
    kind: 'read',
    bytes: 4096,
    depth: 32,
    random: true,
  },
  { id: 'write-4k', label: '4 KiB write QD32 (qemu-img bench)', kind: 'write', bytes: 4096, depth: 32 },
  {
    id: 'write-128k',
    label: '128 KiB write QD16 (qemu-img bench)',
    kind: 'write',
    bytes: 128 * 1024,
    depth: 16,
  },
];
const MODES = [
  { id: 'wb', label: 'write-back' },
  { id: 'wt', label: 'write-through' },
];

const env = process.env;
const READ_SECONDS = Number(env.BENCH_READ_SECONDS ?? 10);
const ROUNDS = Math.max(1, Number(env.BENCH_ROUNDS ?? 3));
const WRITE_SECONDS = Number(env.BENCH_WRITE_SECONDS ?? 5);
const only = env.BENCH_ONLY ? env.BENCH_ONLY.split(',') : null;
const modeIds = env.BENCH_MODES ? env.BENCH_MODES.split(',') : null;
const tandemNodeArgs = (env.BENCH_TANDEM_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);

function log(message) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// The two targets behind one small interface: url, setWriteCache(on), blockSize.

async function startTandem(dir, pattern) {
  const apiPort = await freePort();
  const iscsiPort = await freePort();
  const daemonEnv = { ...env, TANDEM_ADMIN_PASSWORD: randomBytes(12).toString('hex') };
  const daemon = startDaemon(
    'tandem',
    process.execPath,
    [
      ...tandemNodeArgs,
      join(REPO, 'bin', 'tandem'),
      'serve',
      '--data',
      dir,
      '--api',
      `127.0.0.1:${apiPort}`,
      '--iscsi',
      `127.0.0.1:${iscsiPort}`,
    ],
    { cwd: REPO, env: daemonEnv },
  );
  await daemon.waitForLine(/"msg":"node ready"/, 60_000);
  const cli = (...args) =>
    runChecked(process.execPath, [join(REPO, 'bin', 'tandem'), '--data', dir, ...args], {
      cwd: REPO,
      timeoutMs: 60_000,
    });
  await cli('volume', 'create', 'v1', '--size', '1GiB', '--thick');
  const shown = JSON.parse((await cli('volume', 'show', 'v1', '--json')).stdout);
  const imagePath = shown.path;
  if (typeof imagePath !== 'string') throw new Error(`volume show gave no path: ${JSON.stringify(shown)}`);
  await prefill(imagePath, pattern, false);
  const online = daemon.waitForLine(/LUN online/, 30_000);
  await cli('target', 'create', TANDEM_IQN, '--lun', '0=v1', '--wb');
  await online;
  let writeBack = true;
  return {
    name: 'Tandem',
    daemon,
    imagePath,
    url: `iscsi://127.0.0.1:${iscsiPort}/${TANDEM_IQN}/0`,
    async setWriteCache(on) {
      if (on === writeBack) return; // no change: the LUN is not reopened, so no line to wait for
      writeBack = on;
      const reopened = daemon.waitForLine(/LUN online/, 30_000);
      await cli('target', 'lun', 'set', TANDEM_IQN, '0', '--wb', on ? 'on' : 'off');
      await reopened;
    },
  };
}

/** A tgtd control port whose IPC socket is not taken (another tgtd may run on this host). */
function tgtControlPort() {
  for (;;) {
    const port = randomInt(10_000, 32_768);
    if (!existsSync(`/var/run/tgtd/socket.${port}`)) return port;
  }
}

async function startTgt(dir, pattern) {
  const control = tgtControlPort();
  const portal = await freePort();
  const imagePath = join(dir, 'lun.img');
  await prefill(imagePath, pattern, true);
  const daemon = startDaemon('tgtd', 'tgtd', [
    '-f',
    '-C',
    String(control),
    '--iscsi',
    `portal=127.0.0.1:${portal}`,
  ]);
  const tgtadm = (...args) =>
    runChecked('tgtadm', ['-C', String(control), '--lld', 'iscsi', ...args], { timeoutMs: 30_000 });
  // tgtd has no "ready" line: poll its control socket.
  for (let attempt = 0; ; attempt++) {
    const probe = await run(
      'tgtadm',
      ['-C', String(control), '--lld', 'iscsi', '--op', 'show', '--mode', 'sys'],
      {
        timeoutMs: 10_000,
      },
    );
    if (probe.code === 0) break;
    if (attempt > 100 || daemon.child.exitCode !== null) {
      throw new Error(`tgtd did not come up:\n${daemon.output}\n${probe.stderr}`);
    }
    await sleep(100);
  }
  await tgtadm('--op', 'new', '--mode', 'target', '--tid', '1', '-T', TGT_IQN);
  await tgtadm('--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', '1', '-b', imagePath);
  await tgtadm('--op', 'bind', '--mode', 'target', '--tid', '1', '-I', 'ALL');
  return {
    name: 'tgt',
    daemon,
    imagePath,
    control,
    url: `iscsi://127.0.0.1:${portal}/${TGT_IQN}/1`,
    async setWriteCache(on) {
      // The caching mode page as tgt-admin writes it for `write-cache on|off`: WCE is 0x04 of byte 2.
      const wce = on ? '0x14' : '0x10';
      await tgtadm(
        '--op',
        'update',
        '--mode',
        'logicalunit',
        '--tid',
        '1',
        '--lun',
        '1',
        '--params',
        `mode_page=8:0:18:${wce}:0:0xff:0xff:0:0:0xff:0xff:0xff:0xff:0x80:0x14:0:0:0:0:0:0`,
      );
    },
  };
}

/** Writes the whole file with `pattern` (same bytes on both sides), then fdatasync. */
async function prefill(path, pattern, create) {
  const handle = await open(path, create ? 'w' : 'r+');
  try {
    for (let offset = 0; offset < LUN_BYTES; offset += pattern.length) {
      let done = 0;
      while (done < pattern.length) {
        const { bytesWritten } = await handle.write(pattern, done, pattern.length - done, offset + done);
        done += bytesWritten;
      }
    }
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

async function readCapacity(url) {
  const result = await runChecked('iscsi-readcapacity16', [url], { timeoutMs: 30_000 });
  const blockSize = Number(/LOGICAL BLOCK LENGTH IN BYTES:\s*(\d+)/.exec(result.stdout)?.[1]);
  const lastLba = Number(/RETURNED LOGICAL BLOCK ADDRESS:\s*(\d+)/.exec(result.stdout)?.[1]);
  const total = Number(/Total size:\s*(\d+)/i.exec(result.stdout)?.[1]);
  if (!blockSize) throw new Error(`cannot parse iscsi-readcapacity16 output:\n${result.stdout}`);
  return { blockSize, bytes: Number.isFinite(total) ? total : (lastLba + 1) * blockSize };
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc/PID/stat. */
async function cpuSeconds(pid) {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime (fields 14, 15)
}

/** Runs `body`, adding the target daemon's CPU use during it: % of one core and µs per I/O. */
async function withCpu(target, body) {
  const pid = target.daemon.child.pid;
  const before = await cpuSeconds(pid);
  const started = process.hrtime.bigint();
  const figure = await body();
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = (await cpuSeconds(pid)) - before;
  return { ...figure, cpuPercent: (100 * cpu) / wall, cpuMicrosPerIo: (1e6 * cpu) / figure.ios };
}

// ---------------------------------------------------------------------------------------------
// The clients.

async function iscsiPerf(target, test) {
  const blocks = test.bytes / target.blockSize;
  const args = ['-t', String(READ_SECONDS), '-m', String(test.depth), '-b', String(blocks)];
  if (test.random) args.push('-r');
  args.push(target.url);
  const result = await run('iscsi-perf', args, { timeoutMs: (READ_SECONDS + 20) * 1000 });
  const averages = [...result.stdout.matchAll(/iops average (\d+)/g)];
  const last = averages.at(-1);
  if (!last || (result.code !== 0 && !result.timedOut)) {
    throw new Error(
      `iscsi-perf on ${target.name} failed (${result.code}):\n${result.stderr}${result.stdout}`,
    );
  }
  const iops = Number(last[1]);
  return { iops, ios: iops * READ_SECONDS, mibs: (iops * test.bytes) / MiB, detail: `${READ_SECONDS} s` };
}

function qemuBench(target, test, count) {
  return qemuWriteBench(target.url, test, count, 180_000);
}

/** A short probe run (also a warm-up), then a run sized to take about WRITE_SECONDS. */
async function calibratedWrite(target, test) {
  const probeCount = test.bytes >= 65536 ? 500 : 2000;
  const probe = await qemuBench(target, test, probeCount);
  const count = Math.max(probeCount, Math.min(2_000_000, Math.round(probe.iops * WRITE_SECONDS)));
  const measured = await withCpu(target, () => qemuBench(target, test, count));
  return { ...measured, detail: `${count} writes in ${measured.seconds.toFixed(2)} s` };
}

// ---------------------------------------------------------------------------------------------
// Output.

function formatFigure(figure) {
  const iops = figure.iops >= 1000 ? `${(figure.iops / 1000).toFixed(1)}k` : figure.iops.toFixed(0);
  return `${figure.mibs.toFixed(1)} MiB/s (${iops} IOPS)`;
}

/** The figure with the median IOPS of a row's rounds (the lower middle one for an even count). */
function median(figures) {
  const sorted = [...figures].sort((a, b) => a.iops - b.iops);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

function table(rows) {
  const header = [
    'test',
    'cache',
    'Tandem',
    'tgt',
    'Tandem/tgt',
    'each round',
    'daemon CPU µs/IO, Tandem / tgt',
  ];
  const body = rows.map((r) => {
    const tandem = median(r.tandem);
    const tgt = median(r.tgt);
    return [
      r.test.label,
      r.mode.label,
      formatFigure(tandem),
      formatFigure(tgt),
      `${(tandem.iops / tgt.iops).toFixed(2)}x`,
      r.tandem.map((t, i) => (t.iops / r.tgt[i].iops).toFixed(2)).join(' '),
      `${tandem.cpuMicrosPerIo.toFixed(0)} / ${tgt.cpuMicrosPerIo.toFixed(0)}`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

async function writeResults(rows, facts, fs, capacities, startedAt, seconds) {
  const notes = await keptNotes(RESULTS);
  const text = `# iSCSI benchmark: Tandem against tgt

Written by \`npm run bench\` (bench/iscsi-vs-tgt.mjs) on ${startedAt.toISOString()}; the run took
${seconds.toFixed(0)} s. Both targets ran at the same time on loopback, each with one 1 GiB file-backed
LUN in the same directory, prefilled with the same bytes (so reads hit allocated, page-cached data on
both sides), and the same clients ran against each in turn (which one goes first alternates by row),
after a few seconds of unmeasured warm-up I/O on each. Each row was measured ${ROUNDS} times per target
(the order alternating each time); the table shows the median of each, the ratio of the medians and,
under "each round", the ratio of every round, which shows how much the machine moved meanwhile.

| machine | |
|---|---|
| cores | ${facts.cores} × ${facts.cpuModel} |
| memory | ${facts.memoryGiB} GiB |
| kernel | ${facts.kernel} |
| LUN files | ${fs.type} on ${fs.source} (mounted at ${fs.target}) |
| load average at start | ${facts.load} (other work on the machine shares the cores) |
| Node.js | ${facts.node} |
| Tandem | commit ${facts.commit}, compiled dist/, LUN block size ${capacities.tandem.blockSize} |
| tgt | ${facts.tgtd}, bs_rdwr backing store, LUN block size ${capacities.tgt.blockSize} |
| clients | libiscsi-bin ${facts.libiscsi} (iscsi-perf), ${facts.qemu} |

Write-back: Tandem LUN with \`--wb\`, tgt with WCE=1 (its default). Write-through: Tandem without
\`--wb\` (each write made durable before status, fdatasync group-committed), tgt with the caching mode
page's WCE=0 (\`--params mode_page=8:0:18:0x10:…\`, what tgt-admin's \`write-cache off\` sets; tgt then
fdatasyncs after every write). Reads: \`iscsi-perf -t ${READ_SECONDS} -m 32 -b <blocks> [-r]\`, its final
average. Writes: \`qemu-img bench -w -t none -f raw -d <depth> -s <size> -c <count>\` on an \`iscsi://\`
URL, sequential, count calibrated by a probe run to take about ${WRITE_SECONDS} s; the figure is
count / the elapsed time it prints. The ratio is Tandem/tgt (above 1 means Tandem is faster). The last
column is the CPU time (user + system, all threads, from /proc/PID/stat) the target's process used
during the measured run, divided by the I/Os it served: Tandem is one Node.js process (its JavaScript
runs on one thread), tgtd one process with its I/O threads.

${table(rows)}

${NOTES_MARKER}

${notes}`;
  await mkdir(join(REPO, 'docs', 'results'), { recursive: true });
  await writeFile(RESULTS, text.trimEnd() + '\n');
}

// ---------------------------------------------------------------------------------------------

export async function main() {
  const startedAt = new Date();
  const distMain = join(REPO, 'dist', 'cli', 'main.js');
  if (!existsSync(distMain)) throw new Error('dist/ is missing: run `npm run build` first');
  for (const program of ['tgtd', 'tgtadm', 'iscsi-perf', 'iscsi-readcapacity16', 'qemu-img', 'findmnt']) {
    const found = await run('which', [program], { timeoutMs: 10_000 });
    if (found.code !== 0)
      throw new Error(`${program} is not installed (Debian: tgt, libiscsi-bin, qemu-utils)`);
  }
  const tests = TESTS.filter((t) => !only || only.includes(t.id));
  const modes = MODES.filter((m) => !modeIds || modeIds.includes(m.id));
  if (tests.length === 0 || modes.length === 0) throw new Error('BENCH_ONLY/BENCH_MODES select nothing');

  const base = env.BENCH_TMP ?? '/var/tmp';
  const tmp = await mkdtemp(join(base, 'tandem-bench-'));
  let tgt = null;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await stopAll();
    await rm(tmp, { recursive: true, force: true });
    if (tgt) {
      // tgtd leaves its control socket and lock behind; remove exactly ours.
      await rm(`/var/run/tgtd/socket.${tgt.control}`, { force: true });
      await rm(`/var/run/tgtd/socket.${tgt.control}.lock`, { force: true });
    }
  };
  const onSignal = (signal) => {
    log(`${signal}: stopping`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const fs = await filesystemOf(tmp);
    if (['tmpfs', 'ramfs'].includes(fs.type))
      throw new Error(`${tmp} is on ${fs.type}: fdatasync would be free`);
    const facts = await machineFacts(REPO);
    log(`LUN files in ${tmp} (${fs.type}); ${facts.cores} cores, load ${facts.load}`);

    const pattern = randomBytes(MiB);
    await mkdir(join(tmp, 'tgt'));
    log('prefilling the tgt LUN file and starting tgtd');
    tgt = await startTgt(join(tmp, 'tgt'), pattern);
    log('starting Tandem, creating and prefilling its volume');
    const tandem = await startTandem(join(tmp, 'tandem'), pattern);
    const [tandemFile, tgtFile] = await Promise.all([stat(tandem.imagePath), stat(tgt.imagePath)]);
    if (tandemFile.size !== tgtFile.size) throw new Error('the two LUN files differ in size');
    const capacities = {};
    for (const [key, target] of [
      ['tandem', tandem],
      ['tgt', tgt],
    ]) {
      capacities[key] = await readCapacity(target.url);
      target.blockSize = capacities[key].blockSize;
    }
    if (capacities.tandem.bytes !== capacities.tgt.bytes) {
      throw new Error(`LUN sizes differ: Tandem ${capacities.tandem.bytes}, tgt ${capacities.tgt.bytes}`);
    }
    log(
      `files ${tandemFile.blocks * 512} / ${tgtFile.blocks * 512} bytes allocated; ` +
        `block sizes ${tandem.blockSize} / ${tgt.blockSize}`,
    );

    // Warm-up, not measured: Tandem's JIT compiles its hot paths during the first seconds of I/O
    // (the first sequential read ran at half speed without this); tgt gets the same for symmetry.
    log('warm-up (not measured)');
    for (const target of [tandem, tgt]) {
      await run(
        'iscsi-perf',
        ['-t', '3', '-m', '32', '-b', String(4096 / target.blockSize), '-r', target.url],
        {
          timeoutMs: 30_000,
        },
      );
      await qemuBench(target, TESTS[2], 5000);
    }

    const rows = [];
    let turn = 0;
    for (const mode of modes) {
      await tandem.setWriteCache(mode.id === 'wb');
      await tgt.setWriteCache(mode.id === 'wb');
      for (const test of tests) {
        const row = { test, mode, tandem: [], tgt: [] };
        for (let round = 1; round <= ROUNDS; round++) {
          // Alternate which target goes first, so neither always runs on a warmer or busier machine.
          const order = turn++ % 2 === 0 ? [tandem, tgt] : [tgt, tandem];
          for (const target of order) {
            log(`${test.label}, ${mode.label}, round ${round}/${ROUNDS}: ${target.name}`);
            const figure =
              test.kind === 'read'
                ? await withCpu(target, () => iscsiPerf(target, test))
                : await calibratedWrite(target, test);
            row[target === tandem ? 'tandem' : 'tgt'].push(figure);
            log(
              `  ${formatFigure(figure)} (${figure.detail}); daemon CPU ${figure.cpuPercent.toFixed(0)}% ` +
                `of a core, ${figure.cpuMicrosPerIo.toFixed(0)} µs per I/O`,
            );
          }
        }
        rows.push(row);
      }
    }

    const seconds = (Date.now() - startedAt.getTime()) / 1000;
    process.stdout.write(`\n${table(rows)}\n\n`);
    if (env.BENCH_NO_RESULTS !== '1') {
      await writeResults(rows, facts, fs, capacities, startedAt, seconds);
      log(`wrote ${RESULTS}`);
    }
    await stopChild(tandem.daemon, 30_000); // a graceful stop, so --cpu-prof can write its profile
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
}
