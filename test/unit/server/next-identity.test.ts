/**
 * @module The next TLS identity in the data dir: prepared whole, promoted with the old pair kept, and a promotion a
 * crash cut short between server.key and server.crt finished rather than left as a pair that does not belong together.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { AppError } from '../../../src/errors.js';
import { certificateFingerprint, ensureServerIdentity, identityPaths } from '../../../src/server/identity.js';
import { finishPromotion, nextIdentityPaths, prepareNextIdentity, promoteNextIdentity, readNextIdentity, readPreviousIdentity } from '../../../src/server/next-identity.js';

const configFor = (dir: string) => loadConfig({ 'data-dir': dir, host: '127.0.0.1' }, {});

function servedDataDir(): { dir: string; sfp: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'next-identity-'));
  return { dir, sfp: ensureServerIdentity(configFor(dir)).sfp };
}

function pairBelongs(files: { keyFile: string; certFile: string }): boolean {
  return new crypto.X509Certificate(fs.readFileSync(files.certFile)).checkPrivateKey(crypto.createPrivateKey(fs.readFileSync(files.keyFile)));
}

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    return error instanceof AppError ? error.code : String(error);
  }
  return 'ok';
};

describe('the next identity', () => {
  it('is prepared as a whole owner-only pair, once, and promoted with the old pair kept as previous', () => {
    const { dir, sfp } = servedDataDir();
    expect(readNextIdentity(dir)).toBeNull();
    const next = prepareNextIdentity(configFor(dir), { from: null, force: false });
    expect(pairBelongs(next)).toBe(true);
    expect(fs.statSync(next.keyFile).mode & 0o777).toBe(0o600);
    expect(codeOf(() => prepareNextIdentity(configFor(dir), { from: null, force: false }))).toBe('already_exists');

    expect(promoteNextIdentity(dir)).toEqual({ sfp: next.sfp, previousSfp: sfp });
    expect(certificateFingerprint(identityPaths(dir).certFile)).toBe(next.sfp);
    expect(pairBelongs(identityPaths(dir))).toBe(true);
    expect(readPreviousIdentity(dir)?.sfp).toBe(sfp);
    expect(readNextIdentity(dir)).toBeNull();
    expect(codeOf(() => promoteNextIdentity(dir))).toBe('not_found');
  });

  it('takes a licence pair, but not the current certificate again', () => {
    const { dir } = servedDataDir();
    const { dir: other, sfp: licenceSfp } = servedDataDir();
    expect(prepareNextIdentity(configFor(dir), { from: identityPaths(other), force: false }).sfp).toBe(licenceSfp);
    expect(codeOf(() => prepareNextIdentity(configFor(dir), { from: identityPaths(dir), force: true }))).toBe('conflict');
  });

  it('finishes a promotion cut short after server.key was replaced and before server.crt was', () => {
    const { dir } = servedDataDir();
    const next = prepareNextIdentity(configFor(dir), { from: null, force: false });
    // What the crash leaves: the marker written, the new key in place beside the old certificate.
    fs.writeFileSync(path.join(dir, 'tls', 'promoting'), `${next.sfp}\n`);
    fs.copyFileSync(next.keyFile, identityPaths(dir).keyFile);
    expect(pairBelongs(identityPaths(dir))).toBe(false);

    expect(finishPromotion(dir)).toBe(true);
    expect(pairBelongs(identityPaths(dir))).toBe(true);
    expect(certificateFingerprint(identityPaths(dir).certFile)).toBe(next.sfp);
    expect(fs.existsSync(nextIdentityPaths(dir).certFile)).toBe(false);
    expect(fs.existsSync(path.join(dir, 'tls', 'promoting'))).toBe(false);
    expect(finishPromotion(dir)).toBe(false);
  });
});
