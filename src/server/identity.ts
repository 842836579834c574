/** @module The server's TLS identity: the operator's licence key and certificate, or a generated pair in the data dir; its SHA-256 is the SFP. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createSelfSignedCertificate, generateKeyPair } from '../crypto/certificates.js';
import { fingerprint } from '../crypto/fingerprint.js';
import type { Config } from '../config.js';

export interface ServerIdentity {
  keyFile: string;
  certFile: string;
  /** Server Certificate Fingerprint: lowercase hex SHA-256 of the certificate's DER. */
  sfp: string;
  generated: boolean;
}

export function identityPaths(dataDir: string): { keyFile: string; certFile: string } {
  return { keyFile: path.join(dataDir, 'tls', 'server.key'), certFile: path.join(dataDir, 'tls', 'server.crt') };
}

/** The SFP of a PEM certificate file (the first certificate in it). */
export function certificateFingerprint(certFile: string): string {
  return fingerprint(new crypto.X509Certificate(fs.readFileSync(certFile)).raw);
}

/**
 * Uses the configured key and certificate, else the data dir's, else generates them (ECDSA P-256:
 * cheap handshakes for large fleets). The key file is written owner-only before any byte of it.
 */
export function ensureServerIdentity(config: Config): ServerIdentity {
  if (config.serverKeyFile && config.serverCertFile) {
    for (const file of [config.serverKeyFile, config.serverCertFile]) {
      if (!fs.existsSync(file)) throw new Error(`server key/certificate file not found: ${file}`);
    }
    assertKeyMatches(config.serverKeyFile, config.serverCertFile);
    return { keyFile: config.serverKeyFile, certFile: config.serverCertFile, sfp: certificateFingerprint(config.serverCertFile), generated: false };
  }
  const { keyFile, certFile } = identityPaths(config.dataDir);
  if (fs.existsSync(keyFile) && fs.existsSync(certFile)) {
    return { keyFile, certFile, sfp: certificateFingerprint(certFile), generated: false };
  }
  fs.mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
  const pair = generateKeyPair('ec');
  const altNames = [...new Set([config.publicHost, 'localhost', '127.0.0.1', '::1'])];
  const cert = createSelfSignedCertificate({ privateKeyPem: pair.privateKeyPem, commonName: config.publicHost, days: 3650, altNames });
  fs.writeFileSync(keyFile, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
  fs.writeFileSync(certFile, cert.certPem, { mode: 0o644 });
  return { keyFile, certFile, sfp: fingerprint(cert.der), generated: true };
}

function assertKeyMatches(keyFile: string, certFile: string): void {
  const cert = new crypto.X509Certificate(fs.readFileSync(certFile));
  const key = crypto.createPrivateKey(fs.readFileSync(keyFile));
  if (!cert.checkPrivateKey(key)) throw new Error(`the server key ${keyFile} does not belong to the certificate ${certFile}`);
}
