/**
 * @module The server's next TLS identity: prepared beside the current one in `tls/`, announced to terminals while the
 * server runs (PROTOCOL.md, "Certificate rollover"), then promoted to be the current one, the old pair kept as `previous`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPair } from '../crypto/certificates.js';
import { fingerprint } from '../crypto/fingerprint.js';
import type { Config } from '../config.js';
import { writeFileDurably } from '../durable-file.js';
import { AppError, errnoOf } from '../errors.js';
import type { TlsFiles } from '../net/tls-options.js';
import { certificateFingerprint, identityPaths, selfSignedCertificate } from './identity.js';

export interface PreparedIdentity extends TlsFiles {
  sfp: string;
}

const tlsFile = (dataDir: string, name: string): string => path.join(dataDir, 'tls', name);

export function nextIdentityPaths(dataDir: string): TlsFiles {
  return { keyFile: tlsFile(dataDir, 'next.key'), certFile: tlsFile(dataDir, 'next.crt') };
}

export function previousIdentityPaths(dataDir: string): TlsFiles {
  return { keyFile: tlsFile(dataDir, 'previous.key'), certFile: tlsFile(dataDir, 'previous.crt') };
}

/** Present from the moment a promotion starts replacing server.key/server.crt until it is done: see `finishPromotion`. */
const promotingMarker = (dataDir: string): string => tlsFile(dataDir, 'promoting');

/** Every file this module writes in `tls/`: a crash leaves temporaries of these only (durable-file.ts). */
export const ROLLOVER_FILES = ['next.key', 'next.crt', 'previous.key', 'previous.crt', 'promoting'] as const;

/**
 * The prepared next identity, or null. The key is written before the certificate, so a certificate is a whole pair:
 * a key alone is what a cut-short `prepare` (or the end of a promotion) left, and counts as none.
 */
export function readNextIdentity(dataDir: string): PreparedIdentity | null {
  return readPair(nextIdentityPaths(dataDir), 'next');
}

export function readPreviousIdentity(dataDir: string): PreparedIdentity | null {
  return readPair(previousIdentityPaths(dataDir), 'previous');
}

function readPair(files: TlsFiles, name: string): PreparedIdentity | null {
  if (!fs.existsSync(files.certFile)) return null;
  if (!fs.existsSync(files.keyFile)) {
    throw new AppError('invalid_state', `${files.certFile} is there but ${files.keyFile} is not: the ${name} identity is incomplete (restore tls/ from a backup, or remove ${files.certFile})`);
  }
  // A pair cut short or edited by hand must stop here, named: promote would otherwise install a key the server cannot
  // start with, and serve would fail with a bare OpenSSL message.
  try {
    const cert = new crypto.X509Certificate(fs.readFileSync(files.certFile));
    if (!cert.checkPrivateKey(crypto.createPrivateKey(fs.readFileSync(files.keyFile)))) throw new Error('the key does not belong to the certificate');
    return { ...files, sfp: fingerprint(cert.raw) };
  } catch (error) {
    throw new AppError('invalid_state', `${files.certFile} and ${files.keyFile} are not a whole pair (${error instanceof Error ? error.message : String(error)}): the ${name} identity is damaged (restore tls/ from a backup, or remove both files)`, undefined, { cause: error });
  }
}

/** The SFP of the data dir's own current certificate, or null (a server started with --server-key/--server-cert has none). */
export function currentDataDirSfp(dataDir: string): string | null {
  const { certFile } = identityPaths(dataDir);
  return fs.existsSync(certFile) ? certificateFingerprint(certFile) : null;
}

/**
 * Writes the next identity: a new ECDSA P-256 key and self-signed certificate (as the first start makes them), or a
 * copy of the licence pair `from`. MUST run under the data dir's lock (the server stopped): `serve` reads tls/ only at
 * its start, and tls/ has one writer at a time. A next already prepared is replaced only with `force`. `served`: the
 * SFP of a certificate the server is configured to present besides the data dir's own (a licence pair in
 * PAIRING_SERVER_KEY/CERT), which a next identity must not be either.
 */
export function prepareNextIdentity(config: Config, opts: { from: TlsFiles | null; force: boolean; served?: string | null }): PreparedIdentity & { replaced: string | null } {
  const dataDir = config.dataDir;
  finishPromotion(dataDir);
  const prepared = readNextIdentity(dataDir);
  if (prepared !== null && !opts.force) {
    throw new AppError('already_exists', `a next identity is prepared already (SFP ${prepared.sfp}): promote it with \`pairing-server identity promote\`, or replace it with \`identity prepare --force\` (terminals that learned it learn the new one at their next call)`);
  }
  let keyPem: string;
  let certPem: string;
  if (opts.from !== null) {
    for (const file of [opts.from.keyFile, opts.from.certFile]) {
      if (!fs.existsSync(file)) throw new AppError('not_found', `no such file: ${file}`);
    }
    keyPem = fs.readFileSync(opts.from.keyFile, 'utf8');
    certPem = fs.readFileSync(opts.from.certFile, 'utf8');
    const cert = new crypto.X509Certificate(certPem);
    if (!cert.checkPrivateKey(crypto.createPrivateKey(keyPem))) throw new AppError('invalid_field', `the key ${opts.from.keyFile} does not belong to the certificate ${opts.from.certFile}`);
  } else {
    keyPem = generateKeyPair('ec').privateKeyPem;
    certPem = selfSignedCertificate(config, keyPem).certPem;
  }
  const sfp = fingerprint(new crypto.X509Certificate(certPem).raw);
  if (sfp === currentDataDirSfp(dataDir)) throw new AppError('conflict', `${opts.from?.certFile ?? 'that certificate'} is the current one (SFP ${sfp}): the next identity must be another certificate`);
  if (sfp === opts.served) {
    // Announced, it would be refused at the next start as the certificate served, and the operator told it was prepared.
    throw new AppError('conflict', `${opts.from?.certFile ?? 'that certificate'} is the licence pair PAIRING_SERVER_KEY/PAIRING_SERVER_CERT give the server, the one it serves now (SFP ${sfp}): the next identity must be another certificate. Pass the new licence pair with --server-key/--server-cert, or leave both out for a new key`);
  }
  const files = nextIdentityPaths(dataDir);
  fs.mkdirSync(path.dirname(files.keyFile), { recursive: true, mode: 0o700 });
  // MUST drop the old certificate first and write it last: a certificate beside a key is a whole pair (readNextIdentity).
  fs.rmSync(files.certFile, { force: true });
  writeFileDurably(files.keyFile, keyPem, 0o600, { replace: true });
  writeFileDurably(files.certFile, certPem, 0o600, { replace: true });
  return { ...files, sfp, replaced: prepared?.sfp ?? null };
}

/**
 * Makes the next identity the current one: server.key/server.crt are copied to previous.key/previous.crt (replacing an
 * older previous), then replaced by next.key/next.crt, and the next is removed. Under the data dir's lock, as `prepare`.
 */
export function promoteNextIdentity(dataDir: string): { sfp: string; previousSfp: string | null } {
  finishPromotion(dataDir);
  const next = readNextIdentity(dataDir);
  if (next === null) throw new AppError('not_found', 'no next identity is prepared: `pairing-server identity prepare` makes one, and the server announces it to terminals from its next start');
  const current = identityPaths(dataDir);
  let previousSfp: string | null = null;
  if (fs.existsSync(current.certFile) && fs.existsSync(current.keyFile)) {
    const previous = previousIdentityPaths(dataDir);
    fs.rmSync(previous.certFile, { force: true });
    writeFileDurably(previous.keyFile, fs.readFileSync(current.keyFile), 0o600, { replace: true });
    writeFileDurably(previous.certFile, fs.readFileSync(current.certFile), 0o600, { replace: true });
    previousSfp = certificateFingerprint(previous.certFile);
  }
  // From here a crash leaves the marker, and the next promote or start finishes the switch (finishPromotion).
  writeFileDurably(promotingMarker(dataDir), `${next.sfp}\n`, 0o600, { replace: true });
  finishPromotion(dataDir);
  return { sfp: next.sfp, previousSfp };
}

/**
 * Completes a promotion a crash cut short. server.key and server.crt are two files: between their writes they are
 * not a pair, and the server would not start on them. The marker says the next pair is to replace them whole; it goes
 * last, after the next files are removed. Idempotent; called by `promote` and at every `serve` start.
 */
export function finishPromotion(dataDir: string): boolean {
  const marker = promotingMarker(dataDir);
  if (!fs.existsSync(marker)) return false;
  const next = nextIdentityPaths(dataDir);
  if (fs.existsSync(next.certFile)) {
    const current = identityPaths(dataDir);
    writeFileDurably(current.keyFile, fs.readFileSync(next.keyFile), 0o600, { replace: true });
    writeFileDurably(current.certFile, fs.readFileSync(next.certFile), 0o644, { replace: true });
    fs.rmSync(next.certFile, { force: true });
    fs.rmSync(next.keyFile, { force: true });
  }
  try {
    fs.rmSync(marker);
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw error;
  }
  return true;
}
