// The opening of the rsync daemon protocol as the agent's gate sees it, and the PROXY header the gate
// puts in front of a connection it hands to rsync. Pure functions: no sockets, no timers.
//
// Until it authenticates a client, an rsync daemon speaks text lines ("\n"-terminated): its greeting
// "@RSYNCD: 32.0 sha512 ...", then either a module list ending in "@RSYNCD: EXIT", an "@ERROR: ..."
// line, or "@RSYNCD: AUTHREQD <challenge>" and, once the client has answered it, "@RSYNCD: OK". From
// "@RSYNCD: OK" on the stream is rsync's binary protocol, which the gate no longer looks at.
//
// Only the server's side is parsed. A client cannot make the server send "@RSYNCD: OK" without the
// password: module list lines start with the module name (letters or digits), and the one line that
// echoes client input, "@ERROR: Unknown module '...'", starts with "@ERROR".
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** A longer server line is not one the gate acts on; only its first bytes are kept. */
export const MAX_LINE_BYTES = 4096;

export type ServerLine =
  | { readonly kind: 'greeting'; readonly protocol: number; readonly subprotocol: number }
  | { readonly kind: 'auth-challenge' }
  | { readonly kind: 'authenticated' }
  | { readonly kind: 'exit' }
  | { readonly kind: 'error'; readonly message: string }
  /** A module list line, a MOTD line, anything else. */
  | { readonly kind: 'text' };

/** One server line without its "\n" (a trailing "\r" is ignored). */
export function parseServerLine(raw: string): ServerLine {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line === '@RSYNCD: OK') return { kind: 'authenticated' };
  if (line === '@RSYNCD: EXIT') return { kind: 'exit' };
  if (line.startsWith('@RSYNCD: AUTHREQD ')) return { kind: 'auth-challenge' };
  const greeting = /^@RSYNCD: (\d{1,4})\.(\d{1,4})(?: |$)/.exec(line);
  if (greeting !== null) {
    return { kind: 'greeting', protocol: Number(greeting[1]), subprotocol: Number(greeting[2]) };
  }
  if (line.startsWith('@ERROR')) return { kind: 'error', message: line.replace(/^@ERROR:?\s*/, '') };
  return { kind: 'text' };
}

/**
 * Splits the server's bytes into lines until "@RSYNCD: OK" and then stops: what follows in the same
 * chunk, and every later chunk, is the binary protocol. Holds at most MAX_LINE_BYTES of a line.
 */
export class ServerLineScanner {
  private partial = '';
  private overlong = false;
  private finished = false;

  /** True once "@RSYNCD: OK" has been seen. */
  get authenticated(): boolean {
    return this.finished;
  }

  /** The lines that `chunk` completes, in order; nothing after "@RSYNCD: OK". */
  push(chunk: Buffer): ServerLine[] {
    const lines: ServerLine[] = [];
    if (this.finished) return lines;
    // latin1 maps each byte to one character, so any bytes are safe and lengths are byte counts.
    const text = chunk.toString('latin1');
    let start = 0;
    while (start < text.length) {
      const end = text.indexOf('\n', start);
      const piece = text.slice(start, end === -1 ? text.length : end);
      this.take(piece);
      if (end === -1) break;
      const line: ServerLine = this.overlong ? { kind: 'text' } : parseServerLine(this.partial);
      this.partial = '';
      this.overlong = false;
      lines.push(line);
      start = end + 1;
      if (line.kind === 'authenticated') {
        this.finished = true;
        break;
      }
    }
    return lines;
  }

  private take(piece: string): void {
    if (this.overlong) return;
    if (this.partial.length + piece.length > MAX_LINE_BYTES) {
      this.overlong = true;
      this.partial = '';
      return;
    }
    this.partial += piece;
  }
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/**
 * A literal IP address (dotted quad or IPv6, as `net.isIP` takes them: not "10" or "0x7f.1"), with
 * IPv4-mapped IPv6 read as IPv4 and an IPv6 zone dropped; null if `text` is not one.
 */
export function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const bare = text.split('%')[0] ?? '';
  if (isIP(bare) === 0) return null;
  return ipaddr.process(bare);
}

/**
 * The PROXY protocol v1 header (haproxy's proxy-protocol.txt, 2.1) that tells rsync ("proxy protocol
 * = yes") who the client is: "PROXY TCP4 <client> <server> <client port> <server port>\r\n". Mixed
 * families (an IPv4 client on an IPv6 socket) are written as TCP6 with IPv4-mapped addresses.
 */
export function proxyHeaderV1(client: Endpoint, server: Endpoint): string {
  const from = parseAddress(client.address);
  const to = parseAddress(server.address);
  if (from === null || to === null)
    throw new Error(`not an IP address: ${client.address} or ${server.address}`);
  validPort(client.port);
  validPort(server.port);
  if (from.kind() === 'ipv4' && to.kind() === 'ipv4') {
    return `PROXY TCP4 ${from.toString()} ${to.toString()} ${client.port} ${server.port}\r\n`;
  }
  const v6 = (a: ipaddr.IPv4 | ipaddr.IPv6): string =>
    (a instanceof ipaddr.IPv4 ? a.toIPv4MappedAddress() : a).toString();
  return `PROXY TCP6 ${v6(from)} ${v6(to)} ${client.port} ${server.port}\r\n`;
}

function validPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`not a port: ${port}`);
}
