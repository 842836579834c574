/** @module The generated TLS identity: written whole or not at all, so no crash or full disk between its two files blocks the next start. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { generateKeyPair } from '../../../src/crypto/certificates.js';
import { ensureServerIdentity, identityPaths } from '../../../src/server/identity.js';

const realWriteFileSync = fs.writeFileSync;

afterEach(() => {
  vi.restoreAllMocks();
});

function dataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'identity-'));
}

const configFor = (dir: string) => loadConfig({ 'data-dir': dir, host: '127.0.0.1' }, {});

/** The disk fills up in the middle of the write whose data holds `marker`: half of it reaches the file, then ENOSPC. */
function diskFullOn(marker: string): void {
  vi.spyOn(fs, 'writeFileSync').mockImplementation((target, data, options) => {
    if (String(data).includes(marker)) {
      realWriteFileSync(target, String(data).slice(0, String(data).length >> 1), options);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }
    realWriteFileSync(target, data, options);
  });
}

/** The pair in place belongs together, the key is owner-only, and no temporary file is left. */
function expectWholeIdentity(dir: string): void {
  const { keyFile, certFile } = identityPaths(dir);
  const cert = new crypto.X509Certificate(fs.readFileSync(certFile));
  expect(cert.checkPrivateKey(crypto.createPrivateKey(fs.readFileSync(keyFile)))).toBe(true);
  expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
  expect(fs.readdirSync(path.dirname(keyFile)).sort()).toEqual(['server.crt', 'server.key']);
}

describe('generated server identity', () => {
  for (const [what, marker] of [['key', 'PRIVATE KEY'], ['certificate', 'CERTIFICATE']] as const) {
    it(`a full disk while the ${what} is written fails that start only: the next one makes a whole pair and keeps it`, () => {
      const dir = dataDir();
      diskFullOn(marker);
      expect(() => ensureServerIdentity(configFor(dir))).toThrow(/ENOSPC/);
      vi.restoreAllMocks();
      // Before: the key was written first with 'wx', so a later start failed with EEXIST (or on a half certificate) for good.
      const next = ensureServerIdentity(configFor(dir));
      expect(next.generated).toBe('key and certificate');
      expectWholeIdentity(dir);
      expect(ensureServerIdentity(configFor(dir))).toEqual({ ...next, generated: false });
    });
  }

  it('a key without its certificate gets a certificate for that key; a key cut short is replaced', () => {
    const dir = dataDir();
    const { keyFile, certFile } = identityPaths(dir);
    fs.mkdirSync(path.dirname(keyFile), { mode: 0o700 });
    const pem = generateKeyPair('ec').privateKeyPem;
    fs.writeFileSync(keyFile, pem, { mode: 0o600 });
    const rebuilt = ensureServerIdentity(configFor(dir));
    expect(rebuilt.generated).toBe('certificate');
    expect(fs.readFileSync(keyFile, 'utf8')).toBe(pem);
    expectWholeIdentity(dir);
    expect(rebuilt.sfp).toMatch(/^[0-9a-f]{64}$/);

    fs.rmSync(certFile);
    fs.writeFileSync(keyFile, pem.slice(0, 100));
    ensureServerIdentity(configFor(dir));
    expect(fs.readFileSync(keyFile, 'utf8')).not.toBe(pem.slice(0, 100));
    expectWholeIdentity(dir);
  });

  it('is not made anew for a data dir whose terminals met the old one, unless --new-identity says so', () => {
    const dir = dataDir();
    const first = ensureServerIdentity(configFor(dir));
    const { keyFile, certFile } = identityPaths(dir);
    // tls/ lost or half restored, while the store holds certificates that terminals presented to this server.
    fs.rmSync(certFile);
    expect(() => ensureServerIdentity(configFor(dir), { certificatesSeen: 3 })).toThrow(/3 terminal certificate\(s\) in the store .* Restore tls\/ from your backup .* --new-identity/);
    expect(fs.existsSync(certFile)).toBe(false);
    fs.rmSync(keyFile);
    expect(() => ensureServerIdentity(configFor(dir), { certificatesSeen: 3 })).toThrow(/--new-identity/);
    const renewed = ensureServerIdentity(loadConfig({ 'data-dir': dir, host: '127.0.0.1', 'new-identity': true }, {}), { certificatesSeen: 3 });
    expect(renewed.generated).toBe('key and certificate');
    expect(renewed.sfp).not.toBe(first.sfp);
    // A store nobody has paired with yet (a first start, or one that crashed between the two files) makes one as before.
    fs.rmSync(certFile);
    expect(ensureServerIdentity(configFor(dir), { certificatesSeen: 0 }).generated).toBe('certificate');
  });

  it('a whole key it cannot make a certificate for is left alone and refused, naming the way out', () => {
    const dir = dataDir();
    const { keyFile } = identityPaths(dir);
    fs.mkdirSync(path.dirname(keyFile), { mode: 0o700 });
    const p384 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    fs.writeFileSync(keyFile, p384, { mode: 0o600 });
    expect(() => ensureServerIdentity(configFor(dir))).toThrow(/server\.crt is missing and .*server\.key is a key the server cannot make a certificate for/);
    expect(fs.readFileSync(keyFile, 'utf8')).toBe(p384);
  });
});
