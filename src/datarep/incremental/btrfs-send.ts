// Runs `btrfs send --no-data` between two read-only snapshots of one subvolume and returns the stream:
// the metadata of every change (names, sizes, modes, times), without the file data.
import { spawn } from 'node:child_process';
import { TandemError } from '../../lib/errors.js';

/** A metadata-only stream is small (about 100 bytes per change); more than this is not a change list. */
export const MAX_STREAM_BYTES = 64 * 1024 * 1024;

export function btrfsSendMetadata(
  baseSnapshot: string,
  newSnapshot: string,
  options: { readonly command?: string } = {},
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      options.command ?? 'btrfs',
      ['send', '--quiet', '--no-data', '-p', baseSnapshot, newSnapshot],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      },
    );
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = '';
    let overflow = false;
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_STREAM_BYTES) {
        overflow = true;
        child.kill('SIGKILL');
        return;
      }
      chunks.push(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      if (stderr.length < 4096) stderr += text;
    });
    child.on('error', (error) =>
      reject(new TandemError('unavailable', 'program-missing', `cannot run btrfs: ${error.message}`)),
    );
    child.on('close', (code) => {
      if (overflow) {
        reject(new TandemError('internal', 'send-too-large', 'the change stream is too large'));
      } else if (code !== 0) {
        const said = stderr.trim() || `exit code ${String(code)}`;
        reject(new TandemError('internal', 'program-failed', `btrfs send failed: ${said}`));
      } else {
        resolve(Buffer.concat(chunks, size));
      }
    });
  });
}
