// The connecting side: opens TCP (or TLS with a pinned peer certificate), runs the handshake and
// returns the authenticated channel.
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect as tlsConnect } from 'node:tls';
import { normalizeFingerprint, peerCertificateFingerprint, type PeerTlsOptions } from './certificates.js';
import { PeerChannel, type PeerChannelOptions } from './channel.js';
import { FramedSocket } from './framed-socket.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, runHandshake } from './handshake.js';
import { PeerError } from './peer-error.js';
import type { Secret } from './proof.js';

export interface ConnectPeerOptions extends PeerChannelOptions {
  readonly host: string;
  readonly port: number;
  /** This node's name, as the peer's allowed list knows it. */
  readonly nodeName: string;
  readonly secret: Secret;
  readonly tls?: PeerTlsOptions | undefined;
  /** Time for the connection, TLS and the handshake together (default 5000 ms). */
  readonly timeoutMs?: number | undefined;
}

/** Connects and authenticates; rejects with a PeerError (code says why) and leaves nothing open. */
export async function connectPeer(options: ConnectPeerOptions): Promise<PeerChannel> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const deadline = performance.now() + timeoutMs;
  const socket = await openSocket(options, timeoutMs);
  const framed = new FramedSocket(socket);
  const { peerName } = await runHandshake(framed, {
    side: 'connecting',
    nodeName: options.nodeName,
    secret: options.secret,
    timeoutMs: Math.max(1, deadline - performance.now()),
  });
  return new PeerChannel(framed, peerName, options);
}

function openSocket(options: ConnectPeerOptions, timeoutMs: number): Promise<Socket> {
  const where = `${options.host}:${options.port}`;
  const tls = options.tls;
  const expectedFingerprint = tls === undefined ? undefined : normalizeFingerprint(tls.peerFingerprint);
  return new Promise((resolve, reject) => {
    // Certificate authorities play no part: the pinned fingerprint is checked on 'secureConnect'.
    const socket =
      tls === undefined
        ? netConnect({ host: options.host, port: options.port })
        : tlsConnect({
            host: options.host,
            port: options.port,
            cert: tls.cert,
            key: tls.key,
            rejectUnauthorized: false,
            minVersion: 'TLSv1.3',
          });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new PeerError('connect-failed', `timed out connecting to ${where}`));
    }, timeoutMs);
    // Stays attached until the FramedSocket adds its own, so an early error is never unhandled.
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new PeerError('connect-failed', `cannot connect to ${where}: ${error.code ?? error.message}`));
    });
    socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
      clearTimeout(timer);
      if (expectedFingerprint !== undefined && 'getPeerCertificate' in socket) {
        const actual = peerCertificateFingerprint(socket);
        if (actual !== expectedFingerprint) {
          socket.destroy();
          reject(
            new PeerError(
              'bad-certificate',
              `the certificate of ${where} has fingerprint ${actual ?? '(none)'}, not the pinned ${expectedFingerprint}`,
            ),
          );
          return;
        }
      }
      resolve(socket);
    });
  });
}
