// The witness (src/ha/quorum/witness.ts) against a real etcd started by the test (test/helpers/etcd.ts):
// one holder at a time, release hands the key over at once, a paused holder loses it within the TTL
// and knows so on resuming, a clock jump ends holds() without any event, and etcd going away
// makes acquire() answer 'unreachable' and the holder emit 'lost' once, when its validity runs out.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Witness, type WitnessGrant } from '../../src/ha/quorum/witness.js';
import { leaseTiming } from '../../src/ha/quorum/witness-lease.js';
import type { WitnessPort } from '../../src/ha/quorum/witness-port.js';
import { startEtcd, type Teardown } from '../helpers/etcd.js';

const TTL = 2;
const TIMING = leaseTiming(TTL);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('../helpers/witness-child.ts', import.meta.url));

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Teardown in reverse order of registration: witnesses close before their etcd goes away. */
function lifo(t: TestContext): Teardown {
  const steps: (() => unknown)[] = [];
  t.after(async () => {
    const errors: unknown[] = [];
    for (const step of steps.reverse()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  });
  return { after: (fn) => void steps.push(fn) };
}

let pairs = 0;
const newPairId = (): string => `pair${process.pid}-${++pairs}`;

function makeWitness(
  teardown: Teardown,
  endpoint: string,
  pairId: string,
  nodeName: string,
  now?: () => number,
): Witness {
  const witness = new Witness({
    endpoints: [endpoint],
    pairId,
    nodeName,
    ttlSeconds: TTL,
    logger: quiet,
    ...(now === undefined ? {} : { now }),
  });
  teardown.after(() => witness.close());
  return witness;
}

/** Counts 'lost' events and lets a test wait for the first. */
function watchLost(witness: Witness): {
  readonly reasons: string[];
  first(timeoutMs: number): Promise<string>;
} {
  const reasons: string[] = [];
  const waiters: ((reason: string) => void)[] = [];
  witness.on('lost', (reason: string) => {
    reasons.push(reason);
    for (const wake of waiters.splice(0)) wake(reason);
  });
  return {
    reasons,
    first: (timeoutMs) => {
      if (reasons[0] !== undefined) return Promise.resolve(reasons[0]);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no 'lost' within ${timeoutMs} ms`)), timeoutMs);
        waiters.push((reason) => {
          clearTimeout(timer);
          resolve(reason);
        });
      });
    },
  };
}

/** Calls acquire() until it is granted; resolves with how long that took (ms). */
async function acquireUntilGranted(witness: Witness, timeoutMs: number): Promise<number> {
  const started = performance.now();
  let last: WitnessGrant = { kind: 'unreachable', error: 'not tried' };
  while (performance.now() - started < timeoutMs) {
    last = await witness.acquire();
    if (last.kind === 'granted') return performance.now() - started;
    await sleep(100);
  }
  throw new Error(`not granted within ${timeoutMs} ms; last answer ${JSON.stringify(last)}`);
}

interface ChildLine {
  readonly event: string;
  readonly [key: string]: unknown;
}

/** A witness in its own process (test/helpers/witness-child.ts). */
function startChild(
  teardown: Teardown,
  config: { endpoints: string[]; pairId: string; nodeName: string; ttlSeconds: number },
): { process: ChildProcessWithoutNullStreams; next(event: string, timeoutMs?: number): Promise<ChildLine> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  teardown.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await gone;
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines: ChildLine[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(JSON.parse(line) as ChildLine);
    for (const wake of waiters.splice(0)) wake();
  });
  const next = async (event: string, timeoutMs = 15_000): Promise<ChildLine> => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const index = lines.findIndex((line) => line.event === event);
      if (index >= 0) return lines.splice(index, 1)[0]!;
      const left = deadline - performance.now();
      if (left <= 0 || child.exitCode !== null) {
        throw new Error(`the witness child said no "${event}" (stderr: ${stderr})`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
  return { process: child, next };
}

describe('witness on a real etcd', { timeout: 120_000 }, () => {
  it('grants one node the role, keeps it alive, and hands it over at once on release', async (t) => {
    const teardown = lifo(t);
    const etcd = await startEtcd(teardown);
    const pairId = newPairId();
    const a = makeWitness(teardown, etcd.endpoint, pairId, 'A');
    const b = makeWitness(teardown, etcd.endpoint, pairId, 'B');
    const lostA = watchLost(a);
    const port: WitnessPort = a; // what the failover service takes
    assert.equal(port.holds(), false);
    assert.equal(a.validUntil(), 0);
    assert.equal(await a.holder(), null);

    const before = performance.now();
    assert.deepEqual(await a.acquire(), { kind: 'granted' });
    assert.equal(a.holds(), true);
    const firstValidity = a.validUntil();
    assert.ok(firstValidity > before, 'valid from the grant on');
    assert.ok(firstValidity <= before + TIMING.ttlMs - TIMING.marginMs + 50, `validity ${firstValidity}`);
    assert.deepEqual(await b.acquire(), { kind: 'held-by-peer', holder: 'A' });
    assert.equal(b.holds(), false);
    assert.equal(await b.holder(), 'A');
    assert.equal(await a.holder(), 'A');
    assert.deepEqual(await a.acquire(), { kind: 'granted' }, 'acquiring again while holding is granted');

    // Keepalives carry the lease well past its TTL, and move the validity on.
    await sleep(TIMING.ttlMs + 1500);
    assert.equal(a.holds(), true);
    assert.ok(a.validUntil() > firstValidity + 1000, 'keepalives extended the validity');
    assert.ok(a.validUntil() <= performance.now() + TIMING.ttlMs - TIMING.marginMs);
    assert.deepEqual(await b.acquire(), { kind: 'held-by-peer', holder: 'A' });

    await a.release();
    assert.equal(a.holds(), false);
    assert.equal(a.validUntil(), 0);
    const handover = performance.now();
    assert.deepEqual(await b.acquire(), { kind: 'granted' });
    assert.ok(performance.now() - handover < 1000, 'granted at once after the release');
    assert.equal(await a.holder(), 'B');
    assert.deepEqual(await a.acquire(), { kind: 'held-by-peer', holder: 'B' });
    assert.deepEqual(lostA.reasons, [], "a release is not a 'lost'");
  });

  it('a holder paused by SIGSTOP loses the key within the TTL and, resumed, knows it holds nothing', async (t) => {
    const teardown = lifo(t);
    const etcd = await startEtcd(teardown);
    const pairId = newPairId();
    const a = startChild(teardown, { endpoints: [etcd.endpoint], pairId, nodeName: 'A', ttlSeconds: TTL });
    assert.deepEqual((await a.next('acquired')).grant, { kind: 'granted' });
    const b = makeWitness(teardown, etcd.endpoint, pairId, 'B');
    assert.deepEqual(await b.acquire(), { kind: 'held-by-peer', holder: 'A' });
    a.process.stdin.write('status\n');
    assert.equal((await a.next('status')).holds, true);

    a.process.kill('SIGSTOP');
    const tookMs = await acquireUntilGranted(b, TIMING.ttlMs + 3000);
    assert.ok(tookMs <= TIMING.ttlMs + 1000, `B was granted ${Math.round(tookMs)} ms after A stopped`);
    assert.equal(await b.holder(), 'B');

    // Resumed, A holds nothing: its validity ran out on its own clock while it was stopped.
    a.process.kill('SIGCONT');
    a.process.stdin.write('status\n');
    const status = await a.next('status');
    assert.equal(status.holds, false);
    assert.equal(status.validUntil, 0);
    assert.match(String((await a.next('lost', 5000)).reason), /validity ran out|expired|no longer exists/);
    await sleep(TIMING.keepaliveMs * 2);
    await assert.rejects(a.next('lost', 10), "'lost' came once");
    assert.equal(await b.holder(), 'B', 'the resumed node took nothing back');
    assert.equal(b.holds(), true);
  });

  it('holds() turns false by itself when the clock jumps past validUntil, as after a pause', async (t) => {
    const teardown = lifo(t);
    const etcd = await startEtcd(teardown);
    const pairId = newPairId();
    let jump = 0;
    const a = makeWitness(teardown, etcd.endpoint, pairId, 'A', () => performance.now() + jump);
    const b = makeWitness(teardown, etcd.endpoint, pairId, 'B');
    const lostA = watchLost(a);
    assert.deepEqual(await a.acquire(), { kind: 'granted' });
    assert.equal(a.holds(), true);

    jump = 10_000; // the process "slept" 10 s: no timer, no answer, no event in between
    assert.equal(a.holds(), false, 'not held the moment the clock is past the validity');
    assert.equal(a.validUntil(), 0);
    assert.deepEqual(lostA.reasons, [], 'no event was needed for that');

    // The next timer notices, says 'lost' once and revokes the lease, which etcd still had.
    assert.match(await lostA.first(TIMING.keepaliveMs + 1000), /validity ran out/);
    const tookMs = await acquireUntilGranted(b, TIMING.ttlMs + 1000);
    assert.ok(tookMs < 1000, `the revoked key was free at once (${Math.round(tookMs)} ms)`);
    await sleep(TIMING.keepaliveMs * 2);
    assert.equal(lostA.reasons.length, 1);
    assert.equal(a.holds(), false);
  });

  it('a restarted node takes over the key its earlier run left under its own name', async (t) => {
    const teardown = lifo(t);
    const etcd = await startEtcd(teardown);
    const pairId = newPairId();
    const earlier = startChild(teardown, {
      endpoints: [etcd.endpoint],
      pairId,
      nodeName: 'A',
      ttlSeconds: TTL,
    });
    assert.deepEqual((await earlier.next('acquired')).grant, { kind: 'granted' });
    earlier.process.kill('SIGKILL'); // crashed: nothing revoked, the key and its lease stay

    const a = makeWitness(teardown, etcd.endpoint, pairId, 'A');
    const b = makeWitness(teardown, etcd.endpoint, pairId, 'B');
    assert.deepEqual(await a.acquire(), { kind: 'granted' });
    assert.deepEqual(await b.acquire(), { kind: 'held-by-peer', holder: 'A' });
    // The earlier lease runs out; the key now lives on the new one.
    await sleep(TIMING.ttlMs + 1000);
    assert.equal(await b.holder(), 'A');
    assert.equal(a.holds(), true);
    assert.deepEqual(await b.acquire(), { kind: 'held-by-peer', holder: 'A' });
  });

  it('etcd down: acquire() answers unreachable, a holder says lost once when its validity runs out', async (t) => {
    const teardown = lifo(t);
    const etcd = await startEtcd(teardown);
    const pairId = newPairId();
    const a = makeWitness(teardown, etcd.endpoint, pairId, 'A');
    const lostA = watchLost(a);
    assert.deepEqual(await a.acquire(), { kind: 'granted' });
    await sleep(TIMING.keepaliveMs + 200); // at least one keepalive answered

    await etcd.kill();
    const killedAt = performance.now();
    const validAtKill = a.validUntil();
    assert.equal(a.holds(), true, 'still valid right after etcd went away');
    assert.ok(validAtKill <= killedAt + TIMING.ttlMs - TIMING.marginMs);

    const reason = await lostA.first(TIMING.ttlMs + 2000);
    const lostAt = performance.now();
    assert.match(reason, /keepalives failed until the lease validity ran out/);
    assert.ok(lostAt >= validAtKill, 'not lost before the validity ran out');
    assert.ok(
      lostAt <= killedAt + TIMING.ttlMs - TIMING.marginMs + 300,
      `lost ${lostAt - killedAt} ms after`,
    );
    assert.equal(a.holds(), false);
    assert.equal(a.validUntil(), 0);

    const c = makeWitness(teardown, etcd.endpoint, pairId, 'C');
    const asked = performance.now();
    const grant = await c.acquire();
    assert.equal(grant.kind, 'unreachable');
    assert.notEqual(grant.error, '');
    assert.ok(performance.now() - asked < TIMING.requestTimeoutMs + 1500, 'answered within its deadline');
    assert.equal((await a.acquire()).kind, 'unreachable');
    assert.equal(await c.holder(), null);
    assert.equal(lostA.reasons.length, 1, "'lost' came once");

    // etcd back: the holder that lost its lease gets the role again (the key still names it).
    await etcd.restart();
    await acquireUntilGranted(a, 10_000);
    assert.equal(a.holds(), true);
    assert.deepEqual(await c.acquire(), { kind: 'held-by-peer', holder: 'A' });
    assert.equal(lostA.reasons.length, 1);
  });

  it('an endpoint with nothing listening is unreachable, never an exception', async (t) => {
    const teardown = lifo(t);
    const nobody = makeWitness(teardown, 'http://127.0.0.1:9', newPairId(), 'A');
    const grant = await nobody.acquire();
    assert.equal(grant.kind, 'unreachable');
    assert.equal(nobody.holds(), false);
    assert.equal(await nobody.holder(), null);
    await nobody.release();
    assert.throws(
      () => new Witness({ endpoints: [], pairId: 'p/q', nodeName: '', ttlSeconds: 0.5, logger: quiet }),
      /endpoint.*pair id.*node name.*TTL/,
    );
  });
});
