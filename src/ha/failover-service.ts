// iSCSI failover on this node: keeps the heartbeat monitor running with the current settings,
// advertises this node's role, feeds what the monitor sees to the pure decision (failover/decide.ts)
// and has the executor (failover/executor.ts) carry out what it decides. It also answers the peer's
// requests over the heartbeat (fencing: "outdate your copy"; preflight: "describe your targets") and
// implements the administrator's commands (Start, Stop, Manual failover, Sync volume, Failback).
//
// A node always comes up passive: a node that was active before a crash or restart never takes the
// service back by itself. The term number (persisted) grows with every take-over, so of two nodes that
// both believe they are active the one with the older term steps down.
import { createHash } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import type { MetaRepo } from '../config/repositories/meta-repo.js';
import { conflict, messageOf } from '../lib/errors.js';
import { Mutex } from '../lib/mutex.js';
import { parseHostPort } from '../lib/host-port.js';
import type { TaskStatus } from '../replication/control.js';
import { verdictOf, type FencingVerdict } from '../replication/fencing.js';
import type {
  FailoverControl,
  FailoverState,
  FailoverStatus,
  FailoverTaskStatus,
  LinkStatus,
  PreflightCheck,
} from './control.js';
import {
  applyConfig,
  MAX_CLOCK_OFFSET_MS,
  parseStoredConfig,
  witnessTtlSeconds,
  type FailoverConfig,
  type FailoverConfigInput,
} from './failover/config.js';
import { decide, type Decision, type Observation, type PeerAdvert } from './failover/decide.js';
import { release, takeOver, type FailoverResources, type Step } from './failover/executor.js';
import type { FlatObject, MonitorSnapshot } from './heartbeat/types.js';
import type { WitnessPort, WitnessSettings } from './quorum/witness-port.js';
import type { VirtualIp, VirtualIpDriver } from './vip/types.js';

const CONFIG_KEY = 'failover_config';
const STATE_KEY = 'failover_state';

/** What survives a restart: whether failover runs, the term, and the replication held for Sync volume. */
export interface PersistedState {
  readonly started: boolean;
  readonly term: number;
  readonly holds: readonly string[];
}

export function loadFailoverState(meta: MetaRepo): PersistedState {
  try {
    const raw = JSON.parse(meta.get(STATE_KEY) ?? '{}') as Partial<PersistedState>;
    return {
      started: raw.started === true,
      term: typeof raw.term === 'number' && raw.term >= 0 ? raw.term : 0,
      holds: Array.isArray(raw.holds) ? raw.holds.filter((t) => typeof t === 'string') : [],
    };
  } catch {
    return { started: false, term: 0, holds: [] };
  }
}

export function loadFailoverConfig(meta: MetaRepo): FailoverConfig {
  return parseStoredConfig(meta.get(CONFIG_KEY));
}

/** The monitor as this service uses it (src/ha/heartbeat/monitor.ts implements it). */
export interface HeartbeatPort {
  start(): Promise<void>;
  stop(): Promise<void>;
  setAdvert(term: number, advert: FlatObject): void;
  beatNow(): void;
  snapshot(): MonitorSnapshot;
  on(event: 'change', listener: (snapshot: MonitorSnapshot) => void): unknown;
  request(body: FlatObject, timeoutMs: number): Promise<FlatObject | null>;
  onRequest(handler: (body: FlatObject) => FlatObject | Promise<FlatObject>): void;
}

export interface MonitorSettings {
  readonly nodeName: string;
  readonly peerName: string;
  readonly secret: Buffer;
  readonly links: {
    name: 'data' | 'aux';
    local: { host: string; port: number };
    peer: { host: string; port: number };
  }[];
  readonly intervalMs: number;
  readonly deadTimeMs: number;
  readonly pingNodes: { address: string }[];
}

/** The replication service as failover uses it. */
export interface FailoverReplication {
  readonly nodeName: string;
  pairingSecret(): { peerName: string; secret: string } | null;
  /** `<task>` if this node is the task's source, `<task>_reverse` on the destination, null if neither. */
  localTaskName(task: string): string | null;
  task(name: string): TaskStatus;
  promote(name: string, force: boolean): Promise<unknown>;
  demote(name: string): Promise<unknown>;
  hold(name: string): Promise<void>;
  unhold(name: string): void;
  isHeld(name: string): boolean;
  /** Outdates this node's copy if it is an up-to-date secondary; says what the copy is afterwards. */
  outdateByPeer(name: string): Promise<{ role: string; diskState: string }>;
}

export interface VirtualIpSource {
  /** The configured virtual IP, or null. */
  current(): (VirtualIp & { readonly driver: VirtualIpDriver['kind'] }) | null;
  driverFor(kind: VirtualIpDriver['kind']): VirtualIpDriver;
}

export interface VirtualPortal {
  open(address: { host: string; port: number }): Promise<void>;
  close(): Promise<void>;
}

export interface FailoverServiceOptions {
  readonly meta: MetaRepo;
  readonly replication: FailoverReplication;
  readonly virtualIp: VirtualIpSource;
  readonly portal: VirtualPortal;
  /** Per target that exports one of the given volumes: a digest of its identity (IQN, LUNs, serial, NAA,
   * RO, WB) and whether it is fit for failover (RO and WB off). */
  readonly describeTargets: (
    volumes: readonly string[],
  ) => Record<string, { digest: string; problem: string | null }>;
  readonly createMonitor: (settings: MonitorSettings) => HeartbeatPort;
  /** The third vote (an etcd lease); only called when witness endpoints are configured. */
  readonly createWitness?: (settings: WitnessSettings) => WitnessPort;
  readonly logger: Logger;
  /** Writes an event to the task log (type `failover`). */
  readonly record?: (status: 'ok' | 'error', action: 'started' | 'finished', details: string) => void;
}

interface Transition {
  kind: string;
  at: string;
  ok: boolean;
  steps: readonly Step[];
}

export class FailoverService implements FailoverControl {
  readonly #o: FailoverServiceOptions;
  readonly #log: Logger;
  readonly #mutex = new Mutex();
  #config: FailoverConfig;
  #state: PersistedState;
  #role: 'active' | 'passive' = 'passive';
  #transitioning: 'taking-over' | 'releasing' | null = null;
  #offer = false;
  #monitor: HeartbeatPort | null = null;
  #witness: WitnessPort | null = null;
  #timer: NodeJS.Timeout | null = null;
  #lastDecision: (Decision & { at: string }) | null = null;
  #lastTransition: Transition | null = null;
  #vipHeld = false;
  #closed = false;
  #evaluating = false;
  /** Tasks seen connected and in sync since this daemon started (the last word before the peer went
   * silent). A restarted node knows nothing newer than its own disk, which may be behind. */
  readonly #seenInSync = new Set<string>();

  constructor(options: FailoverServiceOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'failover' });
    this.#config = loadFailoverConfig(options.meta);
    this.#state = loadFailoverState(options.meta);
  }

  /** Starts the heartbeat when failover is enabled. The node is passive until something decides otherwise. */
  async open(): Promise<void> {
    await this.#dropStaleVirtualIp();
    await this.#restartMonitor();
    this.#timer = setInterval(() => void this.#evaluate(), this.#config.intervalMs);
    this.#timer.unref();
  }

  /** A node always comes up passive. A daemon that died while active (kill -9, crash) leaves the
   * virtual IP bound in the kernel: it would answer for a service nobody serves here and make the
   * peer's duplicate-address check refuse the take-over, so it goes before anything else. */
  async #dropStaleVirtualIp(): Promise<void> {
    const vip = this.#o.virtualIp.current();
    if (!vip) return;
    const driver = this.#o.virtualIp.driverFor(vip.driver);
    const withPort = { ...vip, port: this.#config.portalPort };
    try {
      if (!(await driver.held(withPort))) return;
      await driver.release(withPort);
      this.#log.warn({ address: vip.address }, 'removed the virtual IP left bound by a previous run');
    } catch (error) {
      this.#log.warn(
        { address: vip.address, error: messageOf(error) },
        'could not check for a stale virtual IP',
      );
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#mutex.run(async () => {
      if (this.#role === 'active') {
        // Leaving gracefully: give the service up and offer it, so the peer need not wait the dead time.
        await this.#release('shutdown', true).catch(() => undefined);
        this.#monitor?.beatNow();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    });
    await this.#monitor?.stop();
    this.#monitor = null;
    await this.#witness?.close().catch(() => undefined);
    this.#witness = null;
  }

  // --- the contract ----------------------------------------------------------------------------

  config(): FailoverConfig {
    return this.#config;
  }

  configure(input: FailoverConfigInput): Promise<FailoverConfig> {
    return this.#mutex.run(async () => {
      if (this.#state.started && (input.enabled === false || input.tasks !== undefined)) {
        throw conflict('failover-running', 'stop failover before disabling it or changing its tasks');
      }
      const next = applyConfig(this.#config, input, ownAddresses());
      for (const task of next.tasks) {
        if (this.#o.replication.localTaskName(task) === null) {
          throw conflict(
            'task-not-found',
            `there is no volume replication task "${task}" (or "${task}_reverse") on this node`,
          );
        }
      }
      this.#o.meta.set(CONFIG_KEY, JSON.stringify(next));
      this.#config = next;
      this.#log.info({ config: next }, 'failover settings changed');
      await this.#restartMonitor();
      return next;
    });
  }

  status(): FailoverStatus {
    const snapshot = this.#monitor?.snapshot() ?? null;
    const peerAdvert = snapshot ? parseAdvert(snapshot) : null;
    const vip = this.#o.virtualIp.current();
    const links: LinkStatus[] = (snapshot?.links ?? []).map((l) => ({
      name: l.name,
      local: `${l.local.host}:${l.local.port}`,
      peer: `${l.peer.host}:${l.peer.port}`,
      alive: l.alive,
      lastHeardAgoMs: l.lastHeardAgoMs,
      rttMs: l.rttMs,
      jitterP99Ms: l.jitter.p99,
    }));
    return {
      nodeName: this.#o.replication.nodeName,
      peerName: this.#o.replication.pairingSecret()?.peerName ?? null,
      enabled: this.#config.enabled,
      started: this.#state.started,
      state: this.#stateName(),
      term: this.#state.term,
      virtualIp: vip ? { address: vip.address, held: this.#vipHeld, driver: vip.driver } : null,
      links,
      pingNodeReachable: snapshot?.ping.reachable ?? false,
      peer: {
        heard: snapshot?.peer.alive ?? false,
        role: peerAdvert?.role ?? null,
        upToDate: peerAdvert?.upToDate ?? null,
        pingNodeReachable: peerAdvert?.ping ?? null,
        term: peerAdvert?.term ?? null,
      },
      clockOffsetMs: snapshot ? clockOffsetOf(snapshot) : null,
      alarms: this.#lastDecision?.alarms ?? (this.#config.enabled ? [] : ['failover is not enabled']),
      warnings: this.#config.enabled && this.#witness === null ? [NO_WITNESS_WARNING] : [],
      witness:
        this.#witness === null ? null : { endpoints: this.#config.witness, holds: this.#witness.holds() },
      lastDecision: this.#lastDecision
        ? { action: this.#lastDecision.action, reason: this.#lastDecision.reason, at: this.#lastDecision.at }
        : null,
      lastTransition: this.#lastTransition,
      tasks: this.#config.tasks.map((task) => this.#taskStatus(task)),
    };
  }

  async preflight(): Promise<PreflightCheck[]> {
    const checks: PreflightCheck[] = [];
    const add = (check: string, ok: boolean, detail: string): void => {
      checks.push({ check, ok, detail });
    };
    const config = this.#config;
    add(
      'failover enabled',
      config.enabled,
      config.enabled ? 'enabled' : 'enable failover in its settings first',
    );
    const witnessHolder = this.#witness === null ? null : await this.#witness.holder();
    checks.push(
      this.#witness === null
        ? { check: 'third vote (witness)', ok: true, warning: true, detail: NO_WITNESS_WARNING }
        : {
            check: 'third vote (witness)',
            ok: true,
            detail: `etcd at ${this.#config.witness.join(', ')}; the role is held by ${witnessHolder ?? 'nobody (or the witness cannot be reached)'}`,
          },
    );
    const pairing = this.#o.replication.pairingSecret();
    add(
      'paired with the peer',
      pairing !== null,
      pairing ? `peer ${pairing.peerName}` : 'pair the nodes first',
    );
    const snapshot = this.#monitor?.snapshot() ?? null;
    for (const name of ['data', 'aux'] as const) {
      const link = snapshot?.links.find((l) => l.name === name);
      add(
        `heartbeat on the ${name === 'aux' ? 'auxiliary' : 'data'} link`,
        link?.alive === true,
        link?.alive
          ? `authenticated heartbeats from ${link.peer.host}, round trip ${link.rttMs ?? '?'} ms`
          : `no valid heartbeat from the peer on ${name === 'aux' ? config.links.aux.peer : config.links.data.peer}`,
      );
    }
    const peer = snapshot ? parseAdvert(snapshot) : null;
    add(
      'ping node answers this node',
      snapshot?.ping.reachable === true,
      snapshot?.ping.perNode
        .map((p) => `${p.address}: ${p.reachable ? 'answers' : (p.error ?? 'no answer')}`)
        .join(', ') ?? 'not checked',
    );
    add(
      'ping node answers the peer',
      peer?.ping === true,
      peer ? (peer.ping ? 'answers' : 'no answer') : 'peer not heard',
    );
    const offset = snapshot ? clockOffsetOf(snapshot) : null;
    add(
      'clocks agree',
      offset !== null && Math.abs(offset) <= MAX_CLOCK_OFFSET_MS,
      offset === null
        ? 'not measured yet (no heartbeat exchange)'
        : `peer clock ${offset >= 0 ? '+' : ''}${offset} ms (limit ±${MAX_CLOCK_OFFSET_MS} ms)`,
    );
    const volumes: string[] = [];
    for (const task of config.tasks) {
      const local = this.#o.replication.localTaskName(task);
      if (local === null) {
        add(`task ${task}`, false, 'no such volume replication task here');
        continue;
      }
      const status = this.#o.replication.task(local);
      volumes.push(status.volume);
      const connected = ['connected', 'verifying'].includes(status.connection);
      const ok = connected && status.diskState === 'up-to-date' && status.peerDiskState === 'up-to-date';
      add(
        `task ${task}`,
        ok,
        `${status.connection}, this disk ${status.diskState}, peer disk ${status.peerDiskState}`,
      );
    }
    const mine = this.#o.describeTargets(volumes);
    if (Object.keys(mine).length === 0) add('targets', false, 'no target exports the failover volumes');
    for (const [iqn, { problem }] of Object.entries(mine)) {
      if (problem) add(`target ${iqn}`, false, problem);
    }
    const theirs = this.#monitor ? await this.#monitor.request({ kind: 'targets' }, 3000) : null;
    if (theirs === null) {
      add('targets identical on both nodes', false, 'the peer did not answer');
    } else {
      const differences: string[] = [];
      for (const [iqn, { digest }] of Object.entries(mine)) {
        if (!(iqn in theirs)) differences.push(`${iqn} is missing on the peer`);
        else if (theirs[iqn] !== digest)
          differences.push(`${iqn} differs (LUN numbers, serial, NAA, RO or WB)`);
      }
      for (const iqn of Object.keys(theirs)) {
        if (!(iqn in mine)) differences.push(`${iqn} exists only on the peer`);
      }
      add(
        'targets identical on both nodes',
        differences.length === 0,
        differences.length === 0 ? `${Object.keys(mine).length} target(s) match` : differences.join('; '),
      );
    }
    const vip = this.#o.virtualIp.current();
    add(
      'virtual IP configured',
      vip !== null,
      vip
        ? `${vip.address}/${vip.prefixLength} (${vip.driver})`
        : 'set the virtual IP in the network settings',
    );
    if (vip && !this.#vipHeld) {
      const inUse = await this.#o.virtualIp
        .driverFor(vip.driver)
        .inUse({ ...vip, port: this.#config.portalPort });
      add(
        'virtual IP free',
        !inUse,
        inUse ? `another host answers for ${vip.address}` : 'nobody answers for it',
      );
    }
    return checks;
  }

  start(options: { readonly force: boolean }): Promise<FailoverStatus> {
    return this.#mutex.run(async () => {
      if (!this.#config.enabled) throw conflict('failover-disabled', 'enable failover in its settings first');
      const checks = await this.preflight();
      const failed = checks.filter((c) => !c.ok);
      if (failed.length > 0 && !options.force) {
        throw conflict(
          'preflight-failed',
          `preflight failed: ${failed.map((c) => `${c.check}: ${c.detail}`).join('; ')}`,
          { checks },
        );
      }
      const peer = this.#peerAdvert();
      if (peer?.role === 'active') {
        throw conflict(
          'peer-active',
          'the peer is active: start failover there, this node follows as passive',
        );
      }
      this.#saveState({ ...this.#state, started: true });
      this.#log.warn(
        { force: options.force, failed: failed.map((c) => c.check) },
        'failover started on this node',
      );
      if (this.#role !== 'active') await this.#takeOver('start', false);
      this.#advertise();
      return this.status();
    });
  }

  stop(): Promise<FailoverStatus> {
    return this.#mutex.run(async () => {
      this.#stopHere('failover stopped: no automatic decisions; the service stays where it is');
      // The peer stops too (when it hears us); the answer does not matter: it cannot decide alone
      // for long either way, and Start runs the preflight again.
      await this.#monitor?.request({ kind: 'stop' }, 2000);
      return this.status();
    });
  }

  #stopHere(message: string): void {
    this.#saveState({ ...this.#state, started: false });
    this.#log.warn(message);
    this.#advertise();
  }

  manualFailover(): Promise<FailoverStatus> {
    return this.#handOver('manual failover');
  }

  failback(): Promise<FailoverStatus> {
    return this.#handOver('failback');
  }

  syncVolume(): Promise<FailoverStatus> {
    return this.#mutex.run(() => {
      if (this.#role !== 'active') throw conflict('not-active', 'run Sync volume on the active node');
      for (const task of this.#config.tasks) {
        const local = this.#o.replication.localTaskName(task);
        if (local !== null) this.#o.replication.unhold(local);
      }
      this.#saveState({ ...this.#state, holds: [] });
      this.#log.info('sync volume: the returning node may reconnect and resync');
      this.#o.record?.('ok', 'started', 'sync volume: replication released towards the returning node');
      return Promise.resolve(this.status());
    });
  }

  /** The peer stopped acknowledging and this primary is about to write alone: ask the peer, through
   * the heartbeat, to outdate its copy. Only a secondary's clear "outdated" lets this node write
   * alone; a peer that answers otherwise serves (or is taking over), so this node gives up the role at
   * once. No answer within the dead time: ping-node mode writes alone (see fencing.ts). */
  async fencePeer(task: string, reason: string): Promise<FencingVerdict> {
    const monitor = this.#monitor;
    if (!monitor || !this.#config.tasks.includes(task)) return { kind: 'no-answer' };
    const reply = await monitor.request({ kind: 'outdate', task }, this.#config.deadTimeMs);
    let verdict = verdictOf(reply);
    if (verdict.kind === 'no-answer' && this.#witness !== null) {
      // The third vote settles what silence cannot: dead peer, or cut off and maybe serving.
      verdict = this.#witness.holds()
        ? { kind: 'confirmed', peerDisk: 'unknown: the witness grants this node the role' }
        : {
            kind: 'refused',
            reason: 'the peer does not answer and this node does not hold the witness lease',
          };
    }
    switch (verdict.kind) {
      case 'no-answer':
        this.#log.warn(
          { task, reason },
          'fencing: the peer does not answer on any heartbeat link; writing alone (ping-node mode)',
        );
        break;
      case 'confirmed':
        this.#log.warn(
          { task, reason, peerDisk: verdict.peerDisk },
          'fencing: the peer marked its copy outdated',
        );
        break;
      case 'refused':
        this.#log.error(
          { task, reason, why: verdict.reason },
          'fencing refused: the peer serves or is taking over; giving up the role, no write is acknowledged here',
        );
        void this.#giveUp(`fencing refused by the peer: ${verdict.reason}`);
        break;
    }
    return verdict;
  }

  /** Stops serving now (sessions dropped, address removed, volumes demoted) and stays passive. */
  #giveUp(reason: string): Promise<void> {
    return this.#mutex.run(async () => {
      if (this.#role === 'active' || this.#transitioning === 'taking-over') {
        await this.#release(reason, false).catch(() => undefined);
      }
      this.#advertise();
    });
  }

  // --- internals ---------------------------------------------------------------------------------

  #stateName(): FailoverState {
    if (this.#transitioning) return this.#transitioning;
    if (!this.#state.started) return this.#role === 'active' ? 'active' : 'stopped';
    return this.#role;
  }

  #handOver(kind: string): Promise<FailoverStatus> {
    return this.#mutex.run(async () => {
      if (this.#role !== 'active') throw conflict('not-active', `${kind} starts on the active node`);
      const peer = this.#peerAdvert();
      if (!peer || !this.#monitor?.snapshot().peer.alive) {
        throw conflict('peer-unreachable', `${kind}: the peer is not heard on any heartbeat link`);
      }
      if (peer.role !== 'passive') throw conflict('peer-not-passive', `${kind}: the peer is ${peer.role}`);
      if (!peer.upToDate) {
        throw conflict(
          'peer-not-up-to-date',
          `${kind}: the peer's volumes are not up to date (run Sync volume and wait)`,
        );
      }
      for (const task of this.#config.tasks) {
        const local = this.#o.replication.localTaskName(task);
        const status = local ? this.#o.replication.task(local) : null;
        if (!status || status.connection !== 'connected' || status.peerDiskState !== 'up-to-date') {
          throw conflict(
            'task-not-in-sync',
            `${kind}: task ${task} is ${status?.connection ?? 'missing'} (peer disk ${status?.peerDiskState ?? '?'}): wait until it is connected and up to date`,
          );
        }
      }
      if (!peer.ping) throw conflict('peer-no-ping', `${kind}: the ping node does not answer the peer`);
      await this.#release(kind, true);
      return this.status();
    });
  }

  #peerAdvert(): PeerAdvert | null {
    const snapshot = this.#monitor?.snapshot();
    return snapshot ? parseAdvert(snapshot) : null;
  }

  async #evaluate(): Promise<void> {
    // One evaluation queued at a time: the monitor may report faster than a transition runs.
    if (this.#closed || this.#evaluating || !this.#monitor) return;
    this.#evaluating = true;
    await this.#mutex.run(async () => {
      this.#evaluating = false;
      const monitor = this.#monitor;
      if (!monitor || this.#closed) return;
      const snapshot = monitor.snapshot();
      const peer = parseAdvert(snapshot);
      const heard = snapshot.peer.alive;
      if (this.#offer && peer?.role === 'active') this.#offer = false;
      // The peer's Start and Stop reach this node through its adverts.
      if (!this.#state.started) {
        if (this.#config.enabled && heard && peer?.started === true && peer.role === 'active') {
          this.#saveState({ ...this.#state, started: true });
          this.#log.info('failover started by the peer: this node is passive');
        }
        this.#advertise();
        return;
      }
      if (this.#role === 'active' && this.#witness !== null && !this.#witness.holds()) {
        await this.#release('this node no longer holds the witness lease', false).catch(() => undefined);
        this.#advertise();
        return;
      }
      const observation: Observation = {
        aux: snapshot.links.find((l) => l.name === 'aux')?.alive === true,
        data: snapshot.links.find((l) => l.name === 'data')?.alive === true,
        ping: snapshot.ping.reachable,
        peer,
      };
      this.#recordSyncState();
      const decision = decide(
        {
          role: this.#role,
          upToDate: this.#volumesUpToDate(),
          term: this.#state.term,
          nodeName: this.#o.replication.nodeName,
          peerName: this.#o.replication.pairingSecret()?.peerName ?? 'peer',
        },
        observation,
      );
      const changed =
        decision.action !== this.#lastDecision?.action || decision.reason !== this.#lastDecision.reason;
      this.#lastDecision = { ...decision, at: new Date().toISOString() };
      if (changed)
        this.#log.info(
          { action: decision.action, reason: decision.reason, alarms: decision.alarms },
          'failover decision',
        );
      switch (decision.action) {
        case 'take-over':
          await this.#takeOver(decision.reason, !heard, peer?.term ?? 0).catch(() => undefined);
          break;
        case 'release':
          await this.#release(decision.reason, false).catch(() => undefined);
          break;
        case 'hand-over':
          await this.#release(decision.reason, true).catch(() => undefined);
          break;
        case 'stay':
          break;
      }
      this.#advertise();
    });
  }

  async #takeOver(reason: string, peerGone: boolean, peerTerm = 0): Promise<void> {
    if (this.#witness !== null) {
      const grant = await this.#witness.acquire();
      if (grant.kind !== 'granted') {
        const why =
          grant.kind === 'held-by-peer'
            ? `the witness gives the role to ${grant.holder}`
            : `the witness cannot be reached (${grant.error})`;
        this.#log.warn({ reason }, `not taking over: ${why}`);
        this.#lastDecision = {
          action: 'stay',
          reason: `${reason}, but ${why}`,
          alarms: this.#lastDecision?.alarms ?? [],
          at: new Date().toISOString(),
        };
        throw conflict('witness-refused', `not taking over: ${why}`);
      }
    }
    const term = Math.max(this.#state.term, peerTerm) + 1;
    const holdsBefore = this.#state.holds;
    // The term is on disk before anything acts on it: a node that restarts mid-way still knows it.
    this.#saveState({
      ...this.#state,
      term,
      holds: peerGone ? [...this.#config.tasks] : this.#state.holds,
    });
    this.#transitioning = 'taking-over';
    this.#advertise();
    this.#log.warn({ reason, term }, 'taking over the service');
    try {
      const steps = await takeOver(this.#resources(), this.#config.tasks, { holdPeer: peerGone });
      this.#role = 'active';
      this.#offer = false;
      this.#transition('take-over', true, steps, reason);
    } catch (error) {
      const steps = (error as { steps?: Step[] }).steps ?? [];
      // Replication as it was found: the executor lifted the holds it added; the persisted list goes
      // back too, so a restart does not hold it again. The term stays (terms only grow).
      this.#saveState({ ...this.#state, holds: [...holdsBefore] });
      await this.#witness?.release().catch(() => undefined);
      this.#transition('take-over', false, steps, `${reason}: ${messageOf(error)}`);
      throw error;
    } finally {
      this.#transitioning = null;
      this.#advertise();
    }
  }

  async #release(reason: string, offer: boolean): Promise<void> {
    this.#transitioning = 'releasing';
    this.#advertise();
    this.#log.warn({ reason, offer }, 'releasing the service');
    try {
      const steps = await release(this.#resources(), this.#config.tasks);
      this.#transition(offer ? 'hand-over' : 'release', true, steps, reason);
    } catch (error) {
      const steps = (error as { steps?: Step[] }).steps ?? [];
      this.#transition(offer ? 'hand-over' : 'release', false, steps, `${reason}: ${messageOf(error)}`);
      throw error;
    } finally {
      // Passive whatever happened: a node that could not release cleanly must still not claim the role.
      this.#role = 'passive';
      // Only now may the peer take the role: nothing here serves any more.
      await this.#witness?.release().catch(() => undefined);
      this.#offer = offer;
      this.#transitioning = null;
      this.#advertise();
    }
  }

  #transition(kind: string, ok: boolean, steps: Step[], reason: string): void {
    this.#lastTransition = { kind, at: new Date().toISOString(), ok, steps };
    const total = steps.reduce((sum, s) => sum + s.ms, 0);
    const text = `${kind}: ${reason} (${steps.map((s) => `${s.step} ${s.ms} ms${s.error ? ` FAILED: ${s.error}` : ''}`).join(', ')}; ${total} ms)`;
    if (ok) this.#log.warn({ kind, steps, totalMs: total }, `${kind} done`);
    else this.#log.error({ kind, steps }, `${kind} failed`);
    this.#o.record?.(ok ? 'ok' : 'error', 'finished', text);
  }

  #resources(): FailoverResources {
    const replication = this.#o.replication;
    const local = (task: string): string => {
      const name = replication.localTaskName(task);
      if (name === null)
        throw conflict('task-not-found', `volume replication task "${task}" is not on this node`);
      return name;
    };
    const vip = (): VirtualIp & { driver: VirtualIpDriver['kind'] } => {
      const current = this.#o.virtualIp.current();
      if (!current) throw conflict('no-virtual-ip', 'no virtual IP is configured');
      return { ...current, port: this.#config.portalPort };
    };
    return {
      // A hold that fails part-way is lifted here; the executor undoes the holds that completed.
      holdReplication: async (task) => {
        const name = local(task);
        try {
          await replication.hold(name);
        } catch (error) {
          replication.unhold(name);
          throw error;
        }
      },
      releaseHold: (task) => {
        replication.unhold(local(task));
        return Promise.resolve();
      },
      promote: async (task) => {
        await replication.promote(local(task), false);
      },
      demote: async (task) => {
        await replication.demote(local(task));
      },
      acquireVirtualIp: async () => {
        const v = vip();
        await this.#o.virtualIp.driverFor(v.driver).acquire(v);
        this.#vipHeld = true;
      },
      releaseVirtualIp: async () => {
        const current = this.#o.virtualIp.current();
        if (!current) return;
        await this.#o.virtualIp
          .driverFor(current.driver)
          .release({ ...current, port: this.#config.portalPort });
        this.#vipHeld = false;
      },
      openPortal: () => this.#o.portal.open({ host: vip().address, port: this.#config.portalPort }),
      closePortal: () => this.#o.portal.close(),
    };
  }

  /** Notes which tasks are in sync with the primary now. A secondary stays "seen in sync" until its
   * disk stops being up to date (outdated by fencing, or a resync target), so a node that comes back
   * behind never counts as up to date by itself. Runs before every read of #volumesUpToDate. */
  #recordSyncState(): void {
    for (const task of this.#config.tasks) {
      const local = this.#o.replication.localTaskName(task);
      if (local === null) continue;
      const status = this.#o.replication.task(local);
      const inSync =
        ['connected', 'verifying'].includes(status.connection) &&
        status.diskState === 'up-to-date' &&
        status.peerDiskState === 'up-to-date';
      if (inSync) this.#seenInSync.add(task);
      else if (status.diskState !== 'up-to-date') this.#seenInSync.delete(task);
    }
  }

  /** Up to date for failover: the primary's own disk, or a secondary's that was seen in sync with the
   * primary (and has not been outdated since). */
  #volumesUpToDate(): boolean {
    if (this.#config.tasks.length === 0) return false;
    return this.#config.tasks.every((task) => {
      const local = this.#o.replication.localTaskName(task);
      if (local === null) return false;
      const status = this.#o.replication.task(local);
      return status.diskState === 'up-to-date' && (status.role === 'primary' || this.#seenInSync.has(task));
    });
  }

  #taskStatus(task: string): FailoverTaskStatus {
    const local = this.#o.replication.localTaskName(task);
    if (local === null) {
      return {
        task,
        localTask: '',
        running: false,
        role: 'unknown',
        connection: 'missing',
        volume: '',
        diskState: 'unknown',
        remoteVolume: '',
        peerDiskState: 'unknown',
        peerAddress: '',
        held: false,
      };
    }
    const s = this.#o.replication.task(local);
    return {
      task,
      localTask: local,
      running: s.running,
      role: s.role,
      connection: s.connection,
      volume: s.volume,
      diskState: s.diskState,
      remoteVolume: s.remoteVolume,
      peerDiskState: s.peerDiskState,
      peerAddress: s.peerAddress,
      held: this.#o.replication.isHeld(local),
    };
  }

  #advertise(): void {
    const monitor = this.#monitor;
    if (!monitor) return;
    const snapshot = monitor.snapshot();
    this.#recordSyncState();
    monitor.setAdvert(this.#state.term, {
      role:
        this.#state.started || this.#role === 'active'
          ? this.#transitioning === 'taking-over'
            ? 'passive'
            : this.#role
          : 'stopped',
      started: this.#state.started,
      upToDate: this.#volumesUpToDate(),
      ping: snapshot.ping.reachable,
      offer: this.#offer,
    });
    monitor.beatNow();
  }

  #saveState(state: PersistedState): void {
    this.#o.meta.set(STATE_KEY, JSON.stringify(state));
    this.#state = state;
  }

  async #restartMonitor(): Promise<void> {
    await this.#monitor?.stop();
    this.#monitor = null;
    const config = this.#config;
    const pairing = this.#o.replication.pairingSecret();
    if (!config.enabled || !pairing || this.#closed) return;
    const link = (name: 'data' | 'aux') => ({
      name,
      local: parseHostPort(config.links[name].local, ''),
      peer: parseHostPort(config.links[name].peer, ''),
    });
    const monitor = this.#o.createMonitor({
      nodeName: this.#o.replication.nodeName,
      peerName: pairing.peerName,
      secret: Buffer.from(pairing.secret, 'utf8'),
      links: [link('data'), link('aux')],
      intervalMs: config.intervalMs,
      deadTimeMs: config.deadTimeMs,
      pingNodes: config.pingNodes.map((address) => ({ address })),
    });
    await this.#restartWitness(pairing);
    monitor.onRequest((body) => this.#answer(body));
    monitor.on('change', () => void this.#evaluate());
    await monitor.start();
    this.#monitor = monitor;
    this.#advertise();
  }

  async #restartWitness(pairing: { peerName: string; secret: string }): Promise<void> {
    await this.#witness?.close().catch(() => undefined);
    this.#witness = null;
    const config = this.#config;
    if (config.witness.length === 0 || !this.#o.createWitness) return;
    const witness = this.#o.createWitness({
      endpoints: config.witness,
      // Both nodes know the pair's secret; nobody else can name the pair's key from it.
      pairId: createHash('sha256').update(`tandem-witness\0${pairing.secret}`).digest('hex').slice(0, 16),
      nodeName: this.#o.replication.nodeName,
      ttlSeconds: witnessTtlSeconds(config),
    });
    witness.on('lost', (reason) => void this.#giveUp(`the witness lease was lost: ${reason}`));
    this.#witness = witness;
  }

  /** May a primary of `task` acknowledge writes the peer does not have? Always in ping-node mode; with a
   * witness, only while this node holds the lease (checked on the monotonic clock at every write). */
  mayWriteAlone(task: string): boolean {
    if (!this.#config.tasks.includes(task) || this.#witness === null) return true;
    return this.#witness.holds();
  }

  async #answer(body: FlatObject): Promise<FlatObject> {
    if (body.kind === 'outdate' && typeof body.task === 'string') {
      const local = this.#o.replication.localTaskName(body.task);
      if (local === null) return { ok: false, error: 'no such task' };
      // A node that serves, or is taking over, never lets the other write alone.
      if (this.#role === 'active' || this.#transitioning === 'taking-over') {
        return { ok: false, role: 'primary', error: `this node is ${this.#stateName()}` };
      }
      try {
        const { role, diskState } = await this.#o.replication.outdateByPeer(local);
        this.#log.warn({ task: body.task, role, diskState }, 'fencing request from the peer');
        return { ok: true, role, diskState };
      } catch (error) {
        return { ok: false, error: messageOf(error) };
      }
    }
    if (body.kind === 'stop') {
      if (this.#state.started) this.#stopHere('failover stopped by the peer');
      return { ok: true };
    }
    if (body.kind === 'targets') {
      const volumes = this.#config.tasks.flatMap((task) => {
        const local = this.#o.replication.localTaskName(task);
        return local === null ? [] : [this.#o.replication.task(local).volume];
      });
      return Object.fromEntries(
        Object.entries(this.#o.describeTargets(volumes)).map(([iqn, d]) => [iqn, d.digest]),
      );
    }
    return { ok: false, error: `unknown request ${String(body.kind)}` };
  }
}

/** Ping-node mode, the only mode today: what it cannot protect against, said wherever it is shown. */
export const NO_WITNESS_WARNING =
  'no witness (third vote) is configured: if both links between the nodes fail while each still reaches ' +
  'the ping node, both can serve and acknowledge writes the other never gets (split brain); keep the ' +
  'two links on separate switches and cables (docs/failover.md)';

interface ParsedAdvert extends PeerAdvert {
  readonly started: boolean;
}

function parseAdvert(snapshot: MonitorSnapshot): ParsedAdvert | null {
  const advert = snapshot.peer.advert;
  if (!advert) return null;
  const role = advert.role;
  if (role !== 'active' && role !== 'passive' && role !== 'stopped') return null;
  return {
    role,
    upToDate: advert.upToDate === true,
    ping: advert.ping === true,
    offer: advert.offer === true,
    term: snapshot.peer.term ?? 0,
    started: advert.started === true,
  };
}

/** The peer's clock minus ours: the estimate of the link whose estimate is smallest in size (the
 * least delayed exchange gives the tightest bound). */
function clockOffsetOf(snapshot: MonitorSnapshot): number | null {
  const offsets = snapshot.links.map((l) => l.clockOffsetMs).filter((o): o is number => o !== null);
  if (offsets.length === 0) return null;
  return offsets.reduce((best, o) => (Math.abs(o) < Math.abs(best) ? o : best));
}

/** Every address of this machine (they can never be ping nodes). */
function ownAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((info) => info.address);
}

/** A stable digest of a target's identity for the preflight's comparison. */
export function identityDigest(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);
}
