import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  certificateFingerprint,
  generateSelfSignedCertificate,
  isPeerError,
  normalizeFingerprint,
  type SelfSignedCertificate,
} from '../../../../src/replication/peer/index.js';
import { connectTo, rejection, startListener } from './helpers.js';

describe('pinned-certificate TLS', () => {
  let alpha: SelfSignedCertificate;
  let beta: SelfSignedCertificate;
  let stranger: SelfSignedCertificate;
  const stops: (() => Promise<void>)[] = [];

  before(async () => {
    [alpha, beta, stranger] = await Promise.all([
      generateSelfSignedCertificate('alpha'),
      generateSelfSignedCertificate('beta'),
      generateSelfSignedCertificate('stranger'),
    ]);
  });
  after(async () => {
    for (const stop of stops) await stop();
  });

  it('generates distinct self-signed certificates with their fingerprints', () => {
    assert.match(alpha.cert, /^-----BEGIN CERTIFICATE-----/);
    assert.match(alpha.key, /PRIVATE KEY-----/);
    assert.match(alpha.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(certificateFingerprint(alpha.cert), alpha.fingerprint);
    assert.notEqual(alpha.fingerprint, beta.fingerprint);
  });

  it('refuses names that could smuggle subject fields, and text that is no certificate', async () => {
    await assert.rejects(generateSelfSignedCertificate('a/O=evil'), /cannot be a certificate name/);
    await assert.rejects(generateSelfSignedCertificate('-subj'), /cannot be a certificate name/);
    assert.throws(() => certificateFingerprint('not a certificate'), /not a PEM certificate/);
  });

  it('accepts fingerprints with colons and capitals, and nothing that is not 32 bytes of hex', () => {
    const colons = alpha.fingerprint.toUpperCase().replace(/(..)(?!$)/g, '$1:');
    assert.equal(normalizeFingerprint(colons), alpha.fingerprint);
    assert.throws(() => normalizeFingerprint('abcd'), /64 hex digits/);
  });

  it('connects and carries requests when both fingerprints match', async () => {
    const { listener, port, channels } = await startListener({
      tls: { cert: alpha.cert, key: alpha.key, peerFingerprint: beta.fingerprint },
    });
    stops.push(() => listener.close());
    const client = await connectTo(port, {
      tls: { cert: beta.cert, key: beta.key, peerFingerprint: alpha.fingerprint.toUpperCase() },
    });
    const server = await channels.take();
    server.onMessage((message, _id, respond) => {
      if (message.type === 'verify-request') {
        respond({
          type: 'verify-reply',
          offset: message.offset,
          length: message.length,
          digest: Buffer.alloc(32, 1),
        });
      }
    });
    const reply = await client.request({ type: 'verify-request', offset: 8192n, length: 4096 });
    assert.deepEqual(reply, {
      type: 'verify-reply',
      offset: 8192n,
      length: 4096,
      digest: Buffer.alloc(32, 1),
    });
    client.close('done');
    await server.closed;
  });

  it('refuses a server whose certificate is not the pinned one', async () => {
    const { listener, port } = await startListener({
      tls: { cert: stranger.cert, key: stranger.key, peerFingerprint: beta.fingerprint },
    });
    stops.push(() => listener.close());
    const error = await rejection(
      connectTo(port, { tls: { cert: beta.cert, key: beta.key, peerFingerprint: alpha.fingerprint } }),
    );
    assert.ok(isPeerError(error));
    assert.equal(error.code, 'bad-certificate', error.message);
    assert.ok(error.message.includes(stranger.fingerprint));
  });

  it('refuses a client whose certificate is not the pinned one, and says so to it', async () => {
    const { listener, port, refusals } = await startListener({
      tls: { cert: alpha.cert, key: alpha.key, peerFingerprint: beta.fingerprint },
    });
    stops.push(() => listener.close());
    const error = await rejection(
      connectTo(port, {
        tls: { cert: stranger.cert, key: stranger.key, peerFingerprint: alpha.fingerprint },
      }),
    );
    assert.ok(isPeerError(error));
    assert.equal(error.code, 'bad-certificate', error.message);
    assert.equal((await refusals.take()).code, 'bad-certificate');
  });

  it('refuses a plain TCP client on a TLS listener', async () => {
    const { listener, port, refusals } = await startListener({
      tls: { cert: alpha.cert, key: alpha.key, peerFingerprint: beta.fingerprint },
      handshakeTimeoutMs: 500,
    });
    stops.push(() => listener.close());
    const error = await rejection(connectTo(port, { timeoutMs: 1000 }));
    assert.ok(isPeerError(error));
    assert.match((await refusals.take()).code, /^(protocol-error|handshake-timeout)$/);
  });
});
