// Keepalive of an established connection: a ping when we have sent nothing for `keepaliveMs`, and
// the verdict "dead" when the peer has shown no sign of life for `deadMs`.
import { performance } from 'node:perf_hooks';
import type { FramedSocket } from './framed-socket.js';

export const DEFAULT_KEEPALIVE_MS = 2000;
export const DEFAULT_DEAD_MS = 6000;

export interface KeepaliveOptions {
  readonly keepaliveMs: number;
  readonly deadMs: number;
  readonly sendPing: () => void;
  readonly onDead: () => void;
}

/** Starts the checks; the returned function stops them. */
export function startKeepalive(framed: FramedSocket, options: KeepaliveOptions): () => void {
  // Several checks per period keep the detection close to the configured times.
  const tickMs = Math.max(5, Math.floor(Math.min(options.keepaliveMs, options.deadMs) / 4));
  const timer = setInterval(() => {
    framed.noteOutputProgress();
    const now = performance.now();
    if (now - framed.lastHeardAt >= options.deadMs) {
      options.onDead();
      return;
    }
    if (now - framed.lastSentAt >= options.keepaliveMs) options.sendPing();
  }, tickMs);
  timer.unref();
  return () => clearInterval(timer);
}
