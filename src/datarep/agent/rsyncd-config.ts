// The data replication agent's rsyncd.conf and secrets files, as text. Pure functions: the same
// settings always give the same bytes, so the files can be compared, tested and rewritten safely.
//
// Values are written as given: the NAS side has already refused anything that rsyncd.conf would read
// differently (newlines, control characters, %VAR% references, leading/trailing spaces).
import { compileAllowedHosts } from './allowed-hosts.js';

export interface AgentListen {
  readonly port: number;
  readonly address: string;
}

/**
 * Where rsync listens: loopback only, on a port given on its command line (--port). The agent's gate
 * (gate.ts) owns the public address and port and is the only client rsync trusts to name the real
 * client in a PROXY protocol header.
 */
export const RSYNC_LOOPBACK = '127.0.0.1';

export interface AgentGlobals {
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
    '# rsync listens on loopback; the port is on its command line. Clients reach it through the gate',
    '# in the node daemon, which passes their address in a PROXY protocol header.',
    `address = ${RSYNC_LOOPBACK}`,
    'proxy protocol = yes',
    `proxy protocol hosts = ${RSYNC_LOOPBACK}`,
    // The gate has checked host names already; without name entries rsync needs no DNS at all (a
    // slow resolver would otherwise hold up every handshake).
    `reverse lookup = ${compileAllowedHosts(globals.allowedHosts).needsReverse ? 'yes' : 'no'}`,
    'use chroot = yes',
    `max connections = ${globals.maxConnections}`,
    `lock file = ${globals.lockFile}`,
    // Followed by the supervisor into the node's log (rsync would use syslog otherwise; /dev/stderr
    // cannot be opened when stderr is a socket, as Node's child pipes are).
    `log file = ${globals.logFile}`,
    `timeout = ${AGENT_IO_TIMEOUT_SECONDS}`,
    'strict modes = yes',
  ];
  // Checked by the gate before rsync sees the client, and again by rsync with the address the gate
  // passes on (rsync's module list ignores it, which is why the gate is needed).
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
