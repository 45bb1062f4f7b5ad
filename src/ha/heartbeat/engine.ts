// The heartbeat engine: what runs inside the monitor worker. It owns the links, the beat schedule,
// the ping-node checker, request retransmission and the duplicate-request cache, and reports
// snapshots through `post`. It has no worker_threads code, so it can also run in-process.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { PingNodeChecker, type PingRunner } from '../quorum/ping-node.js';
import type { Datagram } from './datagram.js';
import { HeartbeatLink, type LinkBindError, type MonitorClock } from './link.js';
import type { FromWorker, ToWorker, WorkerConfig } from './worker-protocol.js';
import type { FlatObject, LinkName, MonitorSnapshot, PeerSnapshot } from './types.js';

/** Answers to the peer's requests kept for duplicates (retransmissions arrive on both links). */
const REPLY_CACHE_SIZE = 64;

interface OutgoingRequest {
  readonly requestId: number;
  readonly body: FlatObject;
  nextSendMono: number;
  readonly timer: NodeJS.Timeout;
}

type IncomingRequest =
  { state: 'pending'; readonly links: Set<LinkName> } | { state: 'answered'; readonly body: FlatObject };

interface PeerState {
  advert: FlatObject | null;
  term: number | null;
  bootId: string | null;
  lastHeardMono: number | null;
  via: LinkName | null;
}

export class HeartbeatEngine {
  readonly bootId = randomBytes(8).toString('hex');
  readonly #config: WorkerConfig;
  readonly #post: (message: FromWorker) => void;
  readonly #clock: MonitorClock;
  readonly #links: HeartbeatLink[];
  readonly #ping: PingNodeChecker;
  #term: number;
  #advert: FlatObject;
  readonly #peer: PeerState = { advert: null, term: null, bootId: null, lastHeardMono: null, via: null };
  readonly #outgoing = new Map<number, OutgoingRequest & { readonly clientId: number }>();
  readonly #incoming = new Map<string, IncomingRequest>();
  #nextRequestId = 1;
  #beatTimer: NodeJS.Timeout | null = null;
  #tickTimer: NodeJS.Timeout | null = null;
  #beatEpochMono = 0;
  #beatsScheduled = 0;
  #lastSignature = '';
  #lastPostMono = 0;
  #stopped = false;

  constructor(config: WorkerConfig, post: (message: FromWorker) => void, pingRunner?: PingRunner) {
    this.#config = config;
    this.#post = post;
    this.#term = config.term;
    this.#advert = config.advert;
    const skew = config.clockSkewMsForTest;
    this.#clock = { wallNow: () => Date.now() + skew, monoNow: () => performance.now() };
    const secret = Buffer.from(config.secret);
    this.#links = config.links.map(
      (link) =>
        new HeartbeatLink({
          config: link,
          secret,
          nodeName: config.nodeName,
          peerName: config.peerName,
          bootId: this.bootId,
          intervalMs: config.intervalMs,
          deadTimeMs: config.deadTimeMs,
          clock: this.#clock,
          log: (level, message, fields) => this.#post({ type: 'log', level, message, fields }),
          onDatagram: (datagram, via) => this.#onDatagram(datagram, via),
        }),
    );
    this.#ping = new PingNodeChecker({
      nodes: config.pingNodes,
      intervalMs: config.pingIntervalMs,
      deadTimeMs: config.deadTimeMs,
      monoNow: this.#clock.monoNow,
      ...(pingRunner ? { runner: pingRunner } : {}),
      onResult: () => this.#maybePost(false),
    });
  }

  /** Binds every link (all or none) and starts beating; rejects with the first LinkBindError. */
  async start(): Promise<MonitorSnapshot> {
    const results = await Promise.allSettled(this.#links.map((link) => link.bind()));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) {
      await Promise.all(this.#links.map((link) => link.close()));
      throw failed.reason as LinkBindError;
    }
    this.#beatEpochMono = this.#clock.monoNow();
    this.#beat(false);
    this.#scheduleBeat();
    const tickMs = Math.max(20, Math.min(100, this.#config.intervalMs / 5));
    this.#tickTimer = setInterval(() => this.#tick(), tickMs);
    this.#ping.start();
    const snapshot = this.snapshot();
    this.#lastSignature = signature(snapshot);
    this.#lastPostMono = this.#clock.monoNow();
    return snapshot;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#beatTimer) clearTimeout(this.#beatTimer);
    if (this.#tickTimer) clearInterval(this.#tickTimer);
    this.#ping.stop();
    for (const request of this.#outgoing.values()) clearTimeout(request.timer);
    this.#outgoing.clear();
    await Promise.all(this.#links.map((link) => link.close()));
  }

  handle(message: ToWorker): void {
    switch (message.type) {
      case 'stop':
        void this.stop().then(() => this.#post({ type: 'stopped' }));
        return;
      case 'set-advert':
        this.#term = message.term;
        this.#advert = message.advert;
        return;
      case 'beat-now':
        return this.#beat(true);
      case 'request':
        return this.#startRequest(message.id, message.body, message.timeoutMs);
      case 'reply':
        return this.#answer(message.key, message.body);
      case 'reply-dropped':
        this.#incoming.delete(message.key);
        return;
      case 'set-link-enabled': {
        const link = this.#links.find((candidate) => candidate.name === message.link);
        if (link) link.enabled = message.enabled;
        return this.#maybePost(false);
      }
    }
  }

  #scheduleBeat(): void {
    if (this.#stopped) return;
    // Aim at epoch + k·interval so delays do not accumulate into drift.
    this.#beatsScheduled++;
    const due = this.#beatEpochMono + this.#beatsScheduled * this.#config.intervalMs;
    const delay = Math.max(0, due - this.#clock.monoNow());
    this.#beatTimer = setTimeout(() => {
      this.#beat(false);
      this.#scheduleBeat();
    }, delay);
  }

  #beat(offSchedule: boolean): void {
    for (const link of this.#links) {
      link.send({ kind: 'beat', term: this.#term, body: this.#advert, offSchedule });
    }
  }

  #tick(): void {
    const now = this.#clock.monoNow();
    for (const request of this.#outgoing.values()) {
      if (now >= request.nextSendMono) this.#sendRequest(request, now);
    }
    this.#maybePost(now - this.#lastPostMono >= this.#config.intervalMs);
  }

  #maybePost(force: boolean): void {
    if (this.#stopped) return;
    const snapshot = this.snapshot();
    const current = signature(snapshot);
    const changed = current !== this.#lastSignature;
    if (!changed && !force) return;
    this.#lastSignature = current;
    this.#lastPostMono = this.#clock.monoNow();
    this.#post({ type: 'snapshot', snapshot, changed });
  }

  #startRequest(clientId: number, body: FlatObject, timeoutMs: number): void {
    const requestId = this.#nextRequestId;
    this.#nextRequestId = this.#nextRequestId >= 0xffffffff ? 1 : this.#nextRequestId + 1;
    const timer = setTimeout(() => {
      if (this.#outgoing.delete(requestId)) this.#post({ type: 'request-result', id: clientId, body: null });
    }, timeoutMs);
    const request = { requestId, clientId, body, nextSendMono: 0, timer };
    this.#outgoing.set(requestId, request);
    this.#sendRequest(request, this.#clock.monoNow());
  }

  #sendRequest(request: OutgoingRequest, now: number): void {
    request.nextSendMono = now + this.#config.intervalMs;
    const alive = this.#links.filter((link) => link.isAlive(now));
    for (const link of alive.length > 0 ? alive : this.#links) {
      link.send({ kind: 'request', term: this.#term, body: request.body, requestId: request.requestId });
    }
  }

  #answer(key: string, body: FlatObject): void {
    const entry = this.#incoming.get(key);
    if (entry?.state !== 'pending') return;
    this.#incoming.set(key, { state: 'answered', body });
    const requestId = Number(key.slice(key.indexOf(':') + 1));
    for (const link of this.#links) {
      if (entry.links.has(link.name)) link.send({ kind: 'reply', term: this.#term, body, requestId });
    }
  }

  #onDatagram(datagram: Datagram, via: HeartbeatLink): void {
    const peer = this.#peer;
    peer.lastHeardMono = via.lastHeardMono();
    peer.via = via.name;
    peer.bootId = datagram.bootId;
    peer.term = datagram.term;
    if (datagram.kind === 'beat') peer.advert = datagram.body;
    else if (datagram.kind === 'request') this.#onRequest(datagram, via);
    else this.#onReply(datagram);
    this.#maybePost(false);
  }

  #onRequest(datagram: Datagram, via: HeartbeatLink): void {
    const key = `${datagram.bootId}:${datagram.requestId}`;
    const entry = this.#incoming.get(key);
    if (entry?.state === 'answered') {
      via.send({ kind: 'reply', term: this.#term, body: entry.body, requestId: datagram.requestId });
      return;
    }
    if (entry?.state === 'pending') {
      entry.links.add(via.name);
      return;
    }
    this.#incoming.set(key, { state: 'pending', links: new Set([via.name]) });
    this.#trimIncoming();
    this.#post({ type: 'incoming-request', key, body: datagram.body });
  }

  /** Drops the oldest answered entries; pending ones too if a handler never answers. */
  #trimIncoming(): void {
    for (const [key, entry] of this.#incoming) {
      if (this.#incoming.size <= REPLY_CACHE_SIZE) return;
      if (entry.state === 'answered') this.#incoming.delete(key);
    }
    for (const key of this.#incoming.keys()) {
      if (this.#incoming.size <= 4 * REPLY_CACHE_SIZE) return;
      this.#incoming.delete(key);
    }
  }

  #onReply(datagram: Datagram): void {
    const request = this.#outgoing.get(datagram.requestId);
    if (!request) return; // a duplicate, or the request already timed out
    clearTimeout(request.timer);
    this.#outgoing.delete(datagram.requestId);
    this.#post({ type: 'request-result', id: request.clientId, body: datagram.body });
  }

  snapshot(): MonitorSnapshot {
    const now = this.#clock.monoNow();
    const links = this.#links.map((link) => link.snapshot(now));
    const peer: PeerSnapshot = {
      name: this.#config.peerName,
      alive: links.some((link) => link.alive),
      advert: this.#peer.advert,
      term: this.#peer.term,
      bootId: this.#peer.bootId,
      lastHeardAgoMs: this.#peer.lastHeardMono === null ? null : now - this.#peer.lastHeardMono,
      via: this.#peer.via,
    };
    return {
      takenAt: Date.now(),
      nodeName: this.#config.nodeName,
      bootId: this.bootId,
      term: this.#term,
      links,
      peer,
      ping: this.#ping.snapshot(now),
    };
  }
}

/** What counts as a change worth an immediate report. */
function signature(snapshot: MonitorSnapshot): string {
  return JSON.stringify([
    snapshot.links.map((link) => [link.name, link.alive, link.enabled]),
    snapshot.peer.advert,
    snapshot.peer.term,
    snapshot.peer.bootId,
    snapshot.ping.reachable,
    snapshot.ping.perNode.map((node) => node.reachable),
  ]);
}
