// Heartbeat jitter: how steadily beats arrive when the sender's main thread is idle, busy in bursts
// (as under a saturated iSCSI data path), and when the whole machine's CPUs are saturated too.
//
//   npx tsc -p tsconfig.build.json && node bench/heartbeat-jitter.mjs
//
// Two monitors (the compiled dist/ code, each with its worker thread) on 127.0.0.1. Each phase lasts
// one jitter window (120 beats), so the receiver's window holds exactly that phase's samples; the
// figures are |inter-arrival − interval| at the receiver (p50 / p99 / max) and whether the link
// ever went dead. For comparison, the lateness of a plain timer on the busy main thread is shown:
// what a heartbeat kept on the main thread would suffer.
//
// Environment knobs: BENCH_HB_INTERVAL (ms, default 100), BENCH_BUSY_MS / BENCH_IDLE_MS (burst shape,
// default 900 / 100), BENCH_HOGS (CPU-bound processes in the last phase, default: number of CPUs),
// BENCH_NICE=off (only the normal-priority run; by default also with the worker at nice −10).
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/ha/heartbeat/monitor.js', import.meta.url);
if (!existsSync(fileURLToPath(compiled))) {
  process.stderr.write('dist/ is missing: run `npx tsc -p tsconfig.build.json` first\n');
  process.exit(2);
}
const { HeartbeatMonitor } = await import(compiled.href);

const INTERVAL = Number(process.env.BENCH_HB_INTERVAL ?? 100);
const BUSY_MS = Number(process.env.BENCH_BUSY_MS ?? 900);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 100);
const HOGS = Number(process.env.BENCH_HOGS ?? availableParallelism());
// Worker thread priorities to compare: normal, and the default nice -10 (which needs root).
const NICE_VALUES = process.env.BENCH_NICE === 'off' ? [null] : [null, -10];
const WINDOW = 120;
const PHASE_MS = WINDOW * INTERVAL + INTERVAL;
const SECRET = Buffer.from('heartbeat-jitter-bench-secret!!!');

async function freePorts(count) {
  const sockets = Array.from({ length: count }, () => createSocket('udp4'));
  const ports = await Promise.all(
    sockets.map((s) => new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s.address().port)))),
  );
  await Promise.all(sockets.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

function monitor(name, peer, ports, me, them, workerNice) {
  return new HeartbeatMonitor({
    workerNice,
    nodeName: name,
    peerName: peer,
    secret: SECRET,
    intervalMs: INTERVAL,
    deadTimeMs: 5 * INTERVAL,
    links: ['data', 'aux'].map((link, i) => ({
      name: link,
      local: { host: '127.0.0.1', port: ports[me + i] },
      peer: { host: '127.0.0.1', port: ports[them + i] },
    })),
  });
}

/** Runs the main thread flat out in bursts until `until`; returns the worst lateness of a 10 ms timer. */
async function busyBursts(until) {
  let worstLate = 0;
  let expected = performance.now() + 10;
  const timer = setInterval(() => {
    worstLate = Math.max(worstLate, performance.now() - expected);
    expected = performance.now() + 10;
  }, 10);
  while (Date.now() < until) {
    const stop = Date.now() + BUSY_MS;
    while (Date.now() < stop) {
      // spin: the event loop is blocked, as by a saturated data path
    }
    await sleep(IDLE_MS);
  }
  clearInterval(timer);
  return worstLate;
}

const fmt = (value) => (value === null ? '-' : value.toFixed(2));

const worst = (links, pick) => {
  const values = links.map(pick).filter((v) => v !== null);
  return values.length === 0 ? null : Math.max(...values);
};

const hogs = [];
const phases = [
  [
    'idle',
    async (until) => {
      await sleep(until - Date.now());
      return null;
    },
  ],
  [`sender main thread busy ${BUSY_MS}/${BUSY_MS + IDLE_MS} ms`, busyBursts],
  [
    `busy bursts + ${HOGS} CPU hog process(es)`,
    async (until) => {
      for (let i = 0; i < HOGS; i++) {
        hogs.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
      }
      const late = await busyBursts(until);
      for (const hog of hogs.splice(0)) hog.kill('SIGKILL');
      return late;
    },
  ],
];

/** Runs every phase with both workers at this nice value; returns one row per phase. */
async function runWith(nice) {
  const ports = await freePorts(4);
  const sender = monitor('sender', 'receiver', ports, 0, 2, nice);
  const receiver = monitor('receiver', 'sender', ports, 2, 0, nice);
  let phaseRunning = false;
  let everDead;
  receiver.on('change', (s) => {
    if (phaseRunning && s.links.some((l) => !l.alive)) everDead = true;
  });
  const rows = [];
  try {
    await Promise.all([sender.start(), receiver.start()]);
    await sleep(5 * INTERVAL);
    for (const [label, run] of phases) {
      everDead = false;
      phaseRunning = true;
      const mainLate = await run(Date.now() + PHASE_MS);
      phaseRunning = false;
      await sleep(50); // let queued reports arrive
      const links = receiver.snapshot().links;
      rows.push({
        priority: nice === null ? 'normal' : `nice ${nice}`,
        phase: label,
        samples: Math.min(...links.map((l) => l.jitter.samples)),
        p50: fmt(worst(links, (l) => l.jitter.p50)),
        p99: fmt(worst(links, (l) => l.jitter.p99)),
        max: fmt(worst(links, (l) => l.jitter.max)),
        dead: everDead ? 'YES' : 'no',
        mainTimerLate: mainLate === null ? '-' : mainLate.toFixed(0),
      });
    }
  } finally {
    for (const hog of hogs.splice(0)) hog.kill('SIGKILL');
    await Promise.all([sender.stop(), receiver.stop()]);
  }
  return rows;
}

const rows = [];
for (const nice of NICE_VALUES) rows.push(...(await runWith(nice)));

process.stdout.write(
  `heartbeat jitter, interval ${INTERVAL} ms, ${WINDOW}-beat window per phase, worse of the two links, ` +
    `${availableParallelism()} CPU(s), load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} at the end, node ${process.version}\n\n`,
);
process.stdout.write(
  '| worker priority | phase | samples | p50 ms | p99 ms | max ms | went dead | main-thread timer late, ms |\n',
);
process.stdout.write('|---|---|---|---|---|---|---|---|\n');
for (const r of rows) {
  process.stdout.write(
    `| ${r.priority} | ${r.phase} | ${r.samples} | ${r.p50} | ${r.p99} | ${r.max} | ${r.dead} | ${r.mainTimerLate} |\n`,
  );
}
