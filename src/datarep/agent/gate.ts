// The agent's gate: a TCP front end in the daemon that owns the agent's public address and port and
// hands connections to rsync, which listens on loopback only. rsync alone cannot do two things
// (rsyncd.conf(5) and clientserver.c of rsync 3.5.0): its module list ignores "hosts allow", and it
// takes a "max connections" slot before the password challenge and keeps it for up to 60 s, so ten
// clients that never answer lock everybody else out. The gate therefore
//
// - refuses a client that is not in the allowed hosts as soon as it connects, before rsync sees it
//   (so a stranger gets neither the module list nor anything else), with rsync's own kind of refusal
//   ("@ERROR: access denied ...", exit code 5 at the client) and a line in the node's log;
// - hands rsync only so many unauthenticated connections per client and in total (admission.ts),
//   counting a connection's slot as taken until rsync has closed its side;
// - drops a connection that has not authenticated (rsync's "@RSYNCD: OK") within AUTH_DEADLINE_MS
//   of connecting, or finished a module listing in that time;
// - tells rsync the real client address in a PROXY protocol header ("proxy protocol = yes"), so
//   rsync's "hosts allow" still applies and its log names the client, not 127.0.0.1;
// - and after authentication only pipes bytes both ways (socket.pipe), parsing nothing.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { messageOf } from '../../lib/errors.js';
import type { Logger } from '../../observability/logger.js';
import { Admission, type AdmissionLimits, type AdmissionStep } from './admission.js';
import { allowedByAddress, clientKey, compileAllowedHosts, type AllowedHosts } from './allowed-hosts.js';
import { parseAddress, proxyHeaderV1, ServerLineScanner, type ServerLine } from './handshake.js';
import { HostNameCheck } from './host-names.js';
import { AGENT_IO_TIMEOUT_SECONDS, RSYNC_LOOPBACK, type AgentListen } from './rsyncd-config.js';

/** From connect to "@RSYNCD: OK" (or the end of a listing): host check, waiting, greeting, password. */
export const AUTH_DEADLINE_MS = 5000;

/** Admission limits apart from the total, which follows the agent's max connections. */
export const GATE_LIMITS: Omit<AdmissionLimits, 'total'> = {
  perClient: 2,
  evictAfterMs: 1000,
  waitingPerClient: 8,
  waitingTotal: 64,
};

/** Unauthenticated connections with rsync in all: one below max connections, so a slot stays free. */
export const pendingTotalFor = (maxConnections: number): number => Math.max(1, maxConnections - 1);

/** A waiting connection with less time than this left is not handed to rsync any more. */
const NO_TIME_LEFT_MS = 100;
/** After rsync has closed a connection, its slot is counted free this much later. */
const SLOT_RELEASE_MS = 50;
/** While rsync is (re)starting, a connection tries to reach it for this long (within the deadline). */
const UPSTREAM_RETRY_MS = 2000;
const UPSTREAM_RETRY_EVERY_MS = 100;
/** A refused or finished socket whose peer does not close is destroyed after this. */
const LINGER_MS = 2000;
const MAX_LINGERING = 64;
/** At most one refusal or drop line per client and this time (the others are counted in it). */
const LOG_EVERY_MS = 10_000;
/** rsync's greeting for a refusal: protocol 30 needs no digest list; the client reads the @ERROR next. */
const REFUSAL_GREETING = '@RSYNCD: 30.0\n';

export interface GateSettings {
  readonly allowedHosts: readonly string[];
  readonly maxConnections: number;
}

export interface GateOptions {
  readonly logger: Logger;
  /** The loopback port rsync listens on now; null while it is not started. */
  readonly upstreamPort: () => number | null;
  readonly deadlineMs?: number;
  readonly limits?: Partial<Omit<AdmissionLimits, 'total'>>;
  readonly names?: HostNameCheck;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export interface GateStatus {
  readonly listening: boolean;
  /** Client connections open now. */
  readonly open: number;
  /** Authenticated: rsync sessions running. */
  readonly sessions: number;
  /** With rsync and not yet authenticated. */
  readonly authenticating: number;
  /** Waiting for their turn to be handed to rsync. */
  readonly waiting: number;
  /** Since the gate was made: refused at connect, dropped for not authenticating in time. */
  readonly refused: number;
  readonly dropped: number;
  readonly lastError: string | null;
}

type Phase = 'checking' | 'admitting' | 'connecting' | 'handshake' | 'authenticated' | 'closed';

interface Conn {
  readonly client: Socket;
  readonly address: string;
  readonly port: number;
  readonly key: string;
  readonly acceptedAt: number;
  phase: Phase;
  upstream: Socket | null;
  deadline: NodeJS.Timeout | null;
  readonly scanner: ServerLineScanner;
  lastLine: ServerLine | null;
  watch: ((chunk: Buffer) => void) | null;
  /** Its place in the admission is free again (authenticated, or rsync's side closed). */
  released: boolean;
  /** Authenticated and rsync's side still open: the session holds one of rsync's slots. */
  session: boolean;
}

export class AgentGate {
  private readonly logger: Logger;
  private readonly deadlineMs: number;
  private readonly limits: Omit<AdmissionLimits, 'total'>;
  private readonly names: HostNameCheck;
  private readonly admission: Admission<Conn>;
  private readonly conns = new Set<Conn>();
  private hosts: AllowedHosts = compileAllowedHosts([]);
  private target: AgentListen | null = null;
  private server: Server | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  private evictionTimer: NodeJS.Timeout | null = null;
  private lingering = 0;
  private sessions = 0;
  private refused = 0;
  private dropped = 0;
  private lastError: string | null = null;
  private readonly logged = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly options: GateOptions) {
    this.logger = options.logger;
    this.deadlineMs = options.deadlineMs ?? AUTH_DEADLINE_MS;
    this.limits = { ...GATE_LIMITS, ...options.limits };
    this.names = options.names ?? new HostNameCheck();
    this.admission = new Admission<Conn>({ ...this.limits, total: pendingTotalFor(10) });
    this.backoffMs = options.initialBackoffMs ?? 1000;
  }

  /** Allowed hosts and limits for the connections that arrive from now on. */
  configure(settings: GateSettings): void {
    this.hosts = compileAllowedHosts(settings.allowedHosts);
    this.names.reset();
    this.admission.setLimits({ ...this.limits, total: pendingTotalFor(settings.maxConnections) });
  }

  /**
   * Listens on `listen` (moving there from another address: connections already open stay). When
   * the port cannot be had, the error shows in status() and the gate tries again, 1 s, 2 s, 4 s ...
   * up to 30 s apart, until it can or is told otherwise.
   */
  async listen(listen: AgentListen): Promise<void> {
    const same =
      this.target !== null && this.target.address === listen.address && this.target.port === listen.port;
    if (same && (this.server !== null || this.retryTimer !== null)) return;
    this.stopListening();
    this.target = listen;
    this.backoffMs = this.options.initialBackoffMs ?? 1000;
    await this.tryListen(listen);
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    const server = this.server;
    this.stopListening();
    this.target = null;
    if (this.evictionTimer !== null) clearTimeout(this.evictionTimer);
    this.evictionTimer = null;
    for (const conn of [...this.conns]) {
      conn.upstream?.destroy();
      conn.client.destroy();
      this.finish(conn);
    }
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  status(): GateStatus {
    return {
      listening: this.server !== null,
      open: this.conns.size,
      sessions: this.sessions,
      authenticating: this.admission.pendingCount,
      waiting: this.admission.waitingCount,
      refused: this.refused,
      dropped: this.dropped,
      lastError: this.lastError,
    };
  }

  private stopListening(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    // Stops accepting at once; the connections it accepted go on.
    this.server?.close();
    this.server = null;
  }

  private async tryListen(listen: AgentListen): Promise<void> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) =>
      this.onConnection(socket),
    );
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: listen.address, port: listen.port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      server.close();
      if (this.target !== listen) return;
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 30_000);
      this.lastError = `cannot listen on ${where(listen)}: ${messageOf(error)}`;
      this.logger.error(
        { event: 'agent-listen-failed', address: listen.address, port: listen.port, retryInMs: delay },
        `data replication agent ${this.lastError}; trying again in ${delay} ms`,
      );
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (this.target === listen) void this.tryListen(listen);
      }, delay);
      return;
    }
    if (this.target !== listen) {
      server.close();
      return;
    }
    server.on('error', (error) => this.logger.error({ err: error }, 'data replication agent gate error'));
    this.server = server;
    this.lastError = null;
    this.logger.info(
      { event: 'agent-listening', address: listen.address, port: listen.port },
      `data replication agent listening on ${where(listen)}`,
    );
  }

  private onConnection(client: Socket): void {
    const parsed = parseAddress(client.remoteAddress ?? '');
    if (parsed === null || client.remotePort === undefined) {
      client.destroy();
      return;
    }
    const address = parsed.toString();
    const conn: Conn = {
      client,
      address,
      port: client.remotePort,
      key: clientKey(address),
      acceptedAt: Date.now(),
      phase: 'checking',
      upstream: null,
      deadline: null,
      scanner: new ServerLineScanner(),
      lastLine: null,
      watch: null,
      released: false,
      session: false,
    };
    this.conns.add(conn);
    client.setNoDelay(true);
    client.setKeepAlive(true);
    client.on('error', () => client.destroy());
    client.on('close', () => this.onClientClose(conn));
    conn.deadline = setTimeout(() => {
      const waited = conn.phase === 'admitting' ? 'waited for its turn and ' : '';
      this.drop(conn, `${waited}did not authenticate within ${this.deadlineMs / 1000} s`);
    }, this.deadlineMs);

    const hosts = this.hosts;
    if (allowedByAddress(hosts, address)) {
      this.admit(conn);
      return;
    }
    if (!hosts.needsReverse) {
      this.refuse(conn, 'not in allowed hosts', `access denied to this agent from ${address}`);
      return;
    }
    void this.names.check(hosts, address).then((result) => {
      if (conn.phase !== 'checking') return;
      if (result === 'busy') {
        this.refuse(conn, 'too many host name lookups at once', 'too many connections -- try again later');
      } else if (!result.allowed) {
        const named = result.name === null ? '' : ` (${result.name})`;
        this.refuse(conn, `not in allowed hosts${named}`, `access denied to this agent from ${address}`);
      } else {
        this.admit(conn);
      }
    });
  }

  private admit(conn: Conn): void {
    conn.phase = 'admitting';
    const step = this.admission.arrive(conn, conn.key, Date.now());
    this.act(step);
    if (step.refused !== null) {
      const reason =
        step.refused === 'client-busy'
          ? `more than ${this.limits.waitingPerClient} connections of this client waiting`
          : `more than ${this.limits.waitingTotal} connections waiting`;
      this.refuse(conn, reason, `too many connections from ${conn.address} -- try again later`);
    }
  }

  private act(step: AdmissionStep<Conn>): void {
    for (const conn of step.evict) {
      this.drop(
        conn,
        `not authenticated after ${this.limits.evictAfterMs / 1000} s while others waited ` +
          '(too many unauthenticated connections)',
      );
    }
    for (const conn of step.forward) {
      // One whose deadline is upon it would only cost rsync a process; it is dropped now instead.
      if (Date.now() - conn.acceptedAt > this.deadlineMs - NO_TIME_LEFT_MS) {
        this.drop(conn, `waited for its turn until its ${this.deadlineMs / 1000} s were up`);
      } else this.connectUpstream(conn);
    }
    this.scheduleEviction();
  }

  private scheduleEviction(): void {
    if (this.evictionTimer !== null) clearTimeout(this.evictionTimer);
    this.evictionTimer = null;
    const at = this.admission.nextEvictionAt();
    if (at === null) return;
    this.evictionTimer = setTimeout(
      () => {
        this.evictionTimer = null;
        this.act(this.admission.pump(Date.now()));
      },
      Math.max(0, at - Date.now()),
    );
  }

  private connectUpstream(conn: Conn): void {
    if (conn.phase === 'closed') return;
    conn.phase = 'connecting';
    const port = this.options.upstreamPort();
    if (port === null) {
      this.retryUpstream(conn, 'rsync is not running');
      return;
    }
    const upstream = connect({ host: RSYNC_LOOPBACK, port, allowHalfOpen: true, noDelay: true });
    conn.upstream = upstream;
    upstream.once('connect', () => this.onUpstreamConnected(conn, upstream));
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (conn.upstream !== upstream) return;
      if (conn.phase === 'connecting' && error.code === 'ECONNREFUSED') {
        conn.upstream = null;
        upstream.destroy();
        this.retryUpstream(conn, 'rsync is not listening');
        return;
      }
      upstream.destroy();
    });
    // rsync's side closed: its process for this connection is exiting, and gives its slot back as it
    // does (the socket is closed a moment before the lock file, so a little later).
    const rsyncDone = (): void => {
      this.releaseSoon(conn);
      this.endSession(conn);
      // rsync has answered for good (a list, an @ERROR, the end of a session): no deadline any more;
      // whatever it sent goes out first, then the client is closed.
      if (conn.deadline !== null) clearTimeout(conn.deadline);
      conn.deadline = null;
      this.closeSoon(conn.client);
    };
    upstream.on('end', () => {
      if (conn.upstream === upstream) rsyncDone();
    });
    upstream.on('close', () => {
      if (conn.upstream !== upstream) return;
      if (conn.phase === 'connecting') {
        this.releaseSoon(conn);
        this.drop(conn, 'cannot reach rsync');
      } else rsyncDone();
    });
  }

  private retryUpstream(conn: Conn, reason: string): void {
    if (Date.now() - conn.acceptedAt + UPSTREAM_RETRY_EVERY_MS > UPSTREAM_RETRY_MS) {
      this.drop(conn, `${reason} (tried for ${UPSTREAM_RETRY_MS / 1000} s)`);
      return;
    }
    setTimeout(() => {
      if (conn.phase === 'connecting') this.connectUpstream(conn);
    }, UPSTREAM_RETRY_EVERY_MS).unref();
  }

  private onUpstreamConnected(conn: Conn, upstream: Socket): void {
    if (conn.phase !== 'connecting' || conn.upstream !== upstream) return;
    conn.phase = 'handshake';
    const { client } = conn;
    upstream.write(
      proxyHeaderV1(
        { address: conn.address, port: conn.port },
        { address: client.localAddress ?? RSYNC_LOOPBACK, port: client.localPort ?? 0 },
      ),
    );
    conn.watch = (chunk: Buffer) => this.watch(conn, chunk);
    upstream.on('data', conn.watch);
    upstream.pipe(client);
    client.pipe(upstream);
  }

  /** Server lines until "@RSYNCD: OK"; then the gate only pipes. */
  private watch(conn: Conn, chunk: Buffer): void {
    for (const line of conn.scanner.push(chunk)) {
      conn.lastLine = line;
      if (line.kind === 'authenticated') {
        conn.phase = 'authenticated';
        if (conn.deadline !== null) clearTimeout(conn.deadline);
        conn.deadline = null;
        if (conn.watch !== null) conn.upstream?.off('data', conn.watch);
        conn.watch = null;
        this.logger.debug(
          { event: 'agent-client-authenticated', client: conn.address, clientPort: conn.port },
          `data replication agent: ${conn.address} authenticated`,
        );
        conn.session = true;
        this.sessions += 1;
        this.admission.setOccupied(this.sessions);
        this.release(conn);
      }
    }
  }

  private endSession(conn: Conn): void {
    if (!conn.session) return;
    conn.session = false;
    setTimeout(() => {
      this.sessions -= 1;
      this.admission.setOccupied(this.sessions);
      this.act(this.admission.pump(Date.now()));
    }, SLOT_RELEASE_MS).unref();
  }

  private onClientClose(conn: Conn): void {
    this.finish(conn);
  }

  /**
   * Ends `socket` after what it still has to send, and destroys it if its peer does not close: once
   * our buffer has gone to the kernel (which still delivers it after the close), or at the latest
   * after rsync's own I/O timeout.
   */
  private closeSoon(socket: Socket): void {
    if (socket.destroyed) return;
    const timers: NodeJS.Timeout[] = [];
    const later = (ms: number): void => {
      timers.push(setTimeout(() => socket.destroy(), ms).unref());
    };
    socket.once('close', () => timers.forEach((t) => clearTimeout(t)));
    later(AGENT_IO_TIMEOUT_SECONDS * 1000);
    if (socket.writableFinished) later(LINGER_MS);
    else socket.once('finish', () => later(LINGER_MS));
    socket.end();
  }

  /** The client side is done (closed, dropped or refused); idempotent. */
  private finish(conn: Conn): void {
    if (conn.phase === 'closed') return;
    const authenticated = conn.phase === 'authenticated';
    conn.phase = 'closed';
    if (conn.deadline !== null) clearTimeout(conn.deadline);
    conn.deadline = null;
    this.conns.delete(conn);
    const upstream = conn.upstream;
    if (upstream === null) this.release(conn);
    else if (authenticated) this.closeSoon(upstream);
    else this.endUpstream(conn, upstream);
  }

  /**
   * Before authentication: tells rsync's process for the connection that the client is gone (EOF,
   * on which it exits) and keeps the connection's place taken until rsync has closed its side too,
   * so the gate never hands rsync a newcomer for a slot that rsync still counts as taken.
   */
  private endUpstream(conn: Conn, upstream: Socket): void {
    if (upstream.destroyed) {
      this.release(conn);
      return;
    }
    upstream.unpipe();
    conn.client.unpipe(upstream);
    upstream.resume();
    upstream.end();
    setTimeout(() => upstream.destroy(), LINGER_MS).unref();
  }

  private releaseSoon(conn: Conn): void {
    if (conn.released) return;
    setTimeout(() => this.release(conn), SLOT_RELEASE_MS).unref();
  }

  /** Frees the connection's place in the admission; idempotent. */
  private release(conn: Conn): void {
    if (conn.released) return;
    conn.released = true;
    this.act(this.admission.leave(conn, Date.now()));
  }

  private drop(conn: Conn, reason: string): void {
    if (conn.phase === 'closed' || conn.phase === 'authenticated') return;
    this.dropped += 1;
    const last = conn.lastLine === null ? '' : ` (last from rsync: ${describe(conn.lastLine)})`;
    this.note(conn, 'agent-dropped', `dropped ${conn.address}: ${reason}${last}`, reason);
    conn.client.destroy();
    this.finish(conn);
  }

  /** Refuses before rsync is involved: rsync's greeting and an @ERROR line, then the socket is closed. */
  private refuse(conn: Conn, reason: string, message: string): void {
    this.refused += 1;
    this.note(conn, 'agent-refused', `refused ${conn.address}: ${reason}`, reason);
    this.finish(conn);
    const { client } = conn;
    if (this.lingering >= MAX_LINGERING) {
      client.destroy();
      return;
    }
    this.lingering += 1;
    client.once('close', () => (this.lingering -= 1));
    client.resume();
    client.end(`${REFUSAL_GREETING}@ERROR: ${message}\n`);
    setTimeout(() => client.destroy(), LINGER_MS).unref();
  }

  /** One log line per event, client and LOG_EVERY_MS; the lines left out are counted in the next one. */
  private note(conn: Conn, event: string, message: string, reason: string): void {
    const now = Date.now();
    const key = `${event} ${conn.key}`;
    const seen = this.logged.get(key);
    if (seen !== undefined && now - seen.at < LOG_EVERY_MS) {
      seen.suppressed += 1;
      return;
    }
    if (this.logged.size >= 4096) this.logged.clear();
    this.logged.set(key, { at: now, suppressed: 0 });
    this.logger.warn(
      {
        event,
        client: conn.address,
        clientPort: conn.port,
        reason,
        ...(seen === undefined || seen.suppressed === 0 ? {} : { alsoSince: seen.suppressed }),
      },
      `data replication agent ${message}`,
    );
  }
}

function where(listen: AgentListen): string {
  return listen.address.includes(':')
    ? `[${listen.address}]:${listen.port}`
    : `${listen.address}:${listen.port}`;
}

function describe(line: ServerLine): string {
  switch (line.kind) {
    case 'greeting':
      return 'greeting';
    case 'auth-challenge':
      return 'password challenge';
    case 'error':
      return `@ERROR ${line.message}`;
    default:
      return line.kind;
  }
}
