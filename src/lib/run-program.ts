// Runs a system program with an argument array (never a shell string) and collects its output.
import { spawn } from 'node:child_process';
import { TandemError } from './errors.js';

export interface ProgramResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}

/** Resolves with the exit code and output; rejects only when the program cannot be started. */
export function runProgram(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      timeout: options.timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) =>
      reject(new TandemError('unavailable', 'program-missing', `cannot run ${command}: ${error.message}`)),
    );
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

/** Like runProgram, but a non-zero exit becomes a TandemError carrying the program's own words. */
export async function runProgramChecked(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<ProgramResult> {
  const result = await runProgram(command, args, options);
  if (result.code !== 0) {
    const said = result.stderr.trim() || result.stdout.trim() || `exit code ${result.code}`;
    throw new TandemError('internal', 'program-failed', `${command} failed: ${said}`);
  }
  return result;
}
