/** @module The terminal's identity on disk: init for every key kind, file modes, factory reset, restore points. */
import { X509Certificate, createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import type { KeyKind } from '../../../src/protocol/types.js';
import { Terminal } from '../../../src/terminal/terminal.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});

/** A fresh parent dir; the state dir inside it does not exist yet, so init creates it. */
function stateDir(): string {
  const parent = mkdtempSync(join(tmpdir(), 'terminal-test-'));
  dirs.push(parent);
  return join(parent, 'state');
}

async function codeOf(fn: () => unknown): Promise<string | null> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return (err as AppError).code;
  }
  return null;
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe('Terminal.init', () => {
  it.each<[KeyKind, string, string]>([
    ['ec', 'ec', 'ecdsa-p256-sha256'],
    ['ed25519', 'ed25519', 'ed25519'],
    ['rsa', 'rsa', 'rsa-pss-sha512'],
  ])('makes a %s key and a self-signed certificate whose CN is the serial', async (key, nodeType, alg) => {
    const dir = stateDir();
    const result = await Terminal.init(dir, { serial: 'BT-100.200_x', key });

    const cert = new X509Certificate(readFileSync(join(dir, 'cert.pem')));
    expect(cert.subject).toBe('CN=BT-100.200_x');
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.publicKey.asymmetricKeyType).toBe(nodeType);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(result).toEqual({
      serial: 'BT-100.200_x',
      keyKind: key,
      alg,
      tfp: createHash('sha256').update(cert.raw).digest('hex'),
    });

    // The key on disk is the certificate's key.
    const privateKey = createPrivateKey(readFileSync(join(dir, 'key.pem')));
    const spki = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' });
    expect(spki(createPublicKey(privateKey)).equals(spki(cert.publicKey))).toBe(true);
  });

  it('keeps the private key 0600 in a 0700 directory, out of state.json, with no temp files left behind', async () => {
    const dir = stateDir();
    await Terminal.init(dir, { serial: 'T1', key: 'ec' });
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'key.pem'))).toBe(0o600);
    expect(mode(join(dir, 'state.json'))).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['cert.pem', 'key.pem', 'state.json']);
    const state = readFileSync(join(dir, 'state.json'), 'utf8');
    expect(state).not.toMatch(/PRIVATE KEY/);
    expect(JSON.stringify(Terminal.open(dir).status())).not.toMatch(/PRIVATE KEY/);
  });

  it('refuses to initialize twice', async () => {
    const dir = stateDir();
    const first = await Terminal.init(dir, { serial: 'T1', key: 'ec' });
    expect(await codeOf(() => Terminal.init(dir, { serial: 'T2', key: 'ec' }))).toBe('conflict');
    expect(Terminal.open(dir).status().tfp).toBe(first.tfp);
  });

  it('rejects serials and RSA sizes the protocol rules out', async () => {
    expect(await codeOf(() => Terminal.init(stateDir(), { serial: 'has space', key: 'ec' }))).toBe('invalid_field');
    expect(await codeOf(() => Terminal.init(stateDir(), { serial: '', key: 'ec' }))).toBe('invalid_field');
    expect(await codeOf(() => Terminal.init(stateDir(), { serial: 'T1', key: 'rsa', rsaBits: 1024 }))).toBe('invalid_field');
    expect(await codeOf(() => Terminal.init(stateDir(), { serial: 'T1', key: 'dsa' as KeyKind }))).toBe('invalid_field');
  });

  it('reports not_initialized for an empty directory', async () => {
    expect(await codeOf(() => Terminal.open(stateDir()))).toBe('not_initialized');
  });

  it('reports invalid_state for a damaged state file', async () => {
    const dir = stateDir();
    await Terminal.init(dir, { serial: 'T1', key: 'ec' });
    writeFileSync(join(dir, 'state.json'), '{"version":1');
    expect(await codeOf(() => Terminal.open(dir))).toBe('invalid_state');
  });
});

describe('factory reset', () => {
  it('deletes key, certificate and state; the next init is a new identity', async () => {
    const dir = stateDir();
    const before = await Terminal.init(dir, { serial: 'T1', key: 'ed25519' });
    Terminal.open(dir).factoryReset();
    for (const file of ['key.pem', 'cert.pem', 'state.json']) expect(existsSync(join(dir, file))).toBe(false);
    expect(await codeOf(() => Terminal.open(dir))).toBe('not_initialized');
    const after = await Terminal.init(dir, { serial: 'T1', key: 'ed25519' });
    expect(after.tfp).not.toBe(before.tfp);
  });
});

describe('restore point', () => {
  const passphrase = 'correct horse battery';

  it('round-trips key, certificate and state into another directory', async () => {
    const dir = stateDir();
    await Terminal.init(dir, { serial: 'T1', key: 'ec' });
    const source = Terminal.open(dir);
    source.setServer('https://127.0.0.1:7741');
    const sealed = await source.backup(passphrase);
    expect(sealed.includes(Buffer.from('PRIVATE KEY'))).toBe(false);

    const target = stateDir();
    const restored = await Terminal.restore(target, sealed, passphrase);
    expect(restored.status()).toEqual(source.status());
    expect(readFileSync(join(target, 'key.pem'), 'utf8')).toBe(readFileSync(join(dir, 'key.pem'), 'utf8'));
    expect(readFileSync(join(target, 'cert.pem'), 'utf8')).toBe(readFileSync(join(dir, 'cert.pem'), 'utf8'));
    expect(mode(join(target, 'key.pem'))).toBe(0o600);
    expect(Terminal.open(target).status().gateUrl).toBe('https://127.0.0.1:7741');
  });

  it('refuses a wrong passphrase and a damaged file, and writes nothing', async () => {
    const dir = stateDir();
    await Terminal.init(dir, { serial: 'T1', key: 'ec' });
    const sealed = await Terminal.open(dir).backup(passphrase);
    const target = stateDir();
    expect(await codeOf(() => Terminal.restore(target, sealed, 'wrong passphrase'))).toBe('unauthenticated');
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 20]! ^= 1;
    expect(await codeOf(() => Terminal.restore(target, flipped, passphrase))).toBe('unauthenticated');
    expect(await codeOf(() => Terminal.restore(target, Buffer.from('not a restore point at all'), passphrase))).toBe('bad_request');
    expect(existsSync(target)).toBe(false);
  });

  it('will not replace an initialized terminal unless forced', async () => {
    const a = stateDir();
    const b = stateDir();
    const tfpA = (await Terminal.init(a, { serial: 'A', key: 'ec' })).tfp;
    const tfpB = (await Terminal.init(b, { serial: 'B', key: 'ec' })).tfp;
    const sealed = await Terminal.open(a).backup(passphrase);
    expect(await codeOf(() => Terminal.restore(b, sealed, passphrase))).toBe('conflict');
    expect(Terminal.open(b).status().tfp).toBe(tfpB);
    await Terminal.restore(b, sealed, passphrase, { force: true });
    expect(Terminal.open(b).status().tfp).toBe(tfpA);
  });

  it('asks for a passphrase of at least 8 characters', async () => {
    const dir = stateDir();
    await Terminal.init(dir, { serial: 'T1', key: 'ec' });
    expect(await codeOf(() => Terminal.open(dir).backup('short'))).toBe('invalid_field');
  });
});
