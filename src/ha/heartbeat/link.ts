// One heartbeat link: a UDP socket bound to a local address, sending to the peer's. It signs what
// it sends, verifies what it receives (HMAC, sender, link, replay) and keeps the link's health:
// last heard, RTT, clock offset, inter-arrival jitter and counters. Runs inside the monitor worker.
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { formatHostPort } from '../../lib/host-port.js';
import { decodeDatagram, encodeDatagram, type Datagram, type DatagramKind } from './datagram.js';
import { ReplayGuard } from './replay-guard.js';
import { ClockEstimator, JitterWindow, clockSample } from './stats.js';
import type { FlatObject, LinkConfig, LinkName, LinkSnapshot } from './types.js';

export interface MonitorClock {
  /** Wall clock, ms since the epoch (what goes into sentAt). */
  readonly wallNow: () => number;
  /** Monotonic ms, for ages and durations. */
  readonly monoNow: () => number;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogSink = (level: LogLevel, message: string, fields: Record<string, unknown>) => void;

export interface LinkOptions {
  readonly config: LinkConfig;
  readonly secret: Buffer;
  readonly nodeName: string;
  readonly peerName: string;
  readonly bootId: string;
  readonly intervalMs: number;
  readonly deadTimeMs: number;
  readonly clock: MonitorClock;
  readonly log: LogSink;
  /** Called for every accepted datagram. */
  readonly onDatagram: (datagram: Datagram, link: HeartbeatLink) => void;
}

export interface OutgoingDatagram {
  readonly kind: DatagramKind;
  readonly term: number;
  readonly body: FlatObject;
  readonly requestId?: number;
  readonly offSchedule?: boolean;
}

/** Refused datagrams are logged at most this often per reason. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;
/** Sent seqs remembered for RTT on the monotonic clock. */
const SENT_TIMES_KEPT = 64;
const MAX_U32 = 0xffffffff;

export class LinkBindError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'LinkBindError';
  }
}

export class HeartbeatLink {
  readonly name: LinkName;
  enabled = true;
  readonly #options: LinkOptions;
  readonly #socket: Socket;
  readonly #replay = new ReplayGuard();
  readonly #jitter: JitterWindow;
  readonly #clockEstimator = new ClockEstimator();
  readonly #sentTimes = new Map<number, number>();
  #seq = 0;
  #lastHeardMono: number | null = null;
  #lastReceived: { seq: number; sentAt: number; arrivedMono: number } | null = null;
  #sent = 0;
  #sendErrors = 0;
  #received = 0;
  #ignoredWhileDisabled = 0;
  readonly #rejected: Record<string, number> = {};
  readonly #refusalLog = new Map<string, { lastLoggedMono: number; suppressed: number }>();
  #closed = false;

  constructor(options: LinkOptions) {
    this.#options = options;
    this.name = options.config.name;
    this.#jitter = new JitterWindow(options.intervalMs);
    this.#socket = createSocket({ type: isIP(options.config.local.host) === 6 ? 'udp6' : 'udp4' });
    this.#socket.on('message', (bytes, remote) => this.#receive(bytes, `${remote.address}:${remote.port}`));
  }

  /** Binds the local address; rejects with a LinkBindError naming the link and the address. */
  bind(): Promise<void> {
    const { local } = this.#options.config;
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        const code = error.code ?? 'EBIND';
        const why =
          code === 'EADDRINUSE'
            ? 'the port is already in use'
            : code === 'EADDRNOTAVAIL'
              ? 'the address is not configured on this machine'
              : error.message;
        reject(
          new LinkBindError(
            code,
            `cannot bind heartbeat link ${this.name} to ${formatHostPort(local)}: ${why} (${code})`,
          ),
        );
      };
      this.#socket.once('error', onError);
      this.#socket.bind({ address: local.host, port: local.port, exclusive: true }, () => {
        this.#socket.off('error', onError);
        this.#socket.on('error', (error) =>
          this.#options.log('warn', 'heartbeat socket error', { link: this.name, error: error.message }),
        );
        resolve();
      });
    });
  }

  /** The bound port (useful when the configured local port is 0). */
  get localPort(): number {
    return this.#socket.address().port;
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve(); // never bound
      }
    });
  }

  isAlive(monoNow: number): boolean {
    return this.#lastHeardMono !== null && monoNow - this.#lastHeardMono <= this.#options.deadTimeMs;
  }

  lastHeardMono(): number | null {
    return this.#lastHeardMono;
  }

  send(outgoing: OutgoingDatagram): void {
    if (!this.enabled || this.#closed) return;
    const { clock, config, secret } = this.#options;
    this.#seq = this.#seq >= MAX_U32 ? 1 : this.#seq + 1;
    const now = clock.monoNow();
    const last = this.#lastReceived;
    const datagram: Datagram = {
      kind: outgoing.kind,
      link: this.name,
      offSchedule: outgoing.offSchedule ?? outgoing.kind !== 'beat',
      bootId: this.#options.bootId,
      term: outgoing.term,
      seq: this.#seq,
      requestId: outgoing.requestId ?? 0,
      sentAt: clock.wallNow(),
      echo: last ? { seq: last.seq, sentAt: last.sentAt, heldMs: Math.max(0, now - last.arrivedMono) } : null,
      sender: this.#options.nodeName,
      body: outgoing.body,
    };
    const bytes = encodeDatagram(datagram, secret);
    this.#sentTimes.set(this.#seq, now);
    if (this.#sentTimes.size > SENT_TIMES_KEPT) {
      const oldest = this.#sentTimes.keys().next();
      if (oldest.done !== true) this.#sentTimes.delete(oldest.value);
    }
    this.#socket.send(bytes, config.peer.port, config.peer.host, (error) => {
      if (error) this.#sendErrors++;
      else this.#sent++;
    });
  }

  #receive(bytes: Buffer, from: string): void {
    const decoded = decodeDatagram(bytes, this.#options.secret);
    if (!decoded.ok) return this.#refuse(decoded.reason, decoded.detail, from);
    const datagram = decoded.datagram;
    if (datagram.sender !== this.#options.peerName) {
      return this.#refuse('unknown-sender', `sender "${datagram.sender}"`, from);
    }
    if (datagram.bootId === this.#options.bootId)
      return this.#refuse('own-datagram', 'our own boot id', from);
    if (datagram.link !== this.name) {
      return this.#refuse('wrong-link', `sent on link ${datagram.link}`, from);
    }
    if (!this.enabled) {
      this.#ignoredWhileDisabled++;
      return;
    }
    const now = this.#options.clock.monoNow();
    const verdict = this.#replay.check(datagram.bootId, datagram.seq, datagram.sentAt, now);
    if (verdict !== 'accept' && verdict !== 'restart') {
      return this.#refuse(verdict, `boot ${datagram.bootId} seq ${datagram.seq}`, from);
    }
    if (verdict === 'restart' || !this.isAlive(now)) {
      this.#jitter.reset();
      if (verdict === 'restart') this.#clockEstimator.reset();
    }
    this.#received++;
    this.#lastHeardMono = now;
    this.#lastReceived = { seq: datagram.seq, sentAt: datagram.sentAt, arrivedMono: now };
    if (datagram.kind === 'beat' && !datagram.offSchedule) this.#jitter.arrival(now);
    if (datagram.echo) {
      const sentMono = this.#sentTimes.get(datagram.echo.seq);
      const roundTrip =
        sentMono === undefined ? undefined : Math.max(0, now - sentMono - datagram.echo.heldMs);
      if (roundTrip !== undefined) {
        this.#clockEstimator.add(
          clockSample(
            datagram.echo.sentAt,
            datagram.sentAt,
            datagram.echo.heldMs,
            this.#options.clock.wallNow(),
            roundTrip,
          ),
        );
      }
    }
    this.#options.onDatagram(datagram, this);
  }

  #refuse(reason: string, detail: string, from: string): void {
    this.#rejected[reason] = (this.#rejected[reason] ?? 0) + 1;
    const now = this.#options.clock.monoNow();
    const entry = this.#refusalLog.get(reason);
    if (entry && now - entry.lastLoggedMono < REFUSAL_LOG_INTERVAL_MS) {
      entry.suppressed++;
      return;
    }
    this.#refusalLog.set(reason, { lastLoggedMono: now, suppressed: 0 });
    this.#options.log('warn', 'heartbeat datagram refused', {
      link: this.name,
      reason,
      detail,
      from,
      suppressedSinceLastLog: entry?.suppressed ?? 0,
    });
  }

  snapshot(monoNow: number): LinkSnapshot {
    const { config } = this.#options;
    const local = { host: config.local.host, port: this.#closed ? config.local.port : this.localPort };
    return {
      name: this.name,
      enabled: this.enabled,
      local,
      peer: { ...config.peer },
      alive: this.isAlive(monoNow),
      lastHeardAgoMs: this.#lastHeardMono === null ? null : monoNow - this.#lastHeardMono,
      rttMs: this.#clockEstimator.rttMs,
      clockOffsetMs: this.#clockEstimator.offsetMs,
      jitter: this.#jitter.stats(),
      counters: {
        sent: this.#sent,
        sendErrors: this.#sendErrors,
        received: this.#received,
        rejected: { ...this.#rejected },
        ignoredWhileDisabled: this.#ignoredWhileDisabled,
      },
    };
  }
}
