import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Supervisor } from '../../../../src/datarep/agent/supervisor.js';
import { createLogger } from '../../../../src/observability/logger.js';
import { tempDir } from '../../../helpers/temp-dir.js';

function capture() {
  let text = '';
  const sink = new PassThrough();
  sink.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  return { logger: createLogger({ level: 'debug', destination: sink }), text: () => text };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a killed program is logged and started again; stop ends it for good', async (t) => {
  const log = capture();
  const supervisor = new Supervisor({
    command: 'sleep',
    args: ['60'],
    logger: log.logger,
    what: 'sleeper',
    initialBackoffMs: 50,
  });
  t.after(() => supervisor.stop());
  await supervisor.start();
  const first = supervisor.status().pid as number;
  assert.ok(alive(first));
  process.kill(first, 'SIGKILL');
  await until('a restart', () => supervisor.status().pid !== null && supervisor.status().pid !== first);
  const status = supervisor.status();
  assert.equal(status.restarts, 1);
  assert.equal(status.lastExit?.signal, 'SIGKILL');
  assert.match(log.text(), /"event":"supervised-exited"[^\n]*"signal":"SIGKILL"/);
  const second = status.pid as number;
  await supervisor.stop();
  assert.ok(!alive(second));
  assert.equal(supervisor.status().running, false);
  await sleep(200);
  assert.equal(supervisor.status().pid, null, 'no restart after stop');
});

test('a program that keeps dying is restarted with a growing backoff', async (t) => {
  const log = capture();
  const supervisor = new Supervisor({
    command: 'false',
    args: [],
    logger: log.logger,
    what: 'failing',
    initialBackoffMs: 40,
    maxBackoffMs: 160,
  });
  t.after(() => supervisor.stop());
  await supervisor.start();
  await until('four restarts', () => supervisor.status().restarts >= 4);
  await until('an exit recorded', () => supervisor.status().lastError !== null);
  assert.match(supervisor.status().lastError ?? '', /exited unexpectedly \(code 1\)/);
  await supervisor.stop();
  const delays = [...log.text().matchAll(/"restartInMs":(\d+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(delays.slice(0, 4), [40, 80, 160, 160]);
});

test('a refusing preflight keeps the program from starting', async (t) => {
  const log = capture();
  const supervisor = new Supervisor({
    command: 'sleep',
    args: ['60'],
    logger: log.logger,
    what: 'guarded',
    preflight: () => Promise.reject(new Error('secrets file has mode 0644')),
  });
  t.after(() => supervisor.stop());
  await assert.rejects(supervisor.start(), /0644/);
  assert.equal(supervisor.status().running, false);
  assert.equal(supervisor.status().lastError, 'secrets file has mode 0644');
});

test('a missing program is an error in the status, retried', async (t) => {
  const log = capture();
  const supervisor = new Supervisor({
    command: '/nonexistent/program',
    args: [],
    logger: log.logger,
    what: 'ghost',
    initialBackoffMs: 30,
  });
  t.after(() => supervisor.stop());
  await supervisor.start();
  await until('the error', () => supervisor.status().lastError !== null);
  assert.match(supervisor.status().lastError ?? '', /cannot start \/nonexistent\/program/);
});

test('lines of the log file and of stderr reach the log', async (t) => {
  const dir = tempDir(t);
  const logFile = join(dir, 'program.log');
  const log = capture();
  const supervisor = new Supervisor({
    command: 'sh',
    args: ['-c', 'echo "from stderr" >&2; sleep 60'],
    logger: log.logger,
    what: 'talker',
    logFile,
  });
  t.after(() => supervisor.stop());
  await supervisor.start();
  appendFileSync(logFile, 'from the log file\npartial');
  await until('both lines', () => /from stderr/.test(log.text()) && /from the log file/.test(log.text()));
  await supervisor.stop();
  assert.match(log.text(), /"msg":"partial"/, 'the last partial line is flushed at stop');
});
