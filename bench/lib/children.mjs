// Child processes for benchmarks: every program is spawned with an argument array (never a shell),
// tracked until it exits, and stopped by its own pid when the bench ends, even on failure.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { clearTimeout, setTimeout } from 'node:timers';

/** Children that have been spawned and have not exited yet. */
const live = new Set();

/**
 * Starts a long-running program (a daemon in the foreground). Its output is kept in memory (the
 * last 200 lines of each stream) and every stdout/stderr line is offered to `waitForLine` waiters.
 */
export function startDaemon(name, command, args, options = {}) {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  const waiters = new Set();
  let exit = null;
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(entry);
      exit = { code, signal };
      for (const w of waiters) w.reject(new Error(`${name} exited (${signal ?? code}) while waiting`));
      resolve(exit);
    });
    child.once('error', (error) => {
      live.delete(entry);
      exit = { code: null, signal: null, error };
      for (const w of waiters) w.reject(new Error(`${name}: ${error.message}`));
      resolve(exit);
    });
  });
  const onLine = (line) => {
    lines.push(line);
    if (lines.length > 400) lines.shift();
    for (const w of waiters) {
      if (w.pattern.test(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  };
  splitLines(child.stdout, onLine);
  splitLines(child.stderr, onLine);
  const entry = {
    name,
    child,
    exited,
    /** The output lines seen so far (both streams, interleaved). */
    get output() {
      return lines.join('\n');
    },
    /** Resolves with the first line from now on that matches `pattern`. */
    waitForLine(pattern, timeoutMs = 30_000) {
      if (exit) return Promise.reject(new Error(`${name} has exited`));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`${name}: no line matching ${pattern} within ${timeoutMs} ms`));
        }, timeoutMs);
        const w = {
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        };
        waiters.add(w);
      });
    },
    stop: () => stopChild(entry),
  };
  live.add(entry);
  return entry;
}

/**
 * Runs a program to completion and returns { code, signal, stdout, stderr, seconds }. After
 * `timeoutMs` it gets `timeoutSignal` (default SIGINT), then SIGKILL 5 s later.
 */
export function run(command, args, options = {}) {
  const { timeoutMs = 120_000, timeoutSignal = 'SIGINT', env, cwd, input } = options;
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, {
      cwd,
      env: env ?? process.env,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const entry = { name: command, child, exited: null };
    entry.exited = new Promise((done) => child.once('close', () => done()));
    live.add(entry);
    if (input !== undefined) child.stdin.end(input);
    const out = [];
    const err = [];
    child.stdout.on('data', (chunk) => out.push(chunk));
    child.stderr.on('data', (chunk) => err.push(chunk));
    let timedOut = false;
    let killTimer = null;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill(timeoutSignal);
      killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      live.delete(entry);
      reject(new Error(`${command}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      live.delete(entry);
      resolve({
        code,
        signal,
        timedOut,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      });
    });
  });
}

/** Like run(), but rejects unless the program exits 0. */
export async function runChecked(command, args, options = {}) {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    const what = result.timedOut ? 'timed out' : `exited ${result.signal ?? result.code}`;
    throw new Error(`${command} ${args.join(' ')} ${what}\n${result.stderr}${result.stdout}`.trim());
  }
  return result;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export async function stopChild(entry, graceMs = 5_000) {
  if (entry.child.exitCode !== null || entry.child.signalCode !== null) return;
  entry.child.kill('SIGTERM');
  const done = await Promise.race([entry.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) {
    entry.child.kill('SIGKILL');
    await entry.exited;
  }
}

/** Stops every child still running (each by its own pid). */
export async function stopAll() {
  await Promise.allSettled([...live].map((entry) => stopChild(entry)));
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function splitLines(stream, onLine) {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const parts = (rest + chunk).split(/\r?\n|\r/);
    rest = parts.pop() ?? '';
    for (const line of parts) onLine(line);
  });
  stream.on('end', () => {
    if (rest !== '') onLine(rest);
  });
}
