// The main-thread face of the failover heartbeat. Sockets, timers and ping spawning live in a
// worker thread (monitor-worker.ts) so that a main event loop busy with iSCSI cannot delay beats
// or liveness; this class only validates options, relays messages and keeps the last snapshot.
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { Worker } from 'node:worker_threads';
import { TandemError, conflict, invalid, messageOf } from '../../lib/errors.js';
import type { Logger } from '../../observability/logger.js';
import { MAX_SENDER_BYTES, encodeBody } from './datagram.js';
import type { FromWorker, ToWorker, WorkerConfig } from './worker-protocol.js';
import {
  LINK_NAMES,
  type FlatObject,
  type LinkConfig,
  type LinkName,
  type LinkSnapshot,
  type MonitorSnapshot,
  type PingNodeConfig,
} from './types.js';

export const DEFAULT_HEARTBEAT_PORT = 7790;
export const DEFAULT_INTERVAL_MS = 500;
export const DEFAULT_DEAD_TIME_MS = 2500;
export const DEFAULT_PING_INTERVAL_MS = 1000;
export const MIN_SECRET_BYTES = 16;
export const DEFAULT_WORKER_NICE = -10;

export interface HeartbeatLinkOptions {
  readonly name: LinkName;
  readonly local: { readonly host: string; readonly port?: number };
  readonly peer: { readonly host: string; readonly port?: number };
}

export interface HeartbeatMonitorOptions {
  readonly nodeName: string;
  readonly peerName: string;
  /** The pair's shared secret; never logged, handed to the worker by copy. */
  readonly secret: Buffer;
  readonly links: readonly HeartbeatLinkOptions[];
  readonly intervalMs?: number;
  readonly deadTimeMs?: number;
  readonly pingNodes?: readonly PingNodeConfig[];
  readonly pingIntervalMs?: number;
  readonly logger?: Logger;
  /** What beats carry until the first setAdvert. */
  readonly term?: number;
  readonly advert?: FlatObject;
  /**
   * Nice value of the worker thread (default −10: ahead of the data path when CPUs are saturated;
   * needs root or CAP_SYS_NICE, otherwise the worker runs at normal priority). null: leave it.
   */
  readonly workerNice?: number | null;
  /** Shifts this monitor's wall clock, to test clock-offset estimation on one machine. */
  readonly clockSkewMsForTest?: number;
}

export type RequestHandler = (body: FlatObject) => FlatObject | Promise<FlatObject>;

function checkTerm(term: number): void {
  if (!Number.isSafeInteger(term) || term < 0) {
    throw invalid('bad-heartbeat-term', `term must be a whole number ≥ 0, not ${term}`);
  }
}

function checkNodeName(what: string, name: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0 || bytes > MAX_SENDER_BYTES) {
    throw invalid('bad-heartbeat-config', `${what} must be 1-${MAX_SENDER_BYTES} bytes long`);
  }
}

function checkMs(what: string, value: number, min: number): void {
  if (!Number.isFinite(value) || value < min) {
    throw invalid('bad-heartbeat-config', `${what} must be at least ${min} ms, not ${value}`);
  }
}

function checkEndpoint(what: string, host: string, port: number, allowZeroPort: boolean): void {
  if (isIP(host) === 0) throw invalid('bad-heartbeat-config', `${what} "${host}" is not an IP address`);
  if (!Number.isInteger(port) || port < (allowZeroPort ? 0 : 1) || port > 65535) {
    throw invalid('bad-heartbeat-config', `${what} port ${port} is not a valid UDP port`);
  }
}

/** Validates the options and fills in defaults; throws a TandemError (invalid) naming the problem. */
export function resolveMonitorOptions(options: HeartbeatMonitorOptions): WorkerConfig {
  checkNodeName('node name', options.nodeName);
  checkNodeName('peer name', options.peerName);
  if (options.nodeName === options.peerName) {
    throw invalid('bad-heartbeat-config', 'the peer must have a different node name than this node');
  }
  if (!Buffer.isBuffer(options.secret) || options.secret.length < MIN_SECRET_BYTES) {
    throw invalid('bad-heartbeat-config', `the heartbeat secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  if (options.links.length === 0)
    throw invalid('bad-heartbeat-config', 'at least one heartbeat link is needed');
  const links: LinkConfig[] = [];
  for (const link of options.links) {
    if (!LINK_NAMES.includes(link.name)) {
      throw invalid('bad-heartbeat-config', `link name must be one of ${LINK_NAMES.join(', ')}`);
    }
    if (links.some((other) => other.name === link.name)) {
      throw invalid('bad-heartbeat-config', `link ${link.name} is configured twice`);
    }
    const local = { host: link.local.host, port: link.local.port ?? DEFAULT_HEARTBEAT_PORT };
    const peer = { host: link.peer.host, port: link.peer.port ?? DEFAULT_HEARTBEAT_PORT };
    checkEndpoint(`link ${link.name} local address`, local.host, local.port, true);
    checkEndpoint(`link ${link.name} peer address`, peer.host, peer.port, false);
    if (isIP(local.host) !== isIP(peer.host)) {
      throw invalid('bad-heartbeat-config', `link ${link.name} mixes IPv4 and IPv6 addresses`);
    }
    links.push({ name: link.name, local, peer });
  }
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const deadTimeMs = options.deadTimeMs ?? DEFAULT_DEAD_TIME_MS;
  const pingIntervalMs = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
  checkMs('heartbeat interval', intervalMs, 10);
  checkMs('dead time', deadTimeMs, 2 * intervalMs);
  checkMs('ping interval', pingIntervalMs, 100);
  const pingNodes = (options.pingNodes ?? []).map((node) => {
    if (isIP(node.address) === 0) {
      throw invalid('bad-heartbeat-config', `ping node "${node.address}" is not an IP address`);
    }
    if (node.source !== undefined && !/^[A-Za-z0-9_.:%@-]{1,64}$/.test(node.source)) {
      throw invalid('bad-heartbeat-config', `ping source "${node.source}" is not an address or NIC name`);
    }
    return node.source === undefined
      ? { address: node.address }
      : { address: node.address, source: node.source };
  });
  const workerNice = options.workerNice === undefined ? DEFAULT_WORKER_NICE : options.workerNice;
  if (workerNice !== null && (!Number.isInteger(workerNice) || workerNice < -20 || workerNice > 19)) {
    throw invalid('bad-heartbeat-config', `worker nice value must be a whole number from -20 to 19`);
  }
  const term = options.term ?? 0;
  checkTerm(term);
  const advert = options.advert ?? {};
  encodeBody('advert', advert);
  return {
    nodeName: options.nodeName,
    peerName: options.peerName,
    secret: new Uint8Array(options.secret),
    links,
    intervalMs,
    deadTimeMs,
    pingNodes,
    pingIntervalMs,
    term,
    advert: { ...advert },
    workerNice,
    clockSkewMsForTest: options.clockSkewMsForTest ?? 0,
  };
}

/** Starts the worker from compiled JS next to this module, or from the TS sources under tsx. */
function spawnWorker(workerData: WorkerConfig): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./monitor-worker.js', self), { workerData });
  // Node 20 does not apply `--import tsx` from a Worker's execArgv to the worker's entry module,
  // so register tsx's loader inside the worker before importing the TS entry.
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./monitor-worker.ts', self).href;
  const code = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData });
}

function startError(code: string, message: string): TandemError {
  if (code === 'EADDRINUSE') return conflict('heartbeat-port-in-use', message);
  if (code === 'EADDRNOTAVAIL') return invalid('heartbeat-address-not-local', message);
  return new TandemError('unavailable', 'heartbeat-start-failed', message);
}

function idleLink(link: LinkConfig): LinkSnapshot {
  return {
    name: link.name,
    enabled: true,
    local: link.local,
    peer: link.peer,
    alive: false,
    lastHeardAgoMs: null,
    rttMs: null,
    clockOffsetMs: null,
    jitter: { samples: 0, p50: null, p99: null, max: null },
    counters: { sent: 0, sendErrors: 0, received: 0, rejected: {}, ignoredWhileDisabled: 0 },
  };
}

const STOP_GRACE_MS = 1000;

export class HeartbeatMonitor extends EventEmitter<{ change: [MonitorSnapshot]; failed: [Error] }> {
  readonly #config: WorkerConfig;
  readonly #logger: Logger | undefined;
  #worker: Worker | null = null;
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed' = 'new';
  #snapshot: MonitorSnapshot;
  #handler: RequestHandler | null = null;
  #nextRequestId = 1;
  readonly #pending = new Map<number, (body: FlatObject | null) => void>();
  #onStopped: (() => void) | null = null;
  #abortStart: ((error: TandemError) => void) | null = null;

  constructor(options: HeartbeatMonitorOptions) {
    super();
    this.#config = resolveMonitorOptions(options);
    this.#logger = options.logger?.child({ component: 'heartbeat' });
    this.#snapshot = this.#idleSnapshot();
  }

  get intervalMs(): number {
    return this.#config.intervalMs;
  }

  get deadTimeMs(): number {
    return this.#config.deadTimeMs;
  }

  /** Resolves once every link's socket is bound; rejects (and cleans up) when one cannot be. */
  start(): Promise<void> {
    if (this.#state !== 'new') {
      return Promise.reject(conflict('heartbeat-started', 'this heartbeat monitor was already started'));
    }
    this.#state = 'starting';
    return new Promise((resolve, reject) => {
      const worker = spawnWorker(this.#config);
      this.#worker = worker;
      const fail = (error: TandemError): void => {
        if (this.#state !== 'starting') return;
        this.#state = 'failed';
        this.#abortStart = null;
        void worker.terminate();
        reject(error);
      };
      this.#abortStart = fail;
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          if (this.#state !== 'starting') return;
          this.#state = 'running';
          this.#abortStart = null;
          this.#snapshot = message.snapshot;
          resolve();
        } else if (message.type === 'start-failed') {
          fail(startError(message.code, message.message));
        } else {
          this.#onMessage(message);
        }
      });
      worker.on('error', (error) => {
        if (this.#state === 'starting') {
          fail(
            new TandemError('unavailable', 'heartbeat-start-failed', `heartbeat worker: ${error.message}`),
          );
        } else this.#workerDied(error);
      });
      worker.on('exit', (code) => {
        if (this.#state === 'starting') {
          fail(new TandemError('unavailable', 'heartbeat-start-failed', `heartbeat worker exited (${code})`));
        } else if (this.#state === 'running') {
          this.#workerDied(new Error(`heartbeat worker exited unexpectedly (code ${code})`));
        }
        this.#onStopped?.();
      });
    });
  }

  /** Closes the sockets and ends the worker. Pending requests resolve to null. */
  async stop(): Promise<void> {
    this.#abortStart?.(
      new TandemError('unavailable', 'heartbeat-stopped', 'the heartbeat was stopped while starting'),
    );
    const worker = this.#worker;
    if (!worker || this.#state === 'stopped' || this.#state === 'stopping') return;
    const wasRunning = this.#state === 'running';
    this.#state = 'stopping';
    if (wasRunning) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, STOP_GRACE_MS);
        this.#onStopped = () => {
          clearTimeout(timer);
          resolve();
        };
        this.#send({ type: 'stop' });
      });
    }
    this.#onStopped = null;
    await worker.terminate();
    this.#state = 'stopped';
    this.#snapshot = this.#idleSnapshot(); // a stopped monitor knows nothing
    this.#settleAllRequests();
  }

  /** What every beat carries from now on. Throws a TandemError for a bad term or advert. */
  setAdvert(term: number, advert: FlatObject): void {
    checkTerm(term);
    encodeBody('advert', advert);
    this.#send({ type: 'set-advert', term, advert: { ...advert } });
  }

  /** Sends a beat on every link at once (after a change the peer should learn quickly). */
  beatNow(): void {
    this.#send({ type: 'beat-now' });
  }

  /** The last state the worker reported; ages are as of `takenAt`. */
  snapshot(): MonitorSnapshot {
    return this.#snapshot;
  }

  /**
   * Sends `body` on every alive link (every link when none is), retransmitting each interval until
   * the first valid reply; resolves with the reply's body, or null after `timeoutMs`.
   */
  request(body: FlatObject, timeoutMs: number): Promise<FlatObject | null> {
    encodeBody('request body', body);
    checkMs('request timeout', timeoutMs, 1);
    if (this.#state !== 'running') {
      return Promise.reject(
        new TandemError('unavailable', 'heartbeat-not-running', 'the heartbeat is not running'),
      );
    }
    const id = this.#nextRequestId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#send({ type: 'request', id, body: { ...body }, timeoutMs });
    });
  }

  /** Handles the peer's requests; a retransmitted request is answered from a cache, not handled twice. */
  onRequest(handler: RequestHandler): void {
    this.#handler = handler;
  }

  /** Test hook: a disabled link neither sends nor accepts, like a cut cable on this side. */
  setLinkEnabled(name: LinkName, enabled: boolean): void {
    if (!this.#config.links.some((link) => link.name === name)) {
      throw invalid('bad-heartbeat-link', `there is no heartbeat link named ${name}`);
    }
    this.#send({ type: 'set-link-enabled', link: name, enabled });
  }

  #send(message: ToWorker): void {
    if (this.#state === 'running' || (this.#state === 'stopping' && message.type === 'stop')) {
      this.#worker?.postMessage(message);
    }
  }

  #onMessage(message: FromWorker): void {
    switch (message.type) {
      case 'snapshot':
        this.#snapshot = message.snapshot;
        this.emit('change', message.snapshot);
        return;
      case 'request-result': {
        const resolve = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        resolve?.(message.body);
        return;
      }
      case 'incoming-request':
        return this.#handleIncoming(message.key, message.body);
      case 'log':
        this.#logger?.[message.level](message.fields, message.message);
        return;
      case 'stopped':
        this.#onStopped?.();
        return;
      case 'ready':
      case 'start-failed':
        return;
    }
  }

  #handleIncoming(key: string, body: FlatObject): void {
    const handler = this.#handler;
    if (!handler) {
      this.#send({ type: 'reply-dropped', key });
      return;
    }
    Promise.resolve()
      .then(() => handler(body))
      .then(
        (reply) => {
          encodeBody('reply body', reply);
          this.#send({ type: 'reply', key, body: { ...reply } });
        },
        (error: unknown) => {
          this.#logger?.warn({ error: messageOf(error) }, 'heartbeat request handler failed');
          this.#send({ type: 'reply', key, body: { error: messageOf(error) } });
        },
      )
      .catch((error: unknown) => {
        // The handler's reply was not a valid body: answer with the reason rather than silence.
        this.#logger?.warn({ error: messageOf(error) }, 'heartbeat reply refused');
        this.#send({ type: 'reply', key, body: { error: messageOf(error) } });
      });
  }

  #workerDied(error: Error): void {
    if (this.#state !== 'running') return;
    this.#state = 'failed';
    this.#logger?.error({ error: error.message }, 'heartbeat worker failed');
    // Knowing nothing is safer than trusting a stale view: report every link and ping node dead.
    this.#snapshot = this.#idleSnapshot();
    this.#settleAllRequests();
    this.emit('change', this.#snapshot);
    if (this.listenerCount('failed') > 0) this.emit('failed', error);
  }

  #settleAllRequests(): void {
    for (const resolve of this.#pending.values()) resolve(null);
    this.#pending.clear();
  }

  #idleSnapshot(): MonitorSnapshot {
    return {
      takenAt: Date.now(),
      nodeName: this.#config.nodeName,
      bootId: '',
      term: this.#config.term,
      links: this.#config.links.map(idleLink),
      peer: {
        name: this.#config.peerName,
        alive: false,
        advert: null,
        term: null,
        bootId: null,
        lastHeardAgoMs: null,
        via: null,
      },
      ping: {
        reachable: false,
        perNode: this.#config.pingNodes.map((node) => ({
          address: node.address,
          source: node.source ?? null,
          reachable: false,
          lastOkAgoMs: null,
          error: null,
        })),
      },
    };
  }
}
