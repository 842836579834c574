/** @module The server's TLS identity: the operator's licence key and certificate, or a generated pair in the data dir; its SHA-256 is the SFP. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { createSelfSignedCertificate, generateKeyPair, keyKindOf } from '../crypto/certificates.js';
import { fingerprint } from '../crypto/fingerprint.js';
import type { Config } from '../config.js';
import { removeTemporaries, writeFileDurably } from '../durable-file.js';
import { AppError } from '../errors.js';
import type { TlsFiles } from '../net/tls-options.js';

export interface ServerIdentity {
  keyFile: string;
  certFile: string;
  /** Server Certificate Fingerprint: lowercase hex SHA-256 of the certificate's DER. */
  sfp: string;
  /** What this start made: nothing, a certificate for the key already there, or both. */
  generated: false | 'certificate' | 'key and certificate';
}

export function identityPaths(dataDir: string): TlsFiles {
  return { keyFile: path.join(dataDir, 'tls', 'server.key'), certFile: path.join(dataDir, 'tls', 'server.crt') };
}

/** Whether the certificate names `host` (a DNS name or an IP address) as a browser checks it; terminals pin its SFP instead. */
export function certificateNames(certFile: string, host: string): boolean {
  const cert = new crypto.X509Certificate(fs.readFileSync(certFile));
  return (isIP(host) === 0 ? cert.checkHost(host) : cert.checkIP(host)) !== undefined;
}

/** The SFP of a PEM certificate file (the first certificate in it). */
export function certificateFingerprint(certFile: string): string {
  return fingerprint(new crypto.X509Certificate(fs.readFileSync(certFile)).raw);
}

/**
 * Uses the configured key and certificate, else the data dir's, else generates them (ECDSA P-256:
 * cheap handshakes for large fleets). The key file is written owner-only before any byte of it.
 *
 * Each file is written whole or not at all (a temporary file renamed into place), the certificate first and the key
 * last, so a crash in between leaves a certificate without its key, never a key without its certificate: that
 * certificate was never served, and both are made anew at the next start. A key without a certificate (a server
 * older than this that crashed between the two writes, or a deleted server.crt) gets a new certificate for that key,
 * unless the key was cut short (it was never served either) and is replaced; a certificate cut short is made anew
 * too, for the key beside it. Either way the SFP is new: it is the SHA-256 of the certificate, whose serial, dates and
 * signature differ each time. A certificate lost from a data dir that served terminals is to be restored from the
 * backup, where its key is too.
 */
export function ensureServerIdentity(config: Config, opts: { certificatesSeen?: number } = {}): ServerIdentity {
  if (config.serverKeyFile && config.serverCertFile) {
    for (const file of [config.serverKeyFile, config.serverCertFile]) {
      if (!fs.existsSync(file)) throw new Error(`server key/certificate file not found: ${file}`);
    }
    assertKeyMatches(config.serverKeyFile, config.serverCertFile);
    return { keyFile: config.serverKeyFile, certFile: config.serverCertFile, sfp: certificateFingerprint(config.serverCertFile), generated: false };
  }
  const { keyFile, certFile } = identityPaths(config.dataDir);
  const dir = path.dirname(keyFile);
  if (fs.existsSync(keyFile) && fs.existsSync(certFile) && !cutShort(certFile, 'CERTIFICATE')) {
    return { keyFile, certFile, sfp: certificateFingerprint(certFile), generated: false };
  }
  refuseNewIdentity(config, certFile, opts.certificatesSeen ?? 0);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Only `serve` writes here, under the data dir's lock: a temporary file is a crashed start's, and may hold a key.
  removeTemporaries(dir, [path.basename(keyFile), path.basename(certFile)]);
  const kept = fs.existsSync(keyFile) ? keptKey(keyFile, certFile) : null;
  const privateKeyPem = kept ?? generateKeyPair('ec').privateKeyPem;
  const cert = selfSignedCertificate(config, privateKeyPem);
  writeFileDurably(certFile, cert.certPem, 0o644, { replace: true });
  if (kept === null) writeFileDurably(keyFile, privateKeyPem, 0o600, { replace: true });
  return { keyFile, certFile, sfp: fingerprint(cert.der), generated: kept === null ? 'key and certificate' : 'certificate' };
}

/**
 * The self-signed certificate a server without a licence pair presents, for `privateKeyPem` (an ECDSA P-256 key:
 * cheap handshakes for large fleets): valid 10 years, for --public-host and this machine's loopback names.
 */
export function selfSignedCertificate(config: Pick<Config, 'publicHost'>, privateKeyPem: string): { certPem: string; der: Buffer } {
  const altNames = [...new Set([config.publicHost, 'localhost', '127.0.0.1', '::1'])];
  return createSelfSignedCertificate({ privateKeyPem, commonName: config.publicHost, days: 3650, altNames });
}

/**
 * A new certificate is a new SFP, and every terminal that met this server pinned the old one at its first gate contact:
 * each would refuse the server (server_pin_mismatch) until factory-reset. A data dir whose store holds terminals'
 * certificates (each was presented to this server's gate) therefore does not make one without `--new-identity`: a lost
 * or half-restored tls/ started as a new server before, with only a note in the start-up banner.
 */
function refuseNewIdentity(config: Config, certFile: string, certificatesSeen: number): void {
  if (certificatesSeen === 0 || config.newIdentity) return;
  throw new AppError('conflict', `${certFile} is missing or cut short, but ${certificatesSeen} terminal certificate(s) in the store were presented to this server: a new certificate is a new SFP, which every terminal that pinned the old one refuses (server_pin_mismatch). Restore tls/ from your backup of this data dir (pairing-server backup copies it); or, to start with a new identity on purpose, start once with --new-identity and give every terminal the new SFP (terminal pair --expect-sfp SFP, checked with the operator; its pairing stays)`);
}

/**
 * The PEM of a key found without its certificate, or null if its write was cut short (the END line is the last thing
 * written, so such a key never had a certificate: it was never served, and is replaced). A whole key the server
 * cannot make a certificate for is left alone and refused: it may be the operator's.
 */
function keptKey(keyFile: string, certFile: string): string | null {
  if (cutShort(keyFile, 'PRIVATE KEY')) return null;
  const pem = fs.readFileSync(keyFile, 'utf8');
  let kind: ReturnType<typeof keyKindOf>;
  try {
    kind = keyKindOf(crypto.createPublicKey(crypto.createPrivateKey(pem)));
  } catch (error) {
    throw new Error(`${certFile} is missing and ${keyFile} does not load (${(error as Error).message}): restore both from the backup of this data dir, or remove ${keyFile} to have a new pair (and SFP) generated`);
  }
  if (kind === null) throw new Error(`${certFile} is missing and ${keyFile} is a key the server cannot make a certificate for (RSA, P-256 or Ed25519): restore ${certFile} from the backup of this data dir`);
  return pem;
}

/** A PEM file without its END line: written by a server older than this whose write was interrupted (a crash, a full disk). */
function cutShort(file: string, label: string): boolean {
  return !new RegExp(`-----END [A-Z0-9 ]*${label}-----`).test(fs.readFileSync(file, 'utf8'));
}

function assertKeyMatches(keyFile: string, certFile: string): void {
  const cert = new crypto.X509Certificate(fs.readFileSync(certFile));
  const key = crypto.createPrivateKey(fs.readFileSync(keyFile));
  if (!cert.checkPrivateKey(key)) throw new Error(`the server key ${keyFile} does not belong to the certificate ${certFile}`);
}
