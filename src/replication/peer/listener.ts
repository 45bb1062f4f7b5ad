// The accepting side: a TCP or TLS server that authenticates every connection and hands the
// channels that pass to its owner. Refused connections are reported, never thrown, so one bad
// client cannot disturb the next.
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { normalizeFingerprint, peerCertificateFingerprint, type PeerTlsOptions } from './certificates.js';
import { PeerChannel, type PeerChannelOptions } from './channel.js';
import { FramedSocket } from './framed-socket.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, runHandshake } from './handshake.js';
import { isPeerError } from './peer-error.js';
import type { Secret } from './proof.js';

/** A connection the listener did not accept, for the daemon's log. */
export interface RefusalInfo {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** A PeerErrorCode ('auth-failed', 'unknown-node', 'bad-certificate', ...) or 'busy'. */
  readonly code: string;
  readonly message: string;
}

export interface PeerListenerOptions extends PeerChannelOptions {
  readonly host: string;
  readonly port: number;
  readonly nodeName: string;
  readonly secret: Secret;
  /** Node names let in; undefined lets in any node that knows the secret. */
  readonly allowedPeers?: readonly string[] | undefined;
  readonly tls?: PeerTlsOptions | undefined;
  readonly handshakeTimeoutMs?: number | undefined;
  /** Connections still in their handshake beyond which new ones are dropped (default 32). */
  readonly maxPendingHandshakes?: number | undefined;
  readonly onRefused?: ((info: RefusalInfo) => void) | undefined;
  /** Errors of the server itself (such as failing to accept); ignored when not set. */
  readonly onError?: ((error: Error) => void) | undefined;
}

const DEFAULT_MAX_PENDING_HANDSHAKES = 32;

export class PeerListener {
  private readonly handshaking = new Set<Socket>();
  private readonly allowedPeers: ReadonlySet<string> | undefined;
  private readonly expectedFingerprint: string | undefined;
  private readonly server: Server;

  private constructor(
    private readonly options: PeerListenerOptions,
    private readonly onChannel: (channel: PeerChannel) => void,
  ) {
    this.allowedPeers = options.allowedPeers === undefined ? undefined : new Set(options.allowedPeers);
    const tls = options.tls;
    this.expectedFingerprint = tls === undefined ? undefined : normalizeFingerprint(tls.peerFingerprint);
    if (tls === undefined) {
      this.server = createNetServer((socket) => this.accept(socket));
    } else {
      const server = createTlsServer({
        cert: tls.cert,
        key: tls.key,
        requestCert: true,
        // The pinned fingerprint replaces certificate authorities; it is checked in secureAccept.
        rejectUnauthorized: false,
        minVersion: 'TLSv1.3',
        handshakeTimeout: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      });
      server.on('secureConnection', (socket: TLSSocket) => this.secureAccept(socket));
      server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
        const code = error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'handshake-timeout' : 'protocol-error';
        this.report(socket, code, `TLS handshake failed: ${error.code ?? error.message}`);
      });
      this.server = server;
    }
    this.server.on('error', (error) => this.options.onError?.(error));
  }

  /** Starts listening; `onChannel` receives every authenticated connection. */
  static async listen(
    options: PeerListenerOptions,
    onChannel: (channel: PeerChannel) => void,
  ): Promise<PeerListener> {
    const listener = new PeerListener(options, onChannel);
    await new Promise<void>((resolve, reject) => {
      const server = listener.server;
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return listener;
  }

  address(): AddressInfo {
    const address = this.server.address();
    if (address === null || typeof address === 'string')
      throw new Error('the peer listener is not listening');
    return address;
  }

  /**
   * Stops accepting and drops connections still in their handshake. Channels already handed out
   * stay open: they belong to whoever took them.
   */
  close(): Promise<void> {
    for (const socket of this.handshaking) socket.destroy();
    this.handshaking.clear();
    // Not waiting for server.close's callback: it would also wait for the handed-out channels.
    if (this.server.listening) this.server.close();
    return Promise.resolve();
  }

  private secureAccept(socket: TLSSocket): void {
    const actual = peerCertificateFingerprint(socket);
    if (actual !== this.expectedFingerprint) {
      const message = `the client certificate has fingerprint ${actual ?? '(none)'}, not the pinned one`;
      this.report(socket, 'bad-certificate', message);
      // Over TLS the client can read why, so it can report 'bad-certificate' too.
      const framed = new FramedSocket(socket);
      framed.send({ type: 'refused', code: 'bad-certificate', message }, 0, false);
      framed.end('refused: bad-certificate');
      return;
    }
    this.accept(socket);
  }

  private accept(socket: Socket): void {
    const limit = this.options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES;
    if (this.handshaking.size >= limit) {
      this.report(socket, 'busy', `more than ${limit} connections are in their handshake`);
      socket.destroy();
      return;
    }
    this.handshaking.add(socket);
    const framed = new FramedSocket(socket);
    runHandshake(framed, {
      side: 'accepting',
      nodeName: this.options.nodeName,
      secret: this.options.secret,
      allowedPeers: this.allowedPeers,
      timeoutMs: this.options.handshakeTimeoutMs,
    }).then(
      ({ peerName }) => {
        this.handshaking.delete(socket);
        const channel = new PeerChannel(framed, peerName, this.options);
        try {
          this.onChannel(channel);
        } catch (error) {
          channel.close(
            `the new channel was not taken: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      },
      (error: unknown) => {
        this.handshaking.delete(socket);
        const code = isPeerError(error) ? error.code : 'protocol-error';
        this.report(socket, code, error instanceof Error ? error.message : String(error));
      },
    );
  }

  private report(socket: Socket, code: string, message: string): void {
    this.options.onRefused?.({
      remoteAddress: socket.remoteAddress ?? 'unknown',
      remotePort: socket.remotePort ?? 0,
      code,
      message,
    });
  }
}

/** Same as PeerListener.listen. */
export function listenPeer(
  options: PeerListenerOptions,
  onChannel: (channel: PeerChannel) => void,
): Promise<PeerListener> {
  return PeerListener.listen(options, onChannel);
}
