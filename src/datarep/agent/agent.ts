// The data replication agent: a supervised `rsync --daemon` serving one module per share that has
// "use data replication" on. `apply()` takes the desired state, rewrites rsyncd.conf and the secrets
// files atomically, and starts, stops or restarts rsync as needed. rsync reads its config again for
// every connection, so share changes apply without a restart; only a new port or address needs one.
import { join } from 'node:path';
import { messageOf } from '../../lib/errors.js';
import { Mutex } from '../../lib/mutex.js';
import type { Logger } from '../../observability/logger.js';
import { checkSecretsFile, prepareAgentDir, removeStaleSecrets, writeFileAtomic } from './agent-files.js';
import {
  renderRsyncdConfig,
  renderSecretsFile,
  type AgentListen,
  type AgentModule,
} from './rsyncd-config.js';
import { Supervisor, type SupervisorStatus } from './supervisor.js';

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
}

export interface AgentOptions {
  /** The agent's own directory in the data dir (made 0700). */
  readonly dir: string;
  readonly logger: Logger;
  /** The rsync program (tests may point elsewhere). */
  readonly rsync?: string;
  readonly initialBackoffMs?: number;
}

export class DataReplicationAgent {
  readonly configFile: string;
  private readonly secretsDir: string;
  private readonly mutex = new Mutex();
  private readonly supervisor: Supervisor;
  private desired: AgentDesiredState | null = null;
  private modules: AgentModule[] = [];
  private listening: AgentListen | null = null;
  private applyError: string | null = null;

  constructor(private readonly options: AgentOptions) {
    this.configFile = join(options.dir, 'rsyncd.conf');
    this.secretsDir = join(options.dir, 'secrets');
    this.supervisor = new Supervisor({
      // setpriv: rsync gets SIGKILL when this daemon dies, so it never outlives us holding the port.
      command: 'setpriv',
      args: [
        '--pdeathsig',
        'KILL',
        '--',
        options.rsync ?? 'rsync',
        '--daemon',
        '--no-detach',
        `--config=${this.configFile}`,
      ],
      logFile: join(options.dir, 'rsyncd.log'),
      logger: options.logger.child({ component: 'datarep-agent' }),
      what: 'data replication agent',
      preflight: () => this.preflight(),
      ...(options.initialBackoffMs === undefined ? {} : { initialBackoffMs: options.initialBackoffMs }),
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
          await this.supervisor.stop();
          this.listening = null;
          this.modules = [];
          await prepareAgentDir(this.options.dir);
          await removeStaleSecrets(this.secretsDir, new Set());
          return;
        }
        await this.writeFiles(desired);
        const listenChanged =
          this.listening !== null &&
          (this.listening.port !== desired.listen.port || this.listening.address !== desired.listen.address);
        if (listenChanged) await this.supervisor.stop();
        this.listening = desired.listen;
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
    const desired = this.desired;
    return {
      enabled: desired?.enabled ?? false,
      running: process.running,
      pid: process.pid,
      address: desired?.listen.address ?? '',
      port: desired?.listen.port ?? 0,
      modules: this.modules.map((m) => m.name),
      startedAt: process.startedAt,
      restarts: process.restarts,
      lastExit: process.lastExit,
      lastError: this.applyError ?? process.lastError,
      configFile: this.configFile,
    };
  }

  close(): Promise<void> {
    return this.mutex.run(() => this.supervisor.stop());
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
        port: desired.listen.port,
        address: desired.listen.address,
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

  /** Before rsync starts: every secrets file it will read is 0600 (or stricter) and ours. */
  private async preflight(): Promise<void> {
    for (const module of this.modules) await checkSecretsFile(module.secretsFile);
  }
}
