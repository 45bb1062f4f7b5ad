// The daemon's side of the virtual IP watchdog (main.ts): starts it as a process of its own (own
// session, argument array, IPC channel), beats from the main event loop four times per allowed
// silence (so a blocked loop stops the beats), and tells it which virtual IP this daemon holds, as a
// VipObserver of the drivers (vip/observed-driver.ts): before an acquire, after a release. Stop it on
// a clean shutdown after the failover service has released the address: then it exits untouched.
//
// A watchdog that cannot be started or dies is logged and started again; failover goes on without it
// meanwhile (it would only bring back the old behaviour: a dead daemon's address stays bound).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { messageOf } from '../../lib/errors.js';
import type { VipObserver } from '../vip/observed-driver.js';
import type { VirtualIp, VirtualIpDriverKind } from '../vip/types.js';
import { watchdogTiming, type FailoverTimers, type WatchedVip } from './decide.js';
import { parseFromWatchdog, PID_ARG, SILENCE_ARG, type ToWatchdog } from './protocol.js';

export interface WatchdogCommand {
  /** The program (default: this Node). */
  readonly file: string;
  /** Its arguments before the watchdog's own (default: main.js next to this module, or main.ts with
   * tsx's loader when running from the sources). */
  readonly args: readonly string[];
}

export interface VipWatchdogOptions {
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** The failover timers, read at every beat: the allowed silence follows the settings. */
  readonly timers: () => FailoverTimers;
  readonly command?: WatchdogCommand;
  /** How long to wait for the watchdog to start, and for an acknowledgement (default 10 s, 1 s). */
  readonly startTimeoutMs?: number;
  readonly ackTimeoutMs?: number;
  /** Pause before starting a watchdog again after it died (default 1 s). */
  readonly restartDelayMs?: number;
}

export function defaultWatchdogCommand(): WatchdogCommand {
  const fromSources = import.meta.url.endsWith('.ts');
  const entry = fileURLToPath(new URL(fromSources ? './main.ts' : './main.js', import.meta.url));
  return {
    file: process.execPath,
    args: fromSources ? ['--import', import.meta.resolve('tsx'), entry] : [entry],
  };
}

const sameVip = (a: WatchedVip, b: VirtualIp, driver: VirtualIpDriverKind): boolean =>
  a.driver === driver && a.address === b.address && a.nic === b.nic;

function watched(vip: VirtualIp, driver: VirtualIpDriverKind): WatchedVip {
  return {
    address: vip.address,
    prefixLength: vip.prefixLength,
    broadcast: vip.broadcast,
    nic: vip.nic,
    driver,
    ...(vip.port === undefined ? {} : { port: vip.port }),
  };
}

export class VipWatchdog implements VipObserver {
  readonly #o: VipWatchdogOptions;
  readonly #log: VipWatchdogOptions['logger'];
  #child: ChildProcess | null = null;
  #starting: Promise<void> | null = null;
  /** Between start() and stop(). */
  #wanted = false;
  #beatTimer: NodeJS.Timeout | null = null;
  #restartTimer: NodeJS.Timeout | null = null;
  /** What this daemon holds or is about to take (told again to a restarted watchdog). */
  #vip: WatchedVip | null = null;
  #seq = 0;
  readonly #acks = new Map<number, (ok: boolean) => void>();
  #sentSilenceMs = 0;
  #lastBeatAt = 0;
  #longestGapMs = 0;

  constructor(options: VipWatchdogOptions) {
    this.#o = options;
    this.#log = options.logger;
  }

  /** The watchdog's pid while it runs. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** The longest time between two beats so far (how long the main loop was blocked at worst). */
  get longestBeatGapMs(): number {
    return Math.round(this.#longestGapMs);
  }

  /** Starts the watchdog (once; later calls wait for the same start). Rejects if it cannot start. */
  start(): Promise<void> {
    this.#wanted = true;
    if (this.#child) return Promise.resolve();
    this.#starting ??= this.#spawn().finally(() => {
      this.#starting = null;
    });
    return this.#starting;
  }

  /** Clean shutdown (after the address was released): the watchdog exits without touching anything. */
  async stop(): Promise<void> {
    this.#wanted = false;
    if (this.#beatTimer) clearTimeout(this.#beatTimer);
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#beatTimer = null;
    this.#restartTimer = null;
    await this.#starting?.catch(() => undefined);
    const child = this.#child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const seq = ++this.#seq;
    this.#send({ type: 'stop', seq });
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
    this.#log.info(
      { component: 'vip-watchdog', longestBeatGapMs: this.longestBeatGapMs },
      'virtual IP watchdog stopped',
    );
  }

  async willHold(vip: VirtualIp, driver: VirtualIpDriverKind): Promise<void> {
    this.#vip = watched(vip, driver);
    try {
      await this.start();
    } catch (error) {
      this.#log.error(
        { component: 'vip-watchdog', error: messageOf(error) },
        'no virtual IP watchdog: should this daemon die now, its address stays bound',
      );
      return;
    }
    await this.#tell(this.#vip);
  }

  async released(vip: VirtualIp, driver: VirtualIpDriverKind): Promise<void> {
    if (!this.#vip || !sameVip(this.#vip, vip, driver)) return;
    this.#vip = null;
    if (this.#child) await this.#tell(null);
  }

  // --- internals ---------------------------------------------------------------------------------

  async #spawn(): Promise<void> {
    const command = this.#o.command ?? defaultWatchdogCommand();
    const timing = watchdogTiming(this.#o.timers());
    const child = spawn(
      command.file,
      [...command.args, PID_ARG, String(process.pid), SILENCE_ARG, String(timing.allowedSilenceMs)],
      // Own session and process group: a signal to the daemon's group (Ctrl-C, kill -- -PGID) leaves
      // it running, to do its work when the daemon is gone. Its log lines go to the daemon's stderr.
      { detached: true, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json' },
    );
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new Error('the virtual IP watchdog did not start in time')),
        this.#o.startTimeoutMs ?? 10_000,
      );
      child.once('error', (error) => fail(error));
      child.once('exit', (code, signal) =>
        fail(new Error(`the virtual IP watchdog exited at start (${String(signal ?? code)})`)),
      );
      child.on('message', (raw: unknown) => {
        const message = parseFromWatchdog(raw);
        if (message?.type === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (message?.type === 'ack') {
          this.#acks.get(message.seq)?.(true);
        }
      });
    });
    child.removeAllListeners('exit');
    child.removeAllListeners('error');
    child.on('error', (error) =>
      this.#log.warn({ component: 'vip-watchdog', error: error.message }, 'virtual IP watchdog channel'),
    );
    child.once('exit', (code, signal) => this.#exited(child, code, signal));
    // Neither the process nor its channel keeps the daemon alive.
    child.unref();
    child.channel?.unref();
    this.#child = child;
    this.#sentSilenceMs = timing.allowedSilenceMs;
    this.#log.info(
      { component: 'vip-watchdog', watchdogPid: child.pid, allowedSilenceMs: timing.allowedSilenceMs },
      'virtual IP watchdog started',
    );
    if (!this.#wanted) return;
    this.#lastBeatAt = performance.now();
    this.#beat();
    if (this.#vip) await this.#tell(this.#vip);
  }

  #exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child !== child) return;
    this.#child = null;
    for (const ack of this.#acks.values()) ack(false);
    this.#acks.clear();
    if (this.#beatTimer) clearTimeout(this.#beatTimer);
    this.#beatTimer = null;
    if (!this.#wanted) return;
    this.#log.error(
      { component: 'vip-watchdog', code, signal },
      'the virtual IP watchdog exited; starting it again',
    );
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      if (this.#wanted && !this.#child) {
        this.start().catch((error: unknown) =>
          this.#log.error(
            { component: 'vip-watchdog', error: messageOf(error) },
            'could not start the virtual IP watchdog again',
          ),
        );
      }
    }, this.#o.restartDelayMs ?? 1000);
    this.#restartTimer.unref();
  }

  /** Runs on the main event loop: a loop that is blocked sends nothing. */
  readonly #beat = (): void => {
    this.#beatTimer = null;
    if (!this.#child || !this.#wanted) return;
    const timing = watchdogTiming(this.#o.timers());
    const at = performance.now();
    const gap = at - this.#lastBeatAt;
    this.#lastBeatAt = at;
    if (gap > this.#longestGapMs) this.#longestGapMs = gap;
    if (gap > timing.allowedSilenceMs / 2) {
      this.#log.warn(
        { component: 'vip-watchdog', gapMs: Math.round(gap), allowedSilenceMs: timing.allowedSilenceMs },
        'the event loop was blocked: a beat to the virtual IP watchdog came late',
      );
    }
    if (timing.allowedSilenceMs !== this.#sentSilenceMs) {
      this.#sentSilenceMs = timing.allowedSilenceMs;
      this.#send({ type: 'timing', allowedSilenceMs: timing.allowedSilenceMs });
    }
    this.#send({ type: 'beat' });
    this.#beatTimer = setTimeout(this.#beat, timing.beatEveryMs);
    this.#beatTimer.unref();
  };

  /** Tells the watchdog the address and waits for its acknowledgement (bounded). */
  async #tell(vip: WatchedVip | null): Promise<void> {
    const seq = ++this.#seq;
    const acked = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), this.#o.ackTimeoutMs ?? 1000);
      this.#acks.set(seq, (ok) => {
        clearTimeout(timer);
        resolve(ok);
      });
    });
    this.#send({ type: 'vip', seq, vip });
    const ok = await acked;
    this.#acks.delete(seq);
    if (!ok) {
      this.#log.warn(
        { component: 'vip-watchdog', address: vip?.address ?? null },
        'the virtual IP watchdog did not acknowledge in time',
      );
    }
  }

  #send(message: ToWatchdog): void {
    const child = this.#child;
    if (!child?.connected) return;
    child.send(message, (error) => {
      if (error) {
        this.#log.warn(
          { component: 'vip-watchdog', error: error.message, type: message.type },
          'could not reach the virtual IP watchdog',
        );
      }
    });
  }
}
