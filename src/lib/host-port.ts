// HOST:PORT arguments (`127.0.0.1:8080`, `[::1]:8080`, `0.0.0.0:3260`, `:8080`, `8080`).
import { isIP } from 'node:net';
import { invalid } from './errors.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export function parseHostPort(text: string, defaultHost: string): HostPort {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  let host: string;
  let portText: string;
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2] ?? '';
  } else if (/^\d+$/.test(text)) {
    host = defaultHost;
    portText = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0 || text.indexOf(':') !== colon) {
      throw invalid('bad-address', `"${text}" is not HOST:PORT (write IPv6 addresses as [addr]:port)`);
    }
    host = text.slice(0, colon) || defaultHost;
    portText = text.slice(colon + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535)
    throw invalid('bad-address', `"${text}" has no valid port (0-65535)`);
  if (host !== 'localhost' && isIP(host) === 0) {
    throw invalid('bad-address', `"${host}" is not an IP address (or localhost)`);
  }
  return { host, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
