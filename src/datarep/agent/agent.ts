// The data replication agent: a supervised `rsync --daemon` serving one module per share that has
// "use data replication" on, behind a gate (gate.ts) in this process that owns the agent's public
// address and port. `apply()` takes the desired state, rewrites rsyncd.conf and the secrets files
// atomically, points the gate at the address, allowed hosts and limits, and starts or stops rsync as
// needed. rsync reads its config again for every connection, so share changes apply without a
// restart; a new port or address moves only the gate. rsync itself listens on a loopback port chosen
// afresh before each start.
import { join } from 'node:path';
import { messageOf } from '../../lib/errors.js';
import { Mutex } from '../../lib/mutex.js';
import type { Logger } from '../../observability/logger.js';
import { checkSecretsFile, prepareAgentDir, removeStaleSecrets, writeFileAtomic } from './agent-files.js';
import { AgentGate, type GateOptions, type GateStatus } from './gate.js';
import {
  renderRsyncdConfig,
  renderSecretsFile,
  RSYNC_LOOPBACK,
  type AgentListen,
  type AgentModule,
} from './rsyncd-config.js';
import { Supervisor, type SupervisorStatus } from './supervisor.js';
import { freePort } from '../../lib/free-port.js';

/** The agent's directory inside a node's data dir. */
export const agentDirIn = (dataDir: string): string => join(dataDir, 'datarep-agent');

export interface AgentShare {
  readonly name: string;
  readonly path: string;
  readonly comment: string;
  readonly id: string;
  readonly password: string;
}

export interface AgentDesiredState {
  readonly enabled: boolean;
  readonly listen: AgentListen;
  readonly allowedHosts: readonly string[];
  readonly maxConnections: number;
  readonly shares: readonly AgentShare[];
}

export interface AgentStatus {
  readonly enabled: boolean;
  readonly running: boolean;
  readonly pid: number | null;
  readonly address: string;
  readonly port: number;
  /** The modules (shares) the agent serves. */
  readonly modules: readonly string[];
  readonly startedAt: string | null;
  readonly restarts: number;
  readonly lastExit: SupervisorStatus['lastExit'];
  readonly lastError: string | null;
  readonly configFile: string;
  /** The gate on the public address: whether it listens, and its connections and refusals. */
  readonly gate: Omit<GateStatus, 'lastError'>;
}

export interface AgentOptions {
  /** The agent's own directory in the data dir (made 0700). */
  readonly dir: string;
  readonly logger: Logger;
  /** The rsync program (tests may point elsewhere). */
  readonly rsync?: string;
  readonly initialBackoffMs?: number;
  /** Deadline and limits of the gate (tests make them short). */
  readonly gate?: Omit<GateOptions, 'logger' | 'upstreamPort' | 'initialBackoffMs'>;
}

export class DataReplicationAgent {
  readonly configFile: string;
  private readonly secretsDir: string;
  private readonly mutex = new Mutex();
  private readonly supervisor: Supervisor;
  private readonly gate: AgentGate;
  private desired: AgentDesiredState | null = null;
  private modules: AgentModule[] = [];
  /** The loopback port of the rsync started last (chosen by the preflight). */
  private rsyncPort: number | null = null;
  private applyError: string | null = null;

  constructor(private readonly options: AgentOptions) {
    this.configFile = join(options.dir, 'rsyncd.conf');
    this.secretsDir = join(options.dir, 'secrets');
    const logger = options.logger.child({ component: 'datarep-agent' });
    const backoff =
      options.initialBackoffMs === undefined ? {} : { initialBackoffMs: options.initialBackoffMs };
    this.supervisor = new Supervisor({
      // setpriv: rsync gets SIGKILL when this daemon dies, so it never outlives us holding the port.
      command: 'setpriv',
      args: () => [
        '--pdeathsig',
        'KILL',
        '--',
        options.rsync ?? 'rsync',
        '--daemon',
        '--no-detach',
        `--config=${this.configFile}`,
        `--port=${String(this.rsyncPort)}`,
      ],
      logFile: join(options.dir, 'rsyncd.log'),
      logger,
      what: 'data replication agent',
      preflight: () => this.preflight(),
      ...backoff,
    });
    this.gate = new AgentGate({
      ...options.gate,
      logger,
      upstreamPort: () => (this.supervisor.status().running ? this.rsyncPort : null),
      ...backoff,
    });
  }

  secretsFileOf(share: string): string {
    return join(this.secretsDir, `${share}.secrets`);
  }

  /** Brings files and process to `desired`. Never throws: problems show in status().lastError. */
  apply(desired: AgentDesiredState): Promise<void> {
    return this.mutex.run(async () => {
      this.desired = desired;
      this.applyError = null;
      try {
        if (!desired.enabled) {
          await this.gate.close();
          await this.supervisor.stop();
          this.modules = [];
          await prepareAgentDir(this.options.dir);
          await removeStaleSecrets(this.secretsDir, new Set());
          return;
        }
        await this.writeFiles(desired);
        this.gate.configure({ allowedHosts: desired.allowedHosts, maxConnections: desired.maxConnections });
        await this.gate.listen(desired.listen); // never throws: a port it cannot have is retried
        await this.supervisor.start();
      } catch (error) {
        this.applyError = messageOf(error);
        this.options.logger.error(
          { component: 'datarep-agent', err: error },
          `data replication agent: ${this.applyError}`,
        );
      }
    });
  }

  status(): AgentStatus {
    const process = this.supervisor.status();
    const { lastError: gateError, ...gate } = this.gate.status();
    const desired = this.desired;
    return {
      enabled: desired?.enabled ?? false,
      running: process.running && gate.listening,
      pid: process.pid,
      address: desired?.listen.address ?? '',
      port: desired?.listen.port ?? 0,
      modules: this.modules.map((m) => m.name),
      startedAt: process.startedAt,
      restarts: process.restarts,
      lastExit: process.lastExit,
      lastError: this.applyError ?? gateError ?? process.lastError,
      configFile: this.configFile,
      gate,
    };
  }

  close(): Promise<void> {
    return this.mutex.run(async () => {
      await this.gate.close();
      await this.supervisor.stop();
    });
  }

  private async writeFiles(desired: AgentDesiredState): Promise<void> {
    await prepareAgentDir(this.options.dir);
    const modules: AgentModule[] = desired.shares.map((share) => ({
      name: share.name,
      path: share.path,
      comment: share.comment,
      authUser: share.id,
      secretsFile: this.secretsFileOf(share.name),
    }));
    // Secrets first, so the config never names a file that is not there yet.
    for (const [i, share] of desired.shares.entries()) {
      const module = modules[i] as AgentModule;
      await writeFileAtomic(module.secretsFile, renderSecretsFile(share.id, share.password), 0o600);
    }
    const config = renderRsyncdConfig(
      {
        maxConnections: desired.maxConnections,
        allowedHosts: desired.allowedHosts,
        lockFile: join(this.options.dir, 'rsyncd.lock'),
        logFile: join(this.options.dir, 'rsyncd.log'),
      },
      modules,
    );
    await writeFileAtomic(this.configFile, config, 0o600);
    await removeStaleSecrets(this.secretsDir, new Set(modules.map((m) => m.secretsFile)));
    this.modules = modules;
  }

  /**
   * Before rsync starts: every secrets file it will read is 0600 (or stricter) and ours, and a free
   * loopback port for it (a fresh one each start, so a port taken meanwhile costs one restart).
   */
  private async preflight(): Promise<void> {
    for (const module of this.modules) await checkSecretsFile(module.secretsFile);
    this.rsyncPort = await freePort(RSYNC_LOOPBACK);
  }
}
