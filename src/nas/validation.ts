// What people type for the NAS side, checked before anything is touched: share names, a share's path
// inside its volume, comments, data replication IDs and passwords, agent settings. Everything here
// ends up in file paths or in the agent's rsyncd.conf / secrets files, whose syntax is line based and
// expands %VAR% references, so the alphabets are kept narrow.
import { isIP } from 'node:net';
import { posix } from 'node:path';
import ipaddr from 'ipaddr.js';
import { invalid } from '../lib/errors.js';
import { validateName } from '../lib/names.js';

export const COMMENT_MAX_LENGTH = 255;
export const RELATIVE_PATH_MAX_LENGTH = 1024;
export const PATH_COMPONENT_MAX_BYTES = 255;
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;
export const MAX_ALLOWED_HOSTS = 64;
export const MAX_AGENT_CONNECTIONS = 1000;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** rsync expands %NAME% in config values; such text would not reach rsync as written. */
const RSYNC_ENV_REFERENCE = /%[^%]*%/;

/** Share names become rsync module names and URL path segments: the object name alphabet. */
export function validateShareName(name: string): string {
  return validateName('share', name);
}

/**
 * Normalises a share's path inside its volume and refuses anything that could leave it: absolute
 * paths, `..` escapes, control characters, `%` (rsync config expansion), `\`, components that begin
 * with a dot, dash or space or end with a space. Returns '' for the volume's root.
 */
export function normaliseRelativePath(text: string): string {
  if (typeof text !== 'string') throw invalid('bad-share-path', 'the share path must be text');
  if (text.length > RELATIVE_PATH_MAX_LENGTH) {
    throw invalid('bad-share-path', `the share path is longer than ${RELATIVE_PATH_MAX_LENGTH} characters`);
  }
  if (text.startsWith('/')) {
    throw invalid('bad-share-path', `share path "${text}" must be relative to the volume, not absolute`);
  }
  if (CONTROL.test(text) || text.includes('\\') || text.includes('%')) {
    throw invalid('bad-share-path', 'the share path must not contain control characters, "\\" or "%"');
  }
  const parts = text.split('/');
  if (parts.includes('..')) {
    throw invalid(
      'bad-share-path',
      `share path "${text}" must not contain ".." (it must stay inside the volume)`,
    );
  }
  const normal = posix.normalize(text === '' ? '.' : text).replace(/\/+$/, '');
  if (normal === '.' || normal === '') return '';
  for (const part of normal.split('/')) {
    if (/^[.\- ]/.test(part) || part.endsWith(' ')) {
      throw invalid(
        'bad-share-path',
        `share path component "${part}" must not begin with ".", "-" or a space, nor end with a space`,
      );
    }
    if (Buffer.byteLength(part, 'utf8') > PATH_COMPONENT_MAX_BYTES) {
      throw invalid('bad-share-path', `share path component "${part.slice(0, 20)}..." is too long`);
    }
  }
  return normal;
}

/** Comments are shown by `rsync --list-only` and written into rsyncd.conf on one line. */
export function validateComment(comment: string): string {
  if (typeof comment !== 'string') throw invalid('bad-comment', 'the comment must be text');
  if (comment.length > COMMENT_MAX_LENGTH) {
    throw invalid('bad-comment', `the comment is longer than ${COMMENT_MAX_LENGTH} characters`);
  }
  if (CONTROL.test(comment))
    throw invalid('bad-comment', 'the comment must be one line without control characters');
  if (RSYNC_ENV_REFERENCE.test(comment)) {
    throw invalid('bad-comment', 'the comment must not contain text between two "%" (rsync would expand it)');
  }
  return comment.trim();
}

/** The data replication ID is the rsync auth user: the object name alphabet (no ":", "," or spaces). */
export function validateReplicationId(id: string): string {
  return validateName('data replication ID', id);
}

/** One line of an rsync secrets file: no control characters, no surrounding spaces. */
export function validateReplicationPassword(password: string): string {
  if (typeof password !== 'string' || password.length < PASSWORD_MIN_LENGTH) {
    throw invalid(
      'bad-password',
      `the data replication password must be at least ${PASSWORD_MIN_LENGTH} characters`,
    );
  }
  if (password.length > PASSWORD_MAX_LENGTH) {
    throw invalid(
      'bad-password',
      `the data replication password must be at most ${PASSWORD_MAX_LENGTH} characters`,
    );
  }
  if (CONTROL.test(password) || password.trim() !== password) {
    throw invalid(
      'bad-password',
      'the data replication password must not contain control characters or begin or end with a space',
    );
  }
  return password;
}

/** The address the agent binds: an IP address. */
export function validateAgentAddress(address: string): string {
  if (isIP(address) === 0) throw invalid('bad-address', `agent address "${address}" is not an IP address`);
  return address;
}

export function validateAgentPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid('bad-port', `agent port ${String(port)} is not from 1 to 65535`);
  }
  return port;
}

export function validateMaxConnections(count: number): number {
  if (!Number.isInteger(count) || count < 1 || count > MAX_AGENT_CONNECTIONS) {
    throw invalid('bad-max-connections', `max connections must be from 1 to ${MAX_AGENT_CONNECTIONS}`);
  }
  return count;
}

/** A host name pattern rsync's "hosts allow" understands: letters, digits, ".", "-", "*", "?". */
const HOST_PATTERN = /^[A-Za-z0-9*?]([A-Za-z0-9.*?-]{0,252})$/;

/**
 * Entries of the agent's allowed hosts: an IP address, an address/prefix (CIDR), or a host name
 * pattern. Returns them normalised (CIDR in canonical form), without duplicates.
 */
export function validateAllowedHosts(hosts: readonly string[]): string[] {
  if (hosts.length > MAX_ALLOWED_HOSTS) {
    throw invalid('bad-allowed-hosts', `at most ${MAX_ALLOWED_HOSTS} allowed hosts`);
  }
  const out: string[] = [];
  for (const host of hosts) {
    const entry = typeof host === 'string' ? host.trim() : '';
    let normal: string;
    if (entry.includes('/')) {
      try {
        const [address, prefix] = ipaddr.parseCIDR(entry);
        normal = `${address.toString()}/${prefix}`;
      } catch {
        throw invalid('bad-allowed-hosts', `allowed host "${entry}" is not a valid address/prefix`);
      }
    } else if (isIP(entry) !== 0) {
      normal = entry;
    } else if (HOST_PATTERN.test(entry) && !entry.includes('..')) {
      normal = entry.toLowerCase();
    } else {
      throw invalid(
        'bad-allowed-hosts',
        `allowed host "${entry}" is not an IP address, address/prefix or host name pattern`,
      );
    }
    if (!out.includes(normal)) out.push(normal);
  }
  return out;
}
