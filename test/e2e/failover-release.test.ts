// A release must not wait for initiators to leave ("never two writers"): with the loopback demo pair
// and a real initiator (qemu-io over libiscsi) writing through the virtual IP without pause, a manual
// failover on the active node cuts the session on the virtual IP at once: the call returns within a
// few seconds instead of waiting for the initiator to go (it used to stay `releasing`, holding the
// address and acknowledging writes, for as long as the initiator stayed logged in). The initiator then
// reconnects to the new active node and its writes read back there.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it, type TestContext } from 'node:test';
import { api, TANDEM_BIN } from '../helpers/daemon.js';
import { run } from '../helpers/programs.js';
import { readyLine, waitFor } from '../helpers/demo.js';
import { tempDir } from '../helpers/temp-dir.js';

interface FailoverStatus {
  state: string;
  peer: { upToDate: boolean | null };
  lastTransition: { kind: string; ok: boolean; steps: { step: string; ms: number; error?: string }[] } | null;
}

const IQN = 'iqn.2026-11.local.tandem:demo';
/** Every write of the writer goes to one of these 1 MiB slots, in turn, with this pattern. */
const SLOTS = 8;
const PATTERN = '0xc3';

/**
 * qemu-io in interactive mode, fed one 1 MiB write at a time: the next write goes in as soon as the
 * previous one is acknowledged, so a write is in flight nearly all the time.
 */
class Writer {
  readonly child: ChildProcess;
  acks = 0;
  output = '';
  private stopped = false;

  constructor(url: string) {
    this.child = spawn('qemu-io', [url], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.onOutput(chunk));
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    this.child.stdin?.on('error', () => undefined);
    this.next();
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Lets the write in flight finish, then quits. */
  async stop(): Promise<void> {
    this.stopped = true;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    if (!this.running) return;
    this.child.stdin?.end('quit\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(timer);
  }

  private next(): void {
    if (this.stopped) return;
    const slot = this.acks % SLOTS;
    this.child.stdin?.write(`write -P ${PATTERN} ${String(slot)}M 1M\n`);
  }

  private onOutput(chunk: string): void {
    this.output += chunk;
    for (const _ of chunk.matchAll(/^(?:qemu-io> )?wrote \d+\/\d+ bytes/gm)) {
      this.acks++;
      this.next();
    }
  }
}

/** tandem_iscsi_sessions for the demo target, from a node's metrics. */
async function sessions(apiUrl: string): Promise<number> {
  const text = (await api(apiUrl, 'GET', '/metrics')).body as string;
  const line = text.split('\n').find((l) => l.startsWith(`tandem_iscsi_sessions{target="${IQN}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

function spawnDemo(t: TestContext, dir: string): ChildProcess {
  const base = 20_000 + Math.floor(Math.random() * 400) * 20;
  const vip = `127.0.${String(1 + Math.floor(Math.random() * 250))}.101`;
  const vipPort = 21_000 + Math.floor(Math.random() * 8000);
  const demo = spawn(
    process.execPath,
    [
      TANDEM_BIN,
      'demo',
      '--dir',
      join(dir, 'demo'),
      '--base-port',
      String(base),
      '--vip',
      vip,
      '--vip-port',
      String(vipPort),
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  demo.stderr.resume();
  t.after(() => {
    if (demo.exitCode === null) demo.kill('SIGKILL');
  });
  return demo;
}

describe('failover release with an initiator logged in', { timeout: 600_000 }, () => {
  it('a manual failover drops the session on the virtual IP at once instead of waiting for it', async (t) => {
    const dir = tempDir(t);
    const ready = await readyLine(spawnDemo(t, dir), 240_000);
    const [a, b] = ready.nodes;
    assert.ok(a && b);
    t.after(() => {
      for (const node of ready.nodes) {
        try {
          process.kill(node.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
    const call = (node: { api: string }, method: string, path: string) =>
      api(node.api, method, path, { password: ready.password });
    const status = async (node: { api: string }) =>
      (await call(node, 'GET', '/api/v1/failover')).body as FailoverStatus;
    await waitFor('A active with B passive and up to date', async () => {
      const s = await status(a);
      return s.state === 'active' && s.peer.upToDate === true ? true : undefined;
    });

    // qemu-io writes through the virtual IP, to A, one write after the other.
    const writer = new Writer(ready.url);
    t.after(() => {
      if (writer.running) writer.child.kill('SIGKILL');
    });
    await waitFor('qemu-io writing through the virtual IP', () =>
      writer.acks >= 2 * SLOTS ? true : undefined,
    );
    assert.equal(await sessions(a.api), 1, 'qemu-io is logged in to A through the virtual IP');

    // Hand over while qemu-io stays logged in and writing.
    const started = performance.now();
    const handOver = call(a, 'POST', '/api/v1/failover/manual-failover');
    const outcome = await Promise.race([handOver, sleep(5000).then(() => 'still releasing' as const)]);
    const seconds = (performance.now() - started) / 1000;
    assert.notEqual(
      outcome,
      'still releasing',
      'the manual failover did not return within 5 s: the release waits for the initiator to leave',
    );
    assert.ok(typeof outcome === 'object');
    assert.equal(outcome.status, 200, JSON.stringify(outcome.body));
    assert.ok(writer.running, 'the initiator was still there when the release finished');
    const afterRelease = await status(a);
    assert.notEqual(afterRelease.state, 'active');
    assert.notEqual(afterRelease.state, 'releasing');
    const stop = afterRelease.lastTransition?.steps.find((s) => s.step === 'stop serving on the virtual IP');
    assert.ok(stop && stop.error === undefined, JSON.stringify(afterRelease.lastTransition));
    assert.equal(await sessions(a.api), 0, 'A serves no session any more');
    t.diagnostic(
      `manual failover with qemu-io writing: returned after ${seconds.toFixed(2)} s; "stop serving on the virtual IP" took ${String(stop.ms)} ms`,
    );

    // qemu-io reconnects to B, which took the address over, and carries on writing there.
    await waitFor('B active', async () => ((await status(b)).state === 'active' ? true : undefined));
    const acksAtRelease = writer.acks;
    await waitFor(
      'qemu-io writing through the virtual IP to B',
      () => (writer.acks >= acksAtRelease + SLOTS ? true : undefined),
      90_000,
    );
    assert.equal(await sessions(b.api), 1, 'qemu-io is logged in to B now');
    await writer.stop();
    // The write cut off by the release was reissued after the reconnect: the initiator saw no error.
    assert.doesNotMatch(writer.output, /write failed/i, writer.output);
    const check = await run('qemu-io', ['-c', `read -P ${PATTERN} 0 ${String(SLOTS)}M`, ready.url], {
      timeoutMs: 60_000,
    });
    assert.equal(check.code, 0, check.stderr);
    assert.doesNotMatch(check.stdout + check.stderr, /failed|error|mismatch/i, check.stdout);
  });
});
