// The destination of a data replication task, checked before anything is stored or run: a host name or
// IP address with an optional port (rsync's 873 by default), an rsync module (the destination share), an
// agent ID and a password. Everything here ends up in an rsync URL or a secrets line, so the alphabet is
// small: no `/`, no `..`, no `@`, no whitespace, no shell metacharacters.
import { isIP } from 'node:net';
import { invalid } from '../lib/errors.js';
import { validateName } from '../lib/names.js';

export const RSYNC_DEFAULT_PORT = 873;
export const PASSWORD_MAX_BYTES = 256;

export interface Destination {
  readonly host: string;
  readonly port: number;
}

const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** A DNS host name (RFC 1123 labels) or an IP address; returns it unchanged or throws invalid. */
export function validateHost(host: string): string {
  if (isIP(host) !== 0) return host;
  const labels = host.split('.');
  if (host.length === 0 || host.length > 253 || !labels.every((l) => HOST_LABEL.test(l))) {
    throw invalid('bad-destination', `"${host}" is not a host name or IP address`);
  }
  return host;
}

/** `host`, `host:port`, `1.2.3.4:873`, `[::1]:873` or `::1`; the port defaults to 873. */
export function parseDestination(text: string): Destination {
  const trimmed = text.trim();
  let host = trimmed;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
    if (isIP(host) !== 6) throw invalid('bad-destination', `"${text}": only IPv6 addresses go in brackets`);
  } else if (isIP(trimmed) !== 6 && trimmed.includes(':')) {
    const colon = trimmed.lastIndexOf(':');
    host = trimmed.slice(0, colon);
    portText = trimmed.slice(colon + 1);
  }
  validateHost(host);
  const port = portText === undefined ? RSYNC_DEFAULT_PORT : Number(portText);
  if (portText !== undefined && (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535)) {
    throw invalid('bad-destination', `"${text}": the port must be a number from 1 to 65535`);
  }
  return { host, port };
}

export function formatDestination({ host, port }: Destination): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The destination share is an rsync module name on the agent. */
export const validateModule = (name: string): string => validateName('destination share', name);

export const validateAgentId = (id: string): string => validateName('agent ID', id);

/** A password rsync can send: 1..256 bytes, one line, no NUL (it goes in an environment variable). */
export function validatePassword(password: string): string {
  const bytes = Buffer.byteLength(password, 'utf8');
  if (bytes === 0) throw invalid('bad-password', 'the agent password must not be empty');
  if (bytes > PASSWORD_MAX_BYTES) {
    throw invalid('bad-password', `the agent password must be at most ${PASSWORD_MAX_BYTES} bytes`);
  }
  if (/[\r\n\0]/.test(password)) {
    throw invalid('bad-password', 'the agent password must be one line without NUL characters');
  }
  return password;
}

/** The URL of the destination module, with the agent ID as the rsync user. */
export function moduleUrl(destination: Destination, module: string, agentId: string): string {
  return `rsync://${agentId}@${formatDestination(destination)}/${module}/`;
}
