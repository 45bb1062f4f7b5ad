// What the data replication agent's gate costs a transfer.
//
//   npx tsc -p tsconfig.build.json && npm run bench -- datarep-gate
//
// The agent (compiled, from dist/, run inside this process as in the node daemon) serves a share; the
// baseline is the same rsync with the agent's own rsyncd.conf minus the PROXY protocol lines, listening
// on a loopback port of its own: the agent as it was before the gate. Both are pushed to with a stock
// `rsync -a` over loopback, alternating which goes first: 1 GiB in 8 files of 128 MiB, and 10,000
// files of 1-16 KiB in 100 directories. The destination is emptied before every push. Prints the
// medians, their ratio, and the CPU this process (the gate) spent per push.
//
// Environment knobs (all optional):
//   BENCH_ROUNDS  pushes per case and side (default 5)
//   BENCH_TMP     where the trees go (default /dev/shm when it exists, so the disk is not measured)
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, run, startDaemon, stopAll } from './lib/children.mjs';
import { machineFacts } from './lib/machine.mjs';

const dist = (path) => new URL(`../dist/${path}`, import.meta.url).href;
const PASSWORD = 'bench password 1';

async function writeTrees(root) {
  const big = join(root, 'big');
  await mkdir(big, { recursive: true });
  const chunk = randomBytes(1 << 20);
  for (let i = 0; i < 8; i++) {
    // Different bytes per MiB, so nothing repeats block for block; written 1 MiB at a time.
    const file = await open(join(big, `f${i}.bin`), 'w');
    for (let n = 0; n < 128; n++) {
      chunk.writeUInt32LE(n + i * 1000, 0);
      await file.write(chunk);
    }
    await file.close();
  }
  const small = join(root, 'small');
  for (let d = 0; d < 100; d++) {
    await mkdir(join(small, `d${d}`), { recursive: true });
    for (let f = 0; f < 100; f++) {
      await writeFile(
        join(small, `d${d}`, `f${f}`),
        randomBytes(1024 + (((d * 100 + f) * 1499) % (15 * 1024))),
      );
    }
  }
  return { big, small };
}

async function push(source, port) {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const result = await run('rsync', ['-a', `${source}/`, `rsync://alice@127.0.0.1:${port}/office/`], {
    env: { ...process.env, RSYNC_PASSWORD: PASSWORD },
    timeoutMs: 600_000,
  });
  if (result.code !== 0) throw new Error(`rsync exited ${result.code}: ${result.stderr}`);
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - started) / 1000, cpu: (used.user + used.system) / 1e6 };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function main() {
  const { DataReplicationAgent } = await import(dist('datarep/agent/agent.js')).catch(() => {
    throw new Error('dist/ is missing: run `npx tsc -p tsconfig.build.json` first');
  });
  const { createLogger } = await import(dist('observability/logger.js'));
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const tmp = process.env.BENCH_TMP ?? (existsSync('/dev/shm') ? '/dev/shm' : '/var/tmp');
  const root = await mkdtemp(join(tmp, 'tandem-gate-bench-'));
  const agentDir = join(root, 'agent');
  const share = join(root, 'share');
  await mkdir(share);
  const agent = new DataReplicationAgent({
    dir: agentDir,
    logger: createLogger({ destination: new PassThrough().resume() }),
  });
  try {
    const trees = await writeTrees(join(root, 'trees'));
    const agentPort = await freePort();
    await agent.apply({
      enabled: true,
      listen: { port: agentPort, address: '127.0.0.1' },
      allowedHosts: [],
      maxConnections: 10,
      shares: [{ name: 'office', path: share, comment: 'bench', id: 'alice', password: PASSWORD }],
    });
    // The baseline: the agent's config, rsync reached directly.
    const config = (await readFile(join(agentDir, 'rsyncd.conf'), 'utf8'))
      .replace('proxy protocol = yes', 'proxy protocol = no')
      .replace(/^proxy protocol hosts = .*\n/m, '')
      .replaceAll(join(agentDir, 'rsyncd.lock'), join(root, 'baseline.lock'))
      .replaceAll(join(agentDir, 'rsyncd.log'), join(root, 'baseline.log'));
    await writeFile(join(root, 'baseline.conf'), config, { mode: 0o600 });
    const basePort = await freePort();
    startDaemon('rsync (baseline)', 'rsync', [
      '--daemon',
      '--no-detach',
      `--config=${join(root, 'baseline.conf')}`,
      `--port=${basePort}`,
    ]);
    await sleep(500);
    const sides = { gate: agentPort, direct: basePort };
    const results = {};
    for (let round = 0; round < rounds; round++) {
      for (const [workload, source] of Object.entries(trees)) {
        const order = round % 2 === 0 ? ['direct', 'gate'] : ['gate', 'direct'];
        for (const side of order) {
          await rm(share, { recursive: true, force: true });
          await mkdir(share);
          const r = await push(source, sides[side]);
          (results[`${workload} ${side}`] ??= []).push(r);
        }
      }
    }
    const facts = await machineFacts(new URL('..', import.meta.url).pathname);
    process.stdout.write(
      `datarep-gate: ${facts.cores} cores, ${facts.cpuModel}, load ${facts.load}, node ${facts.node}, ` +
        `trees in ${tmp}, ${rounds} rounds\n`,
    );
    for (const workload of Object.keys(trees)) {
      const direct = results[`${workload} direct`];
      const gate = results[`${workload} gate`];
      const d = median(direct.map((r) => r.seconds));
      const g = median(gate.map((r) => r.seconds));
      process.stdout.write(
        `${workload === 'big' ? '1 GiB in 8 files' : '10,000 files of 1-16 KiB'}: ` +
          `rsync direct ${d.toFixed(3)} s, through the gate ${g.toFixed(3)} s, ratio ${(g / d).toFixed(2)}x; ` +
          `gate CPU ${median(gate.map((r) => r.cpu)).toFixed(3)} s per push ` +
          `(direct: ${direct.map((r) => r.seconds.toFixed(2)).join(' ')}; gate: ${gate.map((r) => r.seconds.toFixed(2)).join(' ')})\n`,
      );
    }
  } finally {
    await agent.close();
    await stopAll();
    await rm(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
