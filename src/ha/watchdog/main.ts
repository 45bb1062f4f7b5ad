// The virtual IP watchdog: a small process of its own (its own session and process group, so a
// signal to the daemon's group does not reach it), started by the daemon (client.ts) with an IPC
// channel. It is told which virtual IP the daemon holds and gets a beat from the daemon's main event
// loop four times per allowed silence. When the channel closes without a "stop" (the daemon died), or
// the beats stop for longer than the allowed silence (the daemon hangs or was paused alone), it
// SIGKILLs the daemon if it still runs (a daemon that wakes up must never serve on with a stale view),
// removes the address with the same driver code the daemon uses (`ip addr del`, argument arrays),
// logs one JSON line on stderr and exits. After a clean "stop" it exits without touching anything.
//
// It imports only the decision (decide.ts), the message checks (protocol.ts) and the virtual IP
// drivers: nothing of the daemon's services, so it keeps working whatever state the daemon is in.
// Time is the monotonic clock (performance.now); wall time only stamps the log line.
import { setPriority } from 'node:os';
import { messageOf } from '../../lib/errors.js';
import { createVipDriver } from '../vip/index.js';
import { decide, timingFor, type WatchdogAction, type WatchdogView, type WatchedVip } from './decide.js';
import { parseToWatchdog, PID_ARG, SILENCE_ARG, type FromWatchdog } from './protocol.js';

/** Ahead of a saturated data path, like the heartbeat worker (needs root; ignored otherwise). */
const NICE = -10;
const RELEASE_ATTEMPTS = 3;

const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function argument(name: string): number {
  const index = process.argv.indexOf(name);
  const text = index < 0 ? undefined : process.argv[index + 1];
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : NaN;
}

const daemonPid = argument(PID_ARG);
const LEVELS = { info: 30, warn: 40, error: 50 } as const;

function log(level: keyof typeof LEVELS, msg: string, fields: Record<string, unknown> = {}): void {
  const line = {
    level: LEVELS[level],
    time: new Date().toISOString(),
    pid: process.pid,
    component: 'vip-watchdog',
    daemonPid,
    ...fields,
    msg,
  };
  try {
    process.stderr.write(`${JSON.stringify(line)}\n`);
  } catch {
    // Nobody reads stderr any more: the work matters, not the line.
  }
}

/** The reader of stderr may be gone (the daemon's supervisor): a write error must not end us. */
process.stderr.on('error', () => undefined);

function send(message: FromWatchdog, then?: () => void): void {
  if (!process.connected || !process.send) {
    then?.();
    return;
  }
  try {
    process.send(message, undefined, {}, () => then?.());
  } catch {
    then?.();
  }
}

const vipText = (vip: WatchedVip): string =>
  `${vip.address}/${String(vip.prefixLength)} on ${vip.nic} (${vip.driver})`;

/** SIGKILL for the daemon, only while it is still our parent: then the pid cannot have been reused. */
function killDaemon(): string {
  if (process.ppid !== daemonPid) return 'already gone';
  try {
    process.kill(daemonPid, 'SIGKILL');
    return 'killed';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
      ? 'already gone'
      : `kill failed: ${messageOf(error)}`;
  }
}

async function removeVip(vip: WatchedVip): Promise<{ removed: boolean; error?: string }> {
  const driver = createVipDriver(vip.driver);
  for (let attempt = 1; ; attempt++) {
    try {
      const held = await driver.held(vip);
      if (held) await driver.release(vip);
      return { removed: held };
    } catch (error) {
      if (attempt >= RELEASE_ATTEMPTS) return { removed: false, error: messageOf(error) };
      await sleep(100);
    }
  }
}

/** A daemon whose channel closed is normally dying: give the kernel a moment to finish that. */
async function parentGone(withinMs: number): Promise<boolean> {
  const until = now() + withinMs;
  while (process.ppid === daemonPid && now() < until) await sleep(10);
  return process.ppid !== daemonPid;
}

async function giveUp(action: Extract<WatchdogAction, { kind: 'give-up' }>): Promise<never> {
  const vip = action.vip;
  let daemon: string;
  let outcome: { removed: boolean; error?: string } | null;
  if (action.reason === 'daemon-silent') {
    // Kill first: a stopped process dies at once, and cannot wake up between our `ip addr del` and
    // its next write.
    daemon = action.kill ? killDaemon() : 'left alone';
    outcome = vip ? await removeVip(vip) : null;
  } else {
    // Its channel closed: the daemon is dying (or, if it lives on, no longer listening to us). The
    // address first; then a daemon that is still there after a moment is killed.
    outcome = vip ? await removeVip(vip) : null;
    if (await parentGone(200)) daemon = 'already gone';
    else daemon = action.kill ? killDaemon() : 'left alone';
  }
  const why =
    action.reason === 'daemon-gone'
      ? 'the daemon is gone (its channel closed without a stop)'
      : `the daemon's event loop was silent for ${String(Math.round(action.silentMs))} ms (allowed ${String(timing.allowedSilenceMs)} ms)`;
  let what: string;
  if (!vip) what = 'it held no virtual IP';
  else if (outcome?.error !== undefined)
    what = `could not remove the virtual IP ${vipText(vip)}: ${outcome.error}`;
  else if (outcome?.removed === true) what = `removed the virtual IP ${vipText(vip)}`;
  else if (vip.driver === 'loopback')
    what = `the virtual IP ${vipText(vip)} was the daemon's own listener, closed with the process`;
  else what = `the virtual IP ${vipText(vip)} was not bound (nothing to remove)`;
  const fate =
    daemon === 'killed'
      ? 'killed it (SIGKILL)'
      : daemon === 'already gone'
        ? action.reason === 'daemon-silent'
          ? 'it was gone already'
          : null
        : daemon;
  const level =
    outcome?.error !== undefined ? 'error' : daemon === 'killed' || outcome?.removed ? 'warn' : 'info';
  log(level, `${why}: ${fate === null ? '' : `${fate}; `}${what}`, {
    reason: action.reason,
    silentMs: Math.round(action.silentMs),
    allowedSilenceMs: timing.allowedSilenceMs,
    daemon,
    vip: vip
      ? { address: vip.address, prefixLength: vip.prefixLength, nic: vip.nic, driver: vip.driver }
      : null,
    removed: outcome?.removed ?? false,
    ...(outcome?.error === undefined ? {} : { error: outcome.error }),
  });
  process.exit(outcome?.error === undefined ? 0 : 1);
}

let timing = timingFor(argument(SILENCE_ARG));
const startedAt = now();
let view: WatchdogView = { daemon: 'beating', lastBeatAt: startedAt, lastCheckAt: startedAt, vip: null };
let timer: NodeJS.Timeout | undefined;
let acting = false;

function check(): void {
  if (acting) return;
  if (timer) clearTimeout(timer);
  timer = undefined;
  // A parent that changed is a daemon that died, even if the channel's end was somehow not seen.
  if (view.daemon === 'beating' && process.ppid !== daemonPid) view = { ...view, daemon: 'gone' };
  const step = decide(view, now(), timing);
  view = step.view;
  const action = step.action;
  switch (action.kind) {
    case 'wait':
      if (action.stalledMs !== undefined) {
        log(
          'warn',
          `the watchdog itself did not run for ${String(Math.round(action.stalledMs))} ms: the daemon gets ${String(Math.floor(timing.allowedSilenceMs / 2))} ms to beat again`,
        );
      }
      timer = setTimeout(check, action.checkInMs);
      return;
    case 'exit':
      process.exit(0);
      return;
    case 'give-up':
      acting = true;
      void giveUp(action);
      return;
  }
}

if (!Number.isInteger(daemonPid) || daemonPid <= 1 || !process.send) {
  log('error', `usage: started by the daemon with an IPC channel and ${PID_ARG} PID ${SILENCE_ARG} MS`);
  process.exit(2);
}
process.title = 'tandem-watchdog';
try {
  setPriority(NICE);
} catch {
  // Not root: normal priority.
}

process.on('message', (raw: unknown) => {
  const message = parseToWatchdog(raw);
  if (!message) {
    log('warn', 'ignored a message it does not understand');
    return;
  }
  switch (message.type) {
    case 'beat':
      view = { ...view, lastBeatAt: now() };
      return;
    case 'timing':
      timing = timingFor(message.allowedSilenceMs);
      check();
      return;
    case 'vip':
      view = { ...view, vip: message.vip };
      send({ type: 'ack', seq: message.seq });
      return;
    case 'stop':
      view = { ...view, daemon: 'stopped' };
      acting = true;
      if (timer) clearTimeout(timer);
      // Exit once the acknowledgement is on its way (or at once if it cannot be sent).
      send({ type: 'ack', seq: message.seq }, () => process.exit(0));
      setTimeout(() => process.exit(0), 1000).unref();
      return;
  }
});
process.on('disconnect', () => {
  if (view.daemon !== 'beating') return;
  view = { ...view, daemon: 'gone' };
  check();
});

send({ type: 'ready', pid: process.pid });
check();
