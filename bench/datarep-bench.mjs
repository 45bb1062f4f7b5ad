// Data replication benchmark: an incremental Tandem task run vs a plain rsync of the same tree.
//
//   npm run bench -- datarep
//
// Two Tandem daemons on this machine (loopback). Node B enables its data replication agent and serves
// three shares of one NAS volume: `tandem` (the task's destination) and two for the baselines: `plain`
// (`rsync -a`) and `same` (rsync with exactly the task's options, from the compiled rsyncArgs: -aHAXS,
// --numeric-ids, --delete, ...). Node A holds a share with a tree of 10,000 files in 100 directories
// (1-16 KiB each, ~80 MiB). A first full sync fills the three destinations. Then, per round, 1% of the
// files (100) are changed, and the task run (via the API: snapshot + rsync + release, until the API
// reports the result) and the two baselines, straight from the live share, are timed, the order rotating
// per round. The table shows the medians and the ratios to both (goal: at most 1.2x; the same-options
// one is the apples-to-apples figure). Snapshot time is measured per mode
// available: `copy` on the bench filesystem, and, with root and mkfs.btrfs, whatever the NAS side picks
// on a btrfs loop filesystem (`btrfs`: NAS volumes there are subvolumes). Set BENCH_BTRFS=0 to skip it.
// Writes docs/results/datarep-bench.md (the hand-written notes below its marker are kept).
//
// Environment knobs (all optional):
//   BENCH_ROUNDS       incremental rounds (default 3); the table shows medians
//   BENCH_FILES        files in the tree (default 10000)
//   BENCH_TMP          parent directory of the data dirs (default /var/tmp)
//   BENCH_BTRFS=0      do not measure the reflink mode on a btrfs loop filesystem
//   BENCH_MODES        only these setups, comma-separated: copy, btrfs (default both)
//   BENCH_NO_RESULTS=1 do not write docs/results/datarep-bench.md
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort, run, runChecked, startDaemon, stopAll } from './lib/children.mjs';
import { filesystemOf, machineFacts } from './lib/machine.mjs';
import { keptNotes, NOTES_MARKER } from './lib/results-file.mjs';

const compiledRsyncCommand = new URL('../dist/datarep/rsync-command.js', import.meta.url);
/** The task's own rsync command line (compiled), so the baseline cannot drift from it. */
const { rsyncArgs } = await import(compiledRsyncCommand.href).catch(() => {
  process.stderr.write('dist/ is missing: run `npx tsc -p tsconfig.build.json` first\n');
  process.exit(1);
});

const REPO = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join(REPO, 'docs', 'results', 'datarep-bench.md');
const env = process.env;
const ROUNDS = Math.max(1, Number(env.BENCH_ROUNDS ?? 3));
const FILES = Math.max(100, Number(env.BENCH_FILES ?? 10_000));
const DIRS = 100;
const CHANGED = Math.max(1, Math.round(FILES / 100));
const ADMIN = randomBytes(12).toString('hex');
const AGENT_PASSWORD = randomBytes(12).toString('hex');

/** A small deterministic generator, so every run builds the same tree. */
function prng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

async function node(name, dir) {
  const daemon = startDaemon(
    name,
    process.execPath,
    [
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
    ],
    { cwd: REPO, env: { ...env, TANDEM_ADMIN_PASSWORD: ADMIN } },
  );
  const ready = JSON.parse(await daemon.waitForLine(/"msg":"node ready"/, 60_000));
  const call = async (method, path, body) => {
    const response = await globalThis.fetch(`${ready.api}${path}`, {
      method,
      headers: {
        authorization: `Basic ${Buffer.from(`admin:${ADMIN}`).toString('base64')}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${name}: ${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return { daemon, call };
}

async function buildTree(root) {
  const random = prng(42);
  for (let d = 0; d < DIRS; d++) {
    const dir = join(root, `dir-${String(d).padStart(3, '0')}`);
    await mkdir(dir, { recursive: true });
    for (let f = d; f < FILES; f += DIRS) {
      await writeFile(
        join(dir, `file-${String(f).padStart(5, '0')}.bin`),
        randomBytes(1024 + Math.floor(random() * 15 * 1024)),
      );
    }
  }
}

const fileOf = (root, f) =>
  join(root, `dir-${String(f % DIRS).padStart(3, '0')}`, `file-${String(f).padStart(5, '0')}.bin`);

/** Rewrites 1% of the files (a different 1% each round): new contents, same size class. */
async function changeOnePercent(root, round) {
  const random = prng(1000 + round);
  const picked = new Set();
  while (picked.size < CHANGED) picked.add(Math.floor(random() * FILES));
  for (const f of picked)
    await writeFile(fileOf(root, f), randomBytes(1024 + Math.floor(random() * 15 * 1024)));
}

/** Runs the task via the API and waits for its result; returns wall seconds and the result. */
async function taskRun(a, name) {
  const started = performance.now();
  const { runId } = await a.call('POST', `/api/v1/datarep/tasks/${name}/run`);
  for (;;) {
    const task = await a.call('GET', `/api/v1/datarep/tasks/${name}`);
    if (task.lastRun?.runId === runId) {
      if (task.lastRun.status !== 'ok') throw new Error(`task run failed: ${task.lastRun.details}`);
      return { seconds: (performance.now() - started) / 1000, result: task.lastRun };
    }
    await sleep(10);
  }
}

async function plainRsync(source, url) {
  return timedRsync(['-a', `${source}/`, url]);
}

/** rsync with the task's options (as the task is set up: --delete, no limit, no compression). */
async function sameOptionsRsync(source, agentPort, module) {
  return timedRsync(
    rsyncArgs(`${source}/`, { host: '127.0.0.1', port: agentPort }, module, `agent-${module}`, {
      deleteExtraneous: true,
      bandwidthLimit: null,
      compress: false,
    }),
  );
}

async function timedRsync(args) {
  const result = await runChecked('rsync', args, {
    env: { PATH: env.PATH, LC_ALL: 'C', RSYNC_PASSWORD: AGENT_PASSWORD },
    timeoutMs: 600_000,
  });
  return result.seconds;
}

/** Snapshot create + delete through the API, timed, on one NAS volume. */
async function snapshotTimes(a, volume, rounds = 3) {
  const create = [];
  const release = [];
  let mode = 'unknown';
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const snap = await a.call('POST', `/api/v1/nas/volumes/${volume}/snapshots`, { name: `bench-${i}` });
    create.push((performance.now() - t0) / 1000);
    mode = snap.mode;
    const t1 = performance.now();
    await a.call('DELETE', `/api/v1/nas/volumes/${volume}/snapshots/bench-${i}`);
    release.push((performance.now() - t1) / 1000);
  }
  return { mode, create: median(create), release: median(release) };
}

/** BENCH_MODES: only these setups (copy, btrfs); all when unset. */
const wanted = (label) => !env.BENCH_MODES || env.BENCH_MODES.split(',').includes(label);

const median = (values) => [...values].sort((x, y) => x - y)[Math.floor((values.length - 1) / 2)];
const secs = (s) => `${s.toFixed(3)} s`;

/** A btrfs filesystem in a loop file, for the reflink mode; null when it cannot be had. */
async function btrfsLoop(base) {
  if (env.BENCH_BTRFS === '0' || process.getuid?.() !== 0) return null;
  const image = join(base, 'btrfs.img');
  const mountPoint = join(base, 'btrfs');
  await mkdir(mountPoint, { recursive: true });
  if ((await run('truncate', ['-s', '8G', image])).code !== 0) return null;
  if ((await run('mkfs.btrfs', ['-q', image])).code !== 0) return null;
  if ((await run('mount', ['-o', 'loop', image, mountPoint])).code !== 0) return null;
  return { mountPoint, release: () => run('umount', [mountPoint]) };
}

/** One source filesystem: full sync, then ROUNDS incremental rounds of task vs plain rsync. */
async function compare(a, setup, agentPort) {
  const share = await a.call('POST', '/api/v1/nas/shares', { name: setup.share, volume: setup.volume });
  process.stdout.write(`datarep bench (${setup.label}): building ${FILES} files in ${share.path}\n`);
  await buildTree(share.path);
  await a.call('POST', '/api/v1/datarep/tasks', {
    name: setup.task,
    sourceShare: setup.share,
    destination: `127.0.0.1:${agentPort}`,
    destinationShare: setup.tandemShare,
    agentId: `agent-${setup.tandemShare}`,
    password: AGENT_PASSWORD,
    delete: true,
  });
  const plainUrl = `rsync://agent-${setup.plainShare}@127.0.0.1:${agentPort}/${setup.plainShare}/`;
  const fullTandem = await taskRun(a, setup.task);
  const fullPlain = await plainRsync(share.path, plainUrl);
  const fullSame = await sameOptionsRsync(share.path, agentPort, setup.sameShare);
  process.stdout.write(
    `full sync: task ${secs(fullTandem.seconds)}, rsync -a ${secs(fullPlain)}, same options ${secs(fullSame)}\n`,
  );
  const tandem = [];
  const plain = [];
  const same = [];
  const phases = { snapshot: [], plan: [], transfer: [], release: [] };
  const kinds = [];
  let mode = 'unknown';
  for (let round = 0; round < ROUNDS; round++) {
    await changeOnePercent(share.path, round);
    const order = ['tandem', 'plain', 'same'];
    for (let k = 0; k < round % order.length; k++) order.push(order.shift());
    for (const which of order) {
      if (which === 'tandem') {
        const r = await taskRun(a, setup.task);
        tandem.push(r.seconds);
        phases.snapshot.push((r.result.snapshot?.createMs ?? NaN) / 1000);
        phases.plan.push((r.result.planMs ?? 0) / 1000);
        phases.transfer.push((r.result.transferMs ?? NaN) / 1000);
        phases.release.push((r.result.releaseMs ?? NaN) / 1000);
        mode = r.result.snapshot?.mode ?? mode;
        const t = r.result.transfer;
        kinds.push(
          t?.kind === 'incremental' ? `changes only (${t.paths} paths)` : `whole tree (${t?.reason ?? '?'})`,
        );
      } else if (which === 'plain') {
        plain.push(await plainRsync(share.path, plainUrl));
      } else {
        same.push(await sameOptionsRsync(share.path, agentPort, setup.sameShare));
      }
    }
    process.stdout.write(
      `round ${round + 1}: task ${secs(tandem.at(-1))}, rsync -a ${secs(plain.at(-1))}, same options ${secs(same.at(-1))}\n`,
    );
  }
  const snapshots = await snapshotTimes(a, setup.volume);
  return {
    label: setup.label,
    fs: setup.fs ?? (await filesystemOf(share.path)).type,
    mode,
    fullTandem: fullTandem.seconds,
    fullPlain,
    fullSame,
    tandem,
    plain,
    same,
    snapshot: median(phases.snapshot),
    plan: median(phases.plan),
    transfer: median(phases.transfer),
    release: median(phases.release),
    snapshots,
    kinds,
  };
}

export async function main() {
  const startedAt = new Date();
  const base = await mkdtemp(join(env.BENCH_TMP ?? '/var/tmp', 'tandem-datarep-bench-'));
  let btrfs = null;
  try {
    const [a, b] = await Promise.all([node('a', join(base, 'a')), node('b', join(base, 'b'))]);
    btrfs = wanted('btrfs') ? await btrfsLoop(base) : null;
    const setups = [
      {
        label: 'copy',
        volume: 'data0',
        share: 'office0',
        task: 'bench0',
        tandemShare: 'tandem0',
        plainShare: 'plain0',
        sameShare: 'same0',
      },
      ...(btrfs
        ? [
            {
              label: 'btrfs',
              volume: 'data1',
              share: 'office1',
              task: 'bench1',
              tandemShare: 'tandem1',
              plainShare: 'plain1',
              sameShare: 'same1',
              pool: 'btrfs',
              fs: 'btrfs (loop file)',
            },
          ]
        : []),
    ].filter((setup) => wanted(setup.label));
    const agentPort = await freePort();
    await b.call('POST', '/api/v1/volumes', { name: 'vault', type: 'nas', size: '8GiB' });
    for (const setup of setups) {
      for (const share of [setup.tandemShare, setup.plainShare, setup.sameShare]) {
        await b.call('POST', '/api/v1/nas/shares', { name: share, volume: 'vault' });
        await b.call('PUT', `/api/v1/nas/shares/${share}/data-replication`, {
          enabled: true,
          id: `agent-${share}`,
          password: AGENT_PASSWORD,
        });
      }
    }
    await b.call('PATCH', '/api/v1/nas/settings', {
      agent: { enabled: true, port: agentPort, address: '127.0.0.1' },
    });
    if (btrfs) await a.call('POST', '/api/v1/pools', { name: 'btrfs', path: join(btrfs.mountPoint, 'pool') });
    const results = [];
    for (const setup of setups) {
      await a.call('POST', '/api/v1/volumes', {
        name: setup.volume,
        type: 'nas',
        size: '2GiB',
        ...(setup.pool ? { pool: setup.pool } : {}),
      });
      results.push(await compare(a, setup, agentPort));
    }

    const facts = await machineFacts(REPO);
    const rsyncVersion = (await run('rsync', ['--version'])).stdout.split('\n')[0].replace(/\s+/g, ' ');
    const lines = [
      '# Data replication benchmark',
      '',
      `Written by \`npm run bench -- datarep\` on ${startedAt.toISOString()} (${facts.commit}); ${facts.cores} cores (${facts.cpuModel}),`,
      `kernel ${facts.kernel}, ${facts.memoryGiB} GiB RAM, load at the end ${facts.load}, Node ${facts.node}, ${rsyncVersion.trim()}.`,
      `Two daemons on loopback; destination: node B's agent (ext4). Tree: ${FILES} files in ${DIRS} directories, 1-16 KiB`,
      `each; each round changes ${CHANGED} files (1%). Medians of ${ROUNDS} rounds; the order of task, \`rsync -a\` and`,
      'same-options rsync rotates per round. "same options" is rsync with exactly the task\'s command line',
      `(\`${rsyncArgs('SRC/', { host: 'HOST', port: 873 }, 'SHARE', 'ID', { deleteExtraneous: true, bandwidthLimit: null, compress: false }).slice(0, -3).join(' ')}\`),`,
      'the apples-to-apples baseline; `rsync -a` is the plain one. Both read the live share (no snapshot).',
      'The task time is wall time from `POST .../run` until `GET .../tasks/NAME` shows the result: snapshot + rsync + release.',
      '',
      '| source filesystem | snapshot mode | run | Tandem task | rsync, same options | ratio | plain `rsync -a` | ratio |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...results.flatMap((r) => {
        const row = (run, task, sameS, plainS, bold) => {
          const ratio = (x) => `${(task / x).toFixed(2)}x`;
          const goal = bold ? ' (goal ≤ 1.2x)' : '';
          return `| ${r.fs} | ${r.mode} | ${run} | ${secs(task)} | ${secs(sameS)} | ${bold ? `**${ratio(sameS)}**${goal}` : ratio(sameS)} | ${secs(plainS)} | ${ratio(plainS)} |`;
        };
        return [
          row('full sync (once)', r.fullTandem, r.fullSame, r.fullPlain, false),
          row('incremental, 1% changed', median(r.tandem), median(r.same), median(r.plain), true),
          row('incremental, the rsync part alone', r.transfer, median(r.same), median(r.plain), false),
        ];
      }),
      '',
      'Where the incremental task time goes (medians, seconds, as the daemon measured them):',
      '',
      '| snapshot mode | snapshot | change list | rsync | release | rest (API, polling, logging) |',
      '| --- | --- | --- | --- | --- | --- |',
      ...results.map(
        (r) =>
          `| ${r.mode} | ${r.snapshot.toFixed(3)} | ${r.plan.toFixed(3)} | ${r.transfer.toFixed(3)} | ${r.release.toFixed(3)} | ${(median(r.tandem) - r.snapshot - r.plan - r.transfer - r.release).toFixed(3)} |`,
      ),
      '',
      '| snapshot mode | filesystem | create (API, median of 3) | delete |',
      '| --- | --- | --- | --- |',
      ...results.map(
        (r) =>
          `| ${r.snapshots.mode} | ${r.fs} | ${secs(r.snapshots.create)} | ${secs(r.snapshots.release)} |`,
      ),
      '',
      ...results.map(
        (r) =>
          `All rounds (${r.mode}): task runs looked at ${[...new Set(r.kinds)].join('; ')}; task ${r.tandem.map((x) => x.toFixed(3)).join(', ')} s; same options ${r.same.map((x) => x.toFixed(3)).join(', ')} s; \`rsync -a\` ${r.plain.map((x) => x.toFixed(3)).join(', ')} s.`,
      ),
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (env.BENCH_NO_RESULTS !== '1') {
      const notes = await keptNotes(RESULTS);
      await writeFile(RESULTS, `${lines.join('\n')}\n${NOTES_MARKER}\n\n${notes}`);
    }
  } finally {
    await stopAll();
    if (btrfs) await btrfs.release();
    await rm(base, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
