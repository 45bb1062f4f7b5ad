// TLS with pinned certificates: every node has a self-signed certificate and each side checks that
// the other's certificate has the SHA-256 fingerprint configured for it (lowercase hex of the DER,
// no colons). Certificate authorities play no part.
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { invalid, TandemError } from '../../lib/errors.js';

const run = promisify(execFile);

/** What a node needs to speak TLS to its peer. */
export interface PeerTlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** The SHA-256 fingerprint of the peer's certificate (hex; colons and case do not matter). */
  readonly peerFingerprint: string;
}

export interface SelfSignedCertificate {
  readonly cert: string;
  readonly key: string;
  readonly fingerprint: string;
}

const COMMON_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const OPENSSL_TIMEOUT_MS = 30_000;

export function fingerprintOfDer(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

/** The fingerprint of a PEM certificate; throws an 'invalid' TandemError if it is not one. */
export function certificateFingerprint(pem: string | Buffer): string {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    throw invalid('bad-certificate', 'the text is not a PEM certificate');
  }
  return fingerprintOfDer(certificate.raw);
}

/** A configured fingerprint in canonical form; throws if it is not 32 bytes of hex. */
export function normalizeFingerprint(fingerprint: string): string {
  const canonical = fingerprint.replaceAll(':', '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(canonical)) {
    throw invalid('bad-fingerprint', 'a certificate fingerprint is 64 hex digits (SHA-256), colons allowed');
  }
  return canonical;
}

/** The fingerprint of the certificate the peer presented on `socket`, if it presented one. */
export function peerCertificateFingerprint(socket: TLSSocket): string | undefined {
  // An empty object stands for "no certificate", so the fields are not guaranteed.
  const certificate: Partial<{ raw: Buffer }> = socket.getPeerCertificate();
  return certificate.raw === undefined ? undefined : fingerprintOfDer(certificate.raw);
}

/** Creates a self-signed P-256 certificate valid for ten years with openssl. */
export async function generateSelfSignedCertificate(commonName: string): Promise<SelfSignedCertificate> {
  if (!COMMON_NAME_PATTERN.test(commonName)) {
    throw invalid(
      'bad-name',
      `"${commonName}" cannot be a certificate name (letters, digits, "_", "-", ".")`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'tandem-cert-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  try {
    // execFile passes the arguments as they are: no shell ever sees the name.
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '3650',
        '-subj',
        `/CN=${commonName}`,
        '-keyout',
        keyPath,
        '-out',
        certPath,
      ],
      { timeout: OPENSSL_TIMEOUT_MS },
    ).catch((error: unknown) => {
      const said = error instanceof Error ? error.message : String(error);
      throw new TandemError(
        'unavailable',
        'openssl-failed',
        `cannot create a certificate with openssl: ${said}`,
      );
    });
    const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    return { cert, key, fingerprint: certificateFingerprint(cert) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
