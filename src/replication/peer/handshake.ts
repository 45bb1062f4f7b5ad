// The mutual authentication that runs on a fresh connection before anything else:
//
//   connecting side                         accepting side
//   hello {name, challenge C}        ──>    checks the name is an allowed peer
//                                    <──    hello {name, challenge A}
//   auth {proof over A}              ──>    verifies it
//                                    <──    auth {proof over C}, auth-ok
//   verifies it, auth-ok             ──>
//
// The accepting side proves itself only to a peer that has already proven itself, so an unknown
// party learns no proof from a listener. A failed check is answered with `refused` and the
// connection is closed; both sides report it as a PeerError with the refusal's code.
import { randomBytes } from 'node:crypto';
import {
  CHALLENGE_LENGTH,
  HANDSHAKE_TYPES,
  PROTOCOL_VERSION,
  type DecodedFrame,
  type HelloMessage,
  type KnownRefusalCode,
} from '../wire/index.js';
import type { EndCause, FramedSocket } from './framed-socket.js';
import { PeerError, refusalError, type PeerErrorCode } from './peer-error.js';
import { computeProof, otherSide, proofMatches, type HandshakeSide, type Secret } from './proof.js';

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;

/** The refusals the handshake itself sends. */
type HandshakeRefusal = Extract<PeerErrorCode, KnownRefusalCode>;

export interface HandshakeOptions {
  readonly side: HandshakeSide;
  readonly nodeName: string;
  readonly secret: Secret;
  /** Node names the accepting side lets in; undefined lets in any node that knows the secret. */
  readonly allowedPeers?: ReadonlySet<string> | undefined;
  readonly timeoutMs?: number | undefined;
}

export interface HandshakeResult {
  readonly peerName: string;
}

/**
 * Authenticates the peer on `framed`. Resolves with its name once both sides have verified each
 * other, leaving the socket paused for its next owner; rejects with a PeerError and ends the
 * connection otherwise.
 */
export function runHandshake(framed: FramedSocket, options: HandshakeOptions): Promise<HandshakeResult> {
  return new Promise((resolve, reject) => {
    const ownChallenge = randomBytes(CHALLENGE_LENGTH);
    const peerSide = otherSide(options.side);
    let peerHello: HelloMessage | undefined;
    let sentProof = false;
    let peerVerified = false;
    let peerAccepted = false;
    let settled = false;

    const timer = setTimeout(() => {
      fail(new PeerError('handshake-timeout', 'the peer did not complete the handshake in time'));
      framed.end('handshake timed out');
    }, options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS);

    function fail(error: PeerError): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    }

    function refuse(code: HandshakeRefusal, message: string): void {
      framed.send({ type: 'refused', code, message }, 0, false);
      fail(new PeerError(code, message));
      framed.end(`refused: ${code}`);
    }

    function sendHello(): void {
      framed.send(
        { type: 'hello', protocol: PROTOCOL_VERSION, nodeName: options.nodeName, challenge: ownChallenge },
        0,
        false,
      );
    }

    function sendProof(hello: HelloMessage): void {
      const proof = computeProof(
        options.secret,
        options.side,
        hello.challenge,
        options.nodeName,
        hello.nodeName,
      );
      framed.send({ type: 'auth', proof }, 0, false);
      sentProof = true;
    }

    function finishIfDone(): void {
      if (!peerVerified || !peerAccepted || peerHello === undefined || settled) return;
      settled = true;
      clearTimeout(timer);
      framed.setReceiver(undefined);
      resolve({ peerName: peerHello.nodeName });
    }

    function onHello(hello: HelloMessage): void {
      if (peerHello !== undefined) return refuse('protocol-error', 'a second hello');
      if (hello.protocol !== PROTOCOL_VERSION) {
        return refuse(
          'protocol-error',
          `protocol ${hello.protocol} is not supported (this node speaks ${PROTOCOL_VERSION})`,
        );
      }
      if (hello.nodeName.length === 0) return refuse('protocol-error', 'the hello has no node name');
      if (options.allowedPeers !== undefined && !options.allowedPeers.has(hello.nodeName)) {
        return refuse('unknown-node', `node "${hello.nodeName}" is not a configured peer of this node`);
      }
      peerHello = hello;
      if (options.side === 'accepting') sendHello();
      else sendProof(hello);
    }

    function onProof(proof: Buffer): void {
      if (peerHello === undefined || peerVerified) return refuse('protocol-error', 'an auth out of order');
      if (
        !proofMatches(proof, options.secret, peerSide, ownChallenge, peerHello.nodeName, options.nodeName)
      ) {
        return refuse(
          'auth-failed',
          `node "${peerHello.nodeName}" failed authentication: the shared secrets differ`,
        );
      }
      peerVerified = true;
      if (options.side === 'accepting') sendProof(peerHello);
      framed.send({ type: 'auth-ok' }, 0, false);
      finishIfDone();
    }

    function onFrame({ message, isReply }: DecodedFrame): void {
      if (settled) return;
      if (isReply || !HANDSHAKE_TYPES.has(message.type)) {
        return refuse('protocol-error', `${message.type} is not allowed before authentication`);
      }
      switch (message.type) {
        case 'hello':
          return onHello(message);
        case 'auth':
          return onProof(message.proof);
        case 'auth-ok':
          if (!sentProof || peerAccepted) return refuse('protocol-error', 'an auth-ok out of order');
          peerAccepted = true;
          return finishIfDone();
        case 'refused':
          fail(refusalError(message.code, message.message));
          return framed.end(`refused by the peer: ${message.code}`);
        default:
          return refuse('protocol-error', `${message.type} is not allowed before authentication`);
      }
    }

    framed.onEnd((reason: string, cause: EndCause) => {
      if (cause === 'protocol-error')
        fail(new PeerError('protocol-error', `during the handshake: ${reason}`));
      else fail(new PeerError('closed', `the connection ended during the handshake: ${reason}`));
    });
    framed.setReceiver(onFrame);
    if (options.side === 'connecting') sendHello();
  });
}
