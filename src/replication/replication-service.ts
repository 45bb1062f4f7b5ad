// Volume replication on this node: the pairing with the peer, per-volume settings, tasks and their
// engines, the replication listener, and the connect loop of source tasks. Implements the contract
// the API uses (control.ts).
//
// Every replicated volume's engine stays open while the daemon runs, whether its task is started or
// not, so writes made while the task is stopped are tracked in its bitmap and the next start resyncs
// only those. The source side connects (to the volume's mirror server); the destination listens and
// keeps the `<task>_reverse` view of the task by itself.
import { copyFile, constants as fsConstants, rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Repositories } from '../config/repositories/index.js';
import type { ReplicationTaskRecord } from '../config/repositories/replication-repo.js';
import type { VolumeRecord } from '../config/repositories/volumes-repo.js';
import { conflict, invalid, notFound, TandemError } from '../lib/errors.js';
import { formatHostPort, parseHostPort, type HostPort } from '../lib/host-port.js';
import { Mutex } from '../lib/mutex.js';
import type { BlockDevice } from '../storage/block-device.js';
import { REPLICATION_METADATA_SUFFIX } from '../volumes/volume-paths.js';
import type {
  CreateTaskRequest,
  DestinationVolume,
  PairingView,
  PairRequest,
  ReplicationControl,
  TaskStatus,
  VolumeReplicationSettings,
} from './control.js';
import { ReplicationEngine, type EngineTask } from './engine.js';
import type { FencingVerdict } from './fencing.js';
import type { DiskState, Role } from './state/types.js';
import {
  certificateFingerprint,
  connectPeer,
  generateSelfSignedCertificate,
  listenPeer,
  type PeerChannel,
  type PeerListener,
  type PeerTlsOptions,
} from './peer/index.js';
import type { AttachFields, ReplMessage } from './wire/index.js';

export const DEFAULT_REPLICATION_PORT = 7788;
const DEFAULT_RATE = { mode: 'dynamic' as const, bytesPerSecond: 400 * 1024 * 1024 };
const REVERSE_SUFFIX = '_reverse';
const RECONNECT_MS = [200, 1000, 2000, 5000];

export interface ReplicationServiceOptions {
  readonly repos: Repositories;
  readonly listen: HostPort;
  /** This node's name towards its peer (default: the stored one, else the host name). */
  readonly nodeName: string;
  readonly pathOf: (volume: VolumeRecord) => string;
  /** The volume is exported as a LUN (a destination volume must not be). */
  readonly isExported: (volumeId: string) => boolean;
  readonly logger: Logger;
  /** Something changed that decides which device serves a volume. */
  readonly onDevicesChanged: () => void;
  /** Failover's view of a task (by the source's name): it moves with the iSCSI service, so its volume
   * may be mapped to a LUN on both nodes (served only while primary), it comes up secondary, and its
   * link may be held down until "Sync volume". */
  readonly failover?: {
    readonly covers: (task: string) => boolean;
    readonly heldAtStart: (task: string) => boolean;
    readonly fencePeer: (task: string, reason: string) => Promise<FencingVerdict>;
    /** With a witness: whether the task's primary may acknowledge writes the peer does not have now. */
    readonly mayWriteAlone?: (task: string) => boolean;
  };
}

interface RunningTask {
  readonly engine: ReplicationEngine;
  /** Source tasks: the connect loop is on. */
  running: boolean;
  loop: Promise<void> | null;
  wake: (() => void) | null;
}

export class ReplicationService implements ReplicationControl {
  readonly #repos: Repositories;
  readonly #options: ReplicationServiceOptions;
  readonly #log: Logger;
  readonly #tasks = new Map<string, RunningTask>();
  readonly #mutex = new Mutex();
  #listener: PeerListener | null = null;
  /** The port the listener got when asked for port 0, kept across restarts so the peer's settings stay right. */
  #boundPort: number | null = null;
  #closed = false;
  /** Tasks (local names) whose link failover holds down: no connect, attach refused. */
  readonly #held = new Set<string>();

  constructor(options: ReplicationServiceOptions) {
    this.#options = options;
    this.#repos = options.repos;
    this.#log = options.logger.child({ component: 'replication' });
    if (this.#repos.replication.nodeName() === undefined)
      this.#repos.replication.setNodeName(options.nodeName);
  }

  get nodeName(): string {
    return this.#repos.replication.nodeName() ?? this.#options.nodeName;
  }

  /** Opens every task's engine, starts the enabled ones and the listener. */
  async start(): Promise<void> {
    for (const record of this.#repos.replication.tasks()) {
      try {
        const task = await this.#openTask(record);
        const base = baseName(record.name);
        if (this.#options.failover?.covers(base)) {
          // A failover volume comes up secondary: the node that serves is chosen by failover, and a
          // node that served before a crash never takes the service back by itself.
          await task.engine.demote();
          if (this.#options.failover.heldAtStart(base)) this.#held.add(record.name);
        }
        if (record.enabled && record.direction === 'source' && !this.#held.has(record.name)) {
          this.#startLoop(record.name, task);
        }
      } catch (error) {
        this.#log.error({ task: record.name, err: String(error) }, 'cannot open replication task');
      }
    }
    await this.#restartListener();
  }

  /** The listener's address (for tests that listen on port 0). */
  listenAddress(): HostPort | null {
    const address = this.#listener?.address();
    return address ? { host: address.address, port: address.port } : null;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#listener?.close();
    this.#listener = null;
    for (const task of this.#tasks.values()) {
      task.running = false;
      task.wake?.();
    }
    for (const [name, task] of this.#tasks) {
      await task.engine.close().catch((error: unknown) => {
        this.#log.error({ task: name, err: String(error) }, 'closing the replication task failed');
      });
      await task.loop;
    }
    this.#tasks.clear();
  }

  /** The device the iSCSI target serves for a volume: the mirror on a primary; null when the volume
   * may not be served (a secondary); undefined when it is not replicated. */
  deviceFor(volumeId: string): BlockDevice | null | undefined {
    const task = this.#taskOfVolume(volumeId);
    if (!task) return undefined;
    return task.engine.role === 'primary' ? task.engine.mirror : null;
  }

  /** Why a volume may not be exported as a LUN now, or null (target-service.ts asks). */
  exportRefusal(volumeId: string): string | null {
    const task = this.#taskOfVolume(volumeId);
    if (task && this.#options.failover?.covers(baseName(task.engine.task.name))) return null;
    if (task) {
      return task.engine.role === 'primary'
        ? null
        : `is the secondary of replication task ${task.engine.task.name}: it takes only the primary's writes`;
    }
    const settings = this.#repos.replication.volumeSettings(volumeId);
    return settings?.mode === 'destination'
      ? "is a volume replication destination: it takes only the source's writes"
      : null;
  }

  /** A replicated volume's reservations changed on this (primary) node: copy them to the peer. */
  prStateChanged(volumeId: string, state: string): void {
    this.#taskOfVolume(volumeId)?.engine.replicatePrState(state);
  }

  /** A key that changes whenever deviceFor's answer would. */
  deviceKey(volumeId: string): string {
    const task = this.#taskOfVolume(volumeId);
    return task ? `replicated:${task.engine.task.name}:${task.engine.role}` : 'plain';
  }

  // --- pairing -------------------------------------------------------------------------------

  pairing(): PairingView {
    const record = this.#repos.replication.pairing();
    return {
      nodeName: this.nodeName,
      listen: formatHostPort(this.listenAddress() ?? this.#options.listen),
      peerName: record?.peerName ?? null,
      paired: record !== undefined,
      tls: record?.tls ?? false,
      fingerprint: record?.tlsCert ? certificateFingerprintOf(record.tlsCert) : null,
      peerFingerprint: record?.peerFingerprint ?? null,
    };
  }

  pair(request: PairRequest): Promise<PairingView> {
    return this.#mutex.run(async () => {
      if (request.secret.length < 16)
        throw invalid('secret-too-short', 'the pair secret needs at least 16 characters');
      if (request.peerName === this.nodeName) {
        throw invalid('peer-is-self', `the peer's name must differ from this node's (${this.nodeName})`);
      }
      const current = this.#repos.replication.pairing();
      let cert = current?.tlsCert ?? null;
      let key = current?.tlsKey ?? null;
      if (request.tls === true && (cert === null || key === null)) {
        const made = await generateSelfSignedCertificate(this.nodeName);
        cert = made.cert;
        key = made.key;
      }
      this.#repos.replication.setPairing({
        nodeName: this.nodeName,
        peerName: request.peerName,
        secret: request.secret,
        tls: request.tls === true,
        tlsCert: cert,
        tlsKey: key,
        peerFingerprint: request.tls === true ? (request.peerFingerprint ?? null) : null,
      });
      this.#log.info({ peer: request.peerName, tls: request.tls === true }, 'paired with the peer node');
      await this.#restartListener();
      return this.pairing();
    });
  }

  unpair(): Promise<void> {
    return this.#mutex.run(async () => {
      if ([...this.#tasks.values()].some((t) => t.engine.connected)) {
        throw conflict('replication-running', 'stop the replication tasks before unpairing');
      }
      this.#repos.replication.deletePairing();
      await this.#restartListener();
    });
  }

  // --- volumes -------------------------------------------------------------------------------

  volumeSettings(volume: string): VolumeReplicationSettings | null {
    const record = this.#volume(volume);
    const settings = this.#repos.replication.volumeSettings(record.id);
    return settings
      ? { volume: record.name, mode: settings.mode, mirrorServer: settings.mirrorServer }
      : null;
  }

  setVolumeSettings(
    volume: string,
    settings: { mode: 'source' | 'destination'; mirrorServer: string; clearMetadata?: boolean },
  ): Promise<VolumeReplicationSettings> {
    return this.#mutex.run(async () => {
      const record = this.#volume(volume);
      if (!record.replication) {
        throw invalid('replication-off', `volume "${record.name}" was not created with volume replication`);
      }
      const address = parseHostPort(settings.mirrorServer, '');
      if (address.host === '')
        throw invalid('bad-mirror-server', 'the mirror server needs a host: HOST:PORT');
      if (settings.mode === 'destination' && this.#options.isExported(record.id)) {
        throw conflict(
          'volume-exported',
          `volume "${record.name}" is exported as a LUN; a replication destination must not be`,
        );
      }
      const task = this.#taskOfVolume(record.id);
      if (task?.engine.connected) {
        throw conflict(
          'replication-running',
          `stop task ${task.engine.task.name} before changing its volume`,
        );
      }
      if (settings.clearMetadata === true) {
        if (task) await task.engine.clearMetadata();
        else await rm(metadataPath(this.#options.pathOf(record)), { force: true });
        this.#log.warn(
          { volume: record.name },
          'replication metadata cleared: the next sync copies everything',
        );
      }
      this.#repos.replication.setVolumeSettings(record.id, {
        mode: settings.mode,
        mirrorServer: formatHostPort(address),
      });
      return { volume: record.name, mode: settings.mode, mirrorServer: formatHostPort(address) };
    });
  }

  async browseDestinations(): Promise<DestinationVolume[]> {
    const pairing = this.#repos.replication.pairing();
    if (!pairing) throw conflict('not-paired', 'pair this node with its peer first');
    const sources = this.#repos.replication
      .allVolumeSettings()
      .filter((s) => s.mode === 'source')
      .map((s) => s.mirrorServer);
    const server = sources[0];
    if (server === undefined) {
      throw conflict('no-mirror-server', 'set a volume to source mode with its mirror server first');
    }
    const channel = await this.#connect(parseHostPort(server, ''));
    try {
      const reply = await channel.request({ type: 'browse-request' });
      if (reply.type !== 'browse-reply')
        throw new TandemError('internal', 'browse-failed', `the peer answered ${reply.type}`);
      return reply.volumes.map((v) => ({
        volume: v.name,
        size: Number(v.sizeBytes),
        unavailable: v.unavailable || null,
      }));
    } finally {
      channel.close('browse done');
    }
  }

  // --- tasks ---------------------------------------------------------------------------------

  tasks(): TaskStatus[] {
    return this.#repos.replication.tasks().map((record) => this.#status(record));
  }

  task(name: string): TaskStatus {
    return this.#status(this.#record(name));
  }

  createTask(request: CreateTaskRequest): Promise<TaskStatus> {
    return this.#mutex.run(async () => {
      if (request.name.endsWith(REVERSE_SUFFIX)) {
        throw invalid('task-name', `task names ending in ${REVERSE_SUFFIX} are kept for destinations`);
      }
      if (this.#repos.replication.task(request.name)) {
        throw conflict('task-exists', `replication task "${request.name}" already exists`);
      }
      const volume = this.#volume(request.volume);
      const settings = this.#repos.replication.volumeSettings(volume.id);
      if (settings?.mode !== 'source') {
        throw invalid(
          'volume-not-source',
          `volume "${volume.name}" must be in replication mode source (with a mirror server) to be a task's source`,
        );
      }
      if (this.#repos.replication.taskOfVolume(volume.id)) {
        throw conflict('volume-in-task', `volume "${volume.name}" is already in a replication task`);
      }
      const record: ReplicationTaskRecord = {
        name: request.name,
        direction: 'source',
        volumeId: volume.id,
        remoteVolume: request.remoteVolume,
        peerAddress: settings.mirrorServer,
        enabled: false,
        rateMode: request.rate?.mode ?? DEFAULT_RATE.mode,
        rateBytes: request.rate?.bytesPerSecond ?? DEFAULT_RATE.bytesPerSecond,
        createdAt: new Date().toISOString(),
      };
      this.#repos.replication.insertTask(record);
      try {
        const task = await this.#openTask(record);
        await task.engine.initializeAsSource();
      } catch (error) {
        this.#repos.replication.deleteTask(record.name);
        throw error;
      }
      this.#options.onDevicesChanged();
      this.#log.info(
        { task: record.name, volume: volume.name, remote: record.remoteVolume },
        'replication task created',
      );
      return this.#status(record);
    });
  }

  deleteTask(name: string): Promise<void> {
    return this.#mutex.run(async () => {
      const record = this.#record(name);
      const task = this.#tasks.get(name);
      if (task?.engine.connected || task?.running) {
        throw conflict('replication-running', `stop task "${name}" before deleting it`);
      }
      if (task) {
        await task.engine.close();
        this.#tasks.delete(name);
      }
      const volume = this.#repos.volumes.byId(record.volumeId);
      if (volume) await rm(metadataPath(this.#options.pathOf(volume)), { force: true });
      this.#repos.replication.deleteTask(name);
      this.#options.onDevicesChanged();
      this.#log.info({ task: name }, 'replication task deleted');
    });
  }

  async startTask(name: string): Promise<TaskStatus> {
    const record = this.#record(name);
    if (record.direction === 'reverse') {
      throw conflict('reverse-task', `"${name}" is the destination's view of a task: start it on the source`);
    }
    if (!this.#repos.replication.pairing())
      throw conflict('not-paired', 'pair this node with its peer first');
    if (this.#held.has(name)) {
      throw conflict(
        'held-by-failover',
        `task "${name}" is held by failover: run Sync volume on the active node`,
      );
    }
    const task = this.#tasks.get(name) ?? (await this.#openTask(record));
    task.engine.clearRefusal();
    this.#repos.replication.setTaskEnabled(name, true);
    this.#startLoop(name, task);
    // Give the first connect a moment, so the answer usually shows it.
    await waitFor(() => task.engine.connected || task.engine.refused, 2000);
    return this.task(name);
  }

  async stopTask(name: string): Promise<TaskStatus> {
    const record = this.#record(name);
    const task = this.#tasks.get(name);
    if (record.direction === 'source') this.#repos.replication.setTaskEnabled(name, false);
    if (task) {
      task.running = false;
      task.wake?.();
      await task.engine.disconnect('task stopped');
      await task.loop;
    }
    this.#log.info({ task: name }, 'replication task stopped');
    return this.task(name);
  }

  async promote(name: string, force: boolean): Promise<TaskStatus & { warning?: string }> {
    const task = this.#open(name);
    const result = await task.engine.promote(force);
    if (force) this.#log.warn({ task: name, warning: result.warning }, 'forced promote: data may be lost');
    return { ...this.task(name), ...result };
  }

  async demote(name: string): Promise<TaskStatus> {
    const task = this.#open(name);
    await task.engine.demote();
    return this.task(name);
  }

  verify(name: string): Promise<TaskStatus> {
    this.#open(name).engine.verify();
    return Promise.resolve(this.task(name));
  }

  resolveSplitBrain(name: string, discard: 'local' | 'peer'): Promise<TaskStatus & { copy?: string }> {
    return this.#mutex.run(async () => {
      const task = this.#open(name);
      if (discard === 'peer') {
        // The peer discards its changes (an administrator runs resolve there with discard=local);
        // here we only allow connecting again.
        task.engine.clearRefusal();
        this.#log.warn({ task: name }, 'split brain: keeping this node, the peer must discard its changes');
        return this.task(name);
      }
      const record = this.#record(name);
      const volume = this.#repos.volumes.byId(record.volumeId);
      if (!volume) throw notFound('volume-not-found', 'the task volume is gone');
      const image = this.#options.pathOf(volume);
      const copy = `${image}.split-brain-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      // Flush, then keep a copy (a reflink where the filesystem can) before anything is overwritten.
      await task.engine.mirror.flush();
      await copyFile(image, copy, fsConstants.COPYFILE_FICLONE);
      await task.engine.discardLocalChanges();
      this.#log.warn(
        { task: name, copy },
        'split brain: this node discards its changes; its data was copied',
      );
      this.#options.onDevicesChanged();
      return { ...this.task(name), copy };
    });
  }

  // --- failover's hooks ------------------------------------------------------------------------

  /** The pair's name and secret (the heartbeat signs with it); null when not paired. */
  pairingSecret(): { peerName: string; secret: string } | null {
    const pairing = this.#repos.replication.pairing();
    return pairing ? { peerName: pairing.peerName, secret: pairing.secret } : null;
  }

  /** This node's name of a task given by the source's name: itself, or `<task>_reverse`. */
  localTaskName(task: string): string | null {
    if (this.#repos.replication.task(task)?.direction === 'source') return task;
    const reverse = `${task}${REVERSE_SUFFIX}`;
    return this.#repos.replication.task(reverse) ? reverse : null;
  }

  /** Holds a task's link down: disconnects it and keeps it down (no connect, attach refused). */
  async hold(name: string): Promise<void> {
    this.#record(name);
    this.#held.add(name);
    const task = this.#tasks.get(name);
    if (!task) return;
    task.running = false;
    task.wake?.();
    await task.engine.disconnect('held by failover');
    await task.loop;
    this.#log.warn({ task: name }, 'replication held down by failover until Sync volume');
  }

  /** Lets a held task connect again (a source task's loop restarts if the task is enabled). */
  unhold(name: string): void {
    if (!this.#held.delete(name)) return;
    const record = this.#repos.replication.task(name);
    const task = this.#tasks.get(name);
    if (record?.direction === 'source' && record.enabled && task) this.#startLoop(name, task);
    this.#log.info({ task: name }, 'replication released by failover');
  }

  isHeld(name: string): boolean {
    return this.#held.has(name);
  }

  /** The primary's fencing request through the heartbeat: this copy is outdated until it resyncs. */
  outdateByPeer(name: string): Promise<{ role: Role; diskState: DiskState }> {
    return this.#open(name).engine.outdateByPeer();
  }

  // --- internals -----------------------------------------------------------------------------

  #status(record: ReplicationTaskRecord): TaskStatus {
    const task = this.#tasks.get(record.name);
    const volume = this.#repos.volumes.byId(record.volumeId);
    if (!task) {
      return {
        name: record.name,
        direction: record.direction,
        volume: volume?.name ?? '?',
        remoteVolume: record.remoteVolume,
        peerAddress: record.peerAddress,
        running: false,
        role: 'secondary',
        connection: 'standalone',
        diskState: 'unknown',
        peerDiskState: 'unknown',
        outOfSyncBytes: 0,
        resync: null,
        verify: null,
        lastError: 'the task could not be opened (see the log)',
        rate: { mode: record.rateMode, bytesPerSecond: record.rateBytes },
      };
    }
    const running = record.direction === 'source' ? task.running : task.engine.connected;
    return task.engine.status(running);
  }

  async #openTask(record: ReplicationTaskRecord): Promise<RunningTask> {
    const existing = this.#tasks.get(record.name);
    if (existing) return existing;
    const volume = this.#repos.volumes.byId(record.volumeId);
    if (!volume) throw notFound('volume-not-found', `the volume of task "${record.name}" is gone`);
    const image = this.#options.pathOf(volume);
    const task: EngineTask = {
      name: record.name,
      direction: record.direction,
      volume: volume.name,
      remoteVolume: record.remoteVolume,
      peerAddress: record.peerAddress,
      rate: { mode: record.rateMode, bytesPerSecond: record.rateBytes },
    };
    const failover = this.#options.failover;
    const base = baseName(record.name);
    const engine = await ReplicationEngine.open({
      task,
      imagePath: image,
      metadataPath: metadataPath(image),
      logger: this.#log,
      onChange: () => this.#options.onDevicesChanged(),
      fencePeer: failover ? (reason) => failover.fencePeer(base, reason) : undefined,
      mayWriteAlone: failover?.mayWriteAlone ? () => failover.mayWriteAlone?.(base) !== false : undefined,
      prState: {
        load: () => this.#repos.prState.load(volume.id),
        save: (state) => this.#repos.prState.save(volume.id, state),
      },
    });
    const running: RunningTask = { engine, running: false, loop: null, wake: null };
    this.#tasks.set(record.name, running);
    return running;
  }

  #startLoop(name: string, task: RunningTask): void {
    task.running = true;
    task.loop ??= this.#connectLoop(name, task).finally(() => {
      task.loop = null;
    });
  }

  /** Source side: keep connected while the task runs; a refusal (split brain ...) stops trying. */
  async #connectLoop(name: string, task: RunningTask): Promise<void> {
    let attempt = 0;
    while (task.running && !this.#closed) {
      if (!task.engine.connected && !task.engine.refused) {
        try {
          const channel = await this.#connect(parseHostPort(task.engine.task.peerAddress, ''));
          const reply = await channel.request({ type: 'attach', ...task.engine.attachFields() });
          if (reply.type === 'refused') {
            channel.close('refused');
            throw new Error(`${reply.code}: ${reply.message}`);
          }
          if (reply.type !== 'attach-ok') throw new Error(`the peer answered attach with ${reply.type}`);
          if (!isRunning(task)) {
            channel.close('task stopped');
            break;
          }
          await task.engine.connect(channel, reply);
          attempt = 0;
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          if (attempt === 0)
            this.#log.warn({ task: name, err: message }, 'cannot connect to the peer; retrying');
          task.engine.noteError(message);
          attempt++;
        }
      }
      await new Promise<void>((resolve) => {
        task.wake = resolve;
        setTimeout(resolve, RECONNECT_MS[Math.min(attempt, RECONNECT_MS.length - 1)] ?? 5000).unref();
      });
      task.wake = null;
    }
  }

  async #connect(address: HostPort): Promise<PeerChannel> {
    const pairing = this.#repos.replication.pairing();
    if (!pairing) throw conflict('not-paired', 'pair this node with its peer first');
    return connectPeer({
      host: address.host,
      port: address.port,
      nodeName: this.nodeName,
      secret: pairing.secret,
      tls: this.#tlsOptions(),
    });
  }

  /** TLS settings when TLS is on; throws while the peer's fingerprint is not pinned yet (TLS on never
   * falls back to plain TCP). */
  #tlsOptions(): PeerTlsOptions | undefined {
    const pairing = this.#repos.replication.pairing();
    if (!pairing?.tls) return undefined;
    if (!pairing.tlsCert || !pairing.tlsKey || !pairing.peerFingerprint) {
      throw conflict(
        'peer-fingerprint-missing',
        "TLS is on but the peer's certificate fingerprint is not set: pair again with --peer-fingerprint",
      );
    }
    return { cert: pairing.tlsCert, key: pairing.tlsKey, peerFingerprint: pairing.peerFingerprint };
  }

  async #restartListener(): Promise<void> {
    await this.#listener?.close();
    this.#listener = null;
    const pairing = this.#repos.replication.pairing();
    if (!pairing || this.#closed) return;
    let tls: PeerTlsOptions | undefined;
    try {
      tls = this.#tlsOptions();
    } catch (error) {
      this.#log.warn({ reason: String(error) }, 'replication listener not started');
      return;
    }
    this.#listener = await listenPeer(
      {
        host: this.#options.listen.host,
        port: this.#boundPort ?? this.#options.listen.port,
        nodeName: this.nodeName,
        secret: pairing.secret,
        allowedPeers: [pairing.peerName],
        tls,
        onRefused: (info) =>
          this.#log.warn(
            { remote: `${info.remoteAddress}:${info.remotePort}`, code: info.code, reason: info.message },
            'replication connection refused',
          ),
      },
      (channel) => this.#accept(channel),
    );
    const address = this.#listener.address();
    this.#boundPort = address.port;
    this.#log.info({ listen: `${address.address}:${address.port}` }, 'replication listener up');
  }

  /** Destination side: the first request says what the peer wants (attach a task, or browse). */
  #accept(channel: PeerChannel): void {
    channel.onMessage((message, id, respond) => {
      if (id === 0) return;
      this.#answerFirst(message, channel)
        .then((reply) => respond(reply))
        .catch((error: unknown) => {
          const code = error instanceof TandemError ? error.code : 'failed';
          const text = error instanceof Error ? error.message : String(error);
          this.#log.warn({ peer: channel.peerName, code, reason: text }, 'replication attach refused');
          respond({ type: 'refused', code, message: text });
          setTimeout(() => channel.close(text), 100).unref();
        });
    });
  }

  async #answerFirst(message: ReplMessage, channel: PeerChannel): Promise<ReplMessage> {
    if (message.type === 'browse-request') {
      return { type: 'browse-reply', volumes: this.#destinations() };
    }
    if (message.type !== 'attach') throw invalid('expected-attach', `expected attach, got ${message.type}`);
    const task = await this.#mutex.run(() => this.#reverseTask(message));
    if (this.#held.has(task.engine.task.name)) {
      throw conflict(
        'held-by-failover',
        `task ${message.task} is held by failover on ${this.nodeName}: run Sync volume there to let this node resync`,
      );
    }
    if (task.engine.connected) throw conflict('busy', `task ${task.engine.task.name} is already connected`);
    const fields = task.engine.attachFields();
    // Answer first, then run the connection (its bitmap exchange follows the answer on the wire).
    setImmediate(() => {
      task.engine.connect(channel, message).catch((error: unknown) => {
        this.#log.error({ err: String(error) }, 'replication connection failed');
        channel.close(String(error));
      });
    });
    return { type: 'attach-ok', ...fields };
  }

  /** The destination's `<task>_reverse`, created on the first attach. */
  async #reverseTask(attach: AttachFields): Promise<RunningTask> {
    const volume = this.#repos.volumes.byName(attach.volume);
    if (!volume)
      throw notFound('volume-not-found', `there is no volume "${attach.volume}" on ${this.nodeName}`);
    const settings = this.#repos.replication.volumeSettings(volume.id);
    if (settings?.mode !== 'destination') {
      throw conflict('not-destination', `volume "${volume.name}" is not in replication mode destination`);
    }
    if (BigInt(volume.size) !== attach.sizeBytes) {
      throw conflict(
        'size-mismatch',
        `volume "${volume.name}" is ${volume.size} bytes, the source is ${attach.sizeBytes}: they must be equal`,
      );
    }
    if (this.#options.isExported(volume.id) && !this.#options.failover?.covers(attach.task)) {
      throw conflict(
        'volume-exported',
        `volume "${volume.name}" is exported as a LUN and cannot be a destination`,
      );
    }
    const name = `${attach.task}${REVERSE_SUFFIX}`;
    let record = this.#repos.replication.task(name);
    const other = this.#repos.replication.taskOfVolume(volume.id);
    if (other && other.name !== name) {
      throw conflict('volume-in-task', `volume "${volume.name}" is already in task ${other.name}`);
    }
    if (!record) {
      record = {
        name,
        direction: 'reverse',
        volumeId: volume.id,
        remoteVolume: attach.task,
        peerAddress: settings.mirrorServer,
        enabled: true,
        rateMode: DEFAULT_RATE.mode,
        rateBytes: DEFAULT_RATE.bytesPerSecond,
        createdAt: new Date().toISOString(),
      };
      this.#repos.replication.insertTask(record);
      this.#log.info({ task: name, volume: volume.name }, 'replication destination task created');
    }
    return this.#openTask(record);
  }

  #destinations(): { name: string; sizeBytes: bigint; unavailable: string }[] {
    return this.#repos.replication
      .allVolumeSettings()
      .filter((s) => s.mode === 'destination')
      .flatMap((s) => {
        const volume = this.#repos.volumes.byId(s.volumeId);
        if (!volume) return [];
        const task = this.#repos.replication.taskOfVolume(volume.id);
        const unavailable = this.#options.isExported(volume.id)
          ? 'exported as a LUN'
          : task
            ? `in task ${task.name}`
            : '';
        return [{ name: volume.name, sizeBytes: BigInt(volume.size), unavailable }];
      });
  }

  #taskOfVolume(volumeId: string): RunningTask | undefined {
    const record = this.#repos.replication.taskOfVolume(volumeId);
    return record ? this.#tasks.get(record.name) : undefined;
  }

  #open(name: string): RunningTask {
    this.#record(name);
    const task = this.#tasks.get(name);
    if (!task) throw conflict('task-not-open', `task "${name}" could not be opened (see the log)`);
    return task;
  }

  #record(name: string): ReplicationTaskRecord {
    const record = this.#repos.replication.task(name);
    if (!record) throw notFound('task-not-found', `there is no replication task "${name}"`);
    return record;
  }

  #volume(name: string): VolumeRecord {
    const volume = this.#repos.volumes.byName(name);
    if (!volume) throw notFound('volume-not-found', `volume "${name}" does not exist`);
    return volume;
  }
}

/** A task's name as its source node knows it. */
function baseName(name: string): string {
  return name.endsWith(REVERSE_SUFFIX) ? name.slice(0, -REVERSE_SUFFIX.length) : name;
}

/** The replication metadata file of a volume image, next to it in the pool. */
export function metadataPath(imagePath: string): string {
  return `${imagePath}${REPLICATION_METADATA_SUFFIX}`;
}

function certificateFingerprintOf(pem: string): string | null {
  try {
    return certificateFingerprint(pem);
  } catch {
    return null;
  }
}

/** Read through a call: stopTask changes `running` while the connect loop awaits. */
function isRunning(task: RunningTask): boolean {
  return task.running;
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
}
