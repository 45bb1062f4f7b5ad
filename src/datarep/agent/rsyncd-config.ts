// The data replication agent's rsyncd.conf and secrets files, as text. Pure functions: the same
// settings always give the same bytes, so the files can be compared, tested and rewritten safely.
//
// Values are written as given: the NAS side has already refused anything that rsyncd.conf would read
// differently (newlines, control characters, %VAR% references, leading/trailing spaces).

export interface AgentListen {
  readonly port: number;
  readonly address: string;
}

export interface AgentGlobals extends AgentListen {
  readonly maxConnections: number;
  /** Empty: every host may connect (the password still guards each share). */
  readonly allowedHosts: readonly string[];
  readonly lockFile: string;
  /** rsync's log; the supervisor follows it into the node's log. */
  readonly logFile: string;
}

/** One rsync module per share with data replication enabled. */
export interface AgentModule {
  readonly name: string;
  readonly path: string;
  readonly comment: string;
  /** The rsync auth user (the share's data replication ID). */
  readonly authUser: string;
  readonly secretsFile: string;
}

/** Seconds of silence after which the agent drops a client. */
export const AGENT_IO_TIMEOUT_SECONDS = 600;

export function renderRsyncdConfig(globals: AgentGlobals, modules: readonly AgentModule[]): string {
  const lines = [
    '# Written by Tandem (the data replication agent); rewritten on every change, edits are lost.',
    `port = ${globals.port}`,
    `address = ${globals.address}`,
    'use chroot = yes',
    `max connections = ${globals.maxConnections}`,
    `lock file = ${globals.lockFile}`,
    // Followed by the supervisor into the node's log (rsync would use syslog otherwise; /dev/stderr
    // cannot be opened when stderr is a socket, as Node's child pipes are).
    `log file = ${globals.logFile}`,
    `timeout = ${AGENT_IO_TIMEOUT_SECONDS}`,
    'strict modes = yes',
  ];
  if (globals.allowedHosts.length > 0) lines.push(`hosts allow = ${globals.allowedHosts.join(' ')}`);
  for (const module of modules) {
    lines.push(
      '',
      `[${module.name}]`,
      `    path = ${module.path}`,
      `    comment = ${module.comment}`,
      '    read only = no',
      '    list = yes',
      // We run as root and keep owners as the source sends them.
      '    uid = 0',
      '    gid = 0',
      `    auth users = ${module.authUser}`,
      `    secrets file = ${module.secretsFile}`,
      // Inside the chroot a symlink cannot lead out, so it is stored as sent.
      '    munge symlinks = no',
      '    fake super = no',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** An rsync secrets file: `user:password`, one line. */
export function renderSecretsFile(authUser: string, password: string): string {
  return `${authUser}:${password}\n`;
}
