// Runs the real product: `bin/tandem serve` as a child process on loopback ports the OS picks, and the
// `bin/tandem` CLI against it. Every daemon a test starts is stopped when the test ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

export const TANDEM_BIN = fileURLToPath(new URL('../../bin/tandem', import.meta.url));

export interface Daemon {
  readonly child: ChildProcess;
  readonly apiUrl: string;
  /** The iSCSI portal as HOST:PORT. */
  readonly iscsiPortal: string;
  readonly dataDir: string;
  /** Everything the daemon printed so far (stdout and stderr). */
  output(): string;
  /** Sends a signal and waits for the exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly args?: readonly string[];
  /** Run the daemon inside this network namespace (`ip netns exec NS node bin/tandem serve ...`). */
  readonly netns?: string;
}

const BASE_ENV: NodeJS.ProcessEnv = { ...process.env, TANDEM_LOG_LEVEL: 'info', NO_COLOR: '1' };
delete BASE_ENV.TANDEM_API;
delete BASE_ENV.TANDEM_DATA;
delete BASE_ENV.TANDEM_PASSWORD;

export async function startDaemon(
  t: TestContext,
  dataDir: string,
  options: StartOptions = {},
): Promise<Daemon> {
  // `ip netns exec` execs node in place, so the child's pid (and signals) are the daemon's own.
  const [command, prefix]: readonly [string, readonly string[]] = options.netns
    ? ['ip', ['netns', 'exec', options.netns, process.execPath]]
    : [process.execPath, []];
  const child = spawn(
    command,
    [
      ...prefix,
      TANDEM_BIN,
      'serve',
      '--data',
      dataDir,
      '--api',
      '127.0.0.1:0',
      '--iscsi',
      '127.0.0.1:0',
      ...(options.args ?? []),
    ],
    { env: { ...BASE_ENV, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });

  const ready = await new Promise<{ api: string; iscsiPortal: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon did not become ready:\n${output}`)), 20_000);
    const check = (): void => {
      for (const line of output.split('\n')) {
        if (!line.startsWith('{')) continue;
        const record = JSON.parse(line) as { msg?: string; api?: string; iscsiPortal?: string };
        if (record.msg === 'node ready' && record.api && record.iscsiPortal) {
          clearTimeout(timer);
          resolve({ api: record.api, iscsiPortal: record.iscsiPortal });
          return;
        }
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${String(code)} before it was ready:\n${output}`));
    });
  });

  return {
    child,
    apiUrl: ready.api,
    iscsiPortal: ready.iscsiPortal,
    dataDir,
    output: () => output,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      child.kill(signal);
      return exited;
    },
  };
}

/** Runs `bin/tandem serve` expecting it to fail; returns its exit code and output. */
export function runServeExpectingFailure(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(['serve', '--data', dataDir, '--api', '127.0.0.1:0', '--iscsi', '127.0.0.1:0'], env);
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to completion. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TANDEM_BIN, ...args], {
      env: { ...BASE_ENV, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the CLI and parses its --json output; fails the test on a non-zero exit. */
export async function cliJson<T>(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<T> {
  const result = await runCli([...args, '--json'], env);
  if (result.code !== 0)
    throw new Error(`tandem ${args.join(' ')} failed (${String(result.code)}): ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** A minimal API client for tests: JSON in, status and JSON out. */
export async function api(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: unknown; password?: string | null; rawBody?: string } = {},
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { 'x-tandem-client': 'test' };
  if (options.password !== null && options.password !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`admin:${options.password}`).toString('base64')}`;
  }
  let body: string | undefined;
  if (options.rawBody !== undefined) {
    body = options.rawBody;
    headers['content-type'] = 'application/json';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : null;
  } catch {
    // not JSON (e.g. metrics)
  }
  return { status: response.status, body: parsed };
}
