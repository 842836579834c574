/** @module The audit hash chain detects edits, deletions and reordering; sealed fields are bound to their record. */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { auditHash, GENESIS_HASH, verifyAuditChain } from '../../../src/store/audit-chain.js';
import { loadOrCreateFieldKey, openField, sealField } from '../../../src/store/field-crypto.js';
import type { AuditRecord } from '../../../src/store/records.js';
import { Store } from '../../../src/store/store.js';
import { createOperator } from '../../../src/admin/operators.js';

function chain(n: number): AuditRecord[] {
  const entries: AuditRecord[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const content = { seq, at: 1_000 + seq, user: 'alice', action: 'terminals.create', target: `ATM-${seq}`, detail: { result: 'ok' }, prevHash: prev };
    const entry = { ...content, hash: auditHash(content) };
    entries.push(entry);
    prev = entry.hash;
  }
  return entries;
}

describe('audit chain', () => {
  it('verifies an intact chain', () => {
    expect(verifyAuditChain(chain(5))).toMatchObject({ ok: true, entries: 5 });
    expect(verifyAuditChain([])).toMatchObject({ ok: true, entries: 0 });
  });

  it('names the first edited, removed or reordered entry', () => {
    const edited = chain(5);
    edited[2] = { ...edited[2]!, user: 'mallory' };
    expect(verifyAuditChain(edited)).toMatchObject({ ok: false, firstBroken: 3 });
    const removed = chain(5).filter((e) => e.seq !== 2);
    expect(verifyAuditChain(removed)).toMatchObject({ ok: false, firstBroken: 3 });
    const rehashed = chain(5);
    const forged = { ...rehashed[1]!, target: 'ATM-X' };
    rehashed[1] = { ...forged, hash: auditHash({ ...forged }) };
    // Re-hashing the edited entry is not enough: the next entry's link no longer matches.
    expect(verifyAuditChain(rehashed)).toMatchObject({ ok: false, firstBroken: 3 });
  });
});

describe('the audit log in the store', () => {
  it('verifies after an entry whose strings hold half a surrogate pair (the store keeps UTF-8)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-surrogate-'));
    const store = Store.open(dir);
    try {
      // As an anonymous login with the user name "x\ud800y" is audited (`?NAME`), and a detail key of the same kind.
      await store.appendAudit({ at: 1, user: '?x\ud800y', action: 'login', target: 'x\udc00', detail: { result: 'login_failed', ['k\ud800']: ['\ud800'] } });
      await store.appendAudit({ at: 2, user: 'alice', action: 'gate.open', target: null, detail: { result: 'ok' } });
      const entries = [...store.audit.getRange().map(({ value }) => value)];
      expect(verifyAuditChain(entries)).toMatchObject({ ok: true, entries: 2 });
      expect(entries[0]!.user).toBe('?x\ufffdy');
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sealed fields', () => {
  it('round-trips, refuses another record context, and keeps its key file owner-only', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'field-key-'));
    const key = loadOrCreateFieldKey(dir, () => false);
    expect(loadOrCreateFieldKey(dir, () => true).equals(key)).toBe(true);
    expect(fs.statSync(path.join(dir, 'secrets.key')).mode & 0o777).toBe(0o600);
    const sealed = sealField(key, 'JBSWY3DPEHPK3PXP', 'alice');
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(openField(key, sealed, 'alice')).toBe('JBSWY3DPEHPK3PXP');
    expect(() => openField(key, sealed, 'mallory')).toThrow();
  });

  it('refuse a value whose tag was cut short, which GCM would otherwise check on as few as 4 bytes', () => {
    const key = crypto.randomBytes(32);
    // A 4-byte tag over an empty secret: 1 in 2^32 guesses passes such a check, and the secret it opens is "".
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', key, iv, { authTagLength: 4 });
    cipher.setAAD(Buffer.from('alice', 'utf8'));
    cipher.final();
    const short = `enc:v1:${Buffer.concat([iv, cipher.getAuthTag()]).toString('base64')}`;
    expect(() => openField(key, short, 'alice')).toThrow(/too short/);
    // The same with a full-length tag still opens, as every value sealField writes has one.
    expect(openField(key, sealField(key, '', 'alice'), 'alice')).toBe('');
  });

  it('are never silently orphaned: a store holding them does not open with a new key', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'field-key-lost-'));
    const store = Store.open(dir);
    await createOperator(store, 'alice', 'correct horse battery staple', { with2fa: true, by: 'test' });
    await store.close();
    fs.rmSync(path.join(dir, 'secrets.key'));
    expect(() => Store.open(dir)).toThrow(/secrets\.key is missing, but the store holds operators' TOTP secrets/);
    expect(fs.existsSync(path.join(dir, 'secrets.key'))).toBe(false);
    // A store with nothing sealed (operators without 2FA, or none) gets a new key as before.
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'field-key-empty-'));
    await Store.open(empty).close();
    fs.rmSync(path.join(empty, 'secrets.key'));
    await Store.open(empty).close();
    expect(fs.existsSync(path.join(empty, 'secrets.key'))).toBe(true);
  });

  it('leave no short key behind when the first write is cut short (a full disk): the next start makes a whole one', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'field-key-short-'));
    const realWriteFileSync = fs.writeFileSync;
    vi.spyOn(fs, 'writeFileSync').mockImplementationOnce((target, data, options) => {
      realWriteFileSync(target, (data as Buffer).subarray(0, 5), options);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    try {
      expect(() => loadOrCreateFieldKey(dir, () => false)).toThrow(/ENOSPC/);
    } finally {
      vi.restoreAllMocks();
    }
    // Before: a 5-byte secrets.key stayed in place, and every later start refused it as damaged.
    expect(fs.readdirSync(dir)).toEqual([]);
    const key = loadOrCreateFieldKey(dir, () => false);
    expect(key).toHaveLength(32);
    expect(fs.statSync(path.join(dir, 'secrets.key')).mode & 0o777).toBe(0o600);
    expect(loadOrCreateFieldKey(dir, () => true).equals(key)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['secrets.key']);
  });

  it('is created once when two processes open one data dir at the same time: both get the same key', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'field-key-race-'));
    const module = path.resolve('dist/src/store/field-crypto.js');
    const script = `import(${JSON.stringify(module)}).then((m) => process.stdout.write(m.loadOrCreateFieldKey(${JSON.stringify(dir)}, () => false).toString('hex')))`;
    const run = (): Promise<string> => new Promise((resolve, reject) => {
      execFile(process.execPath, ['-e', script], (error, stdout) => (error ? reject(error) : resolve(stdout)));
    });
    const keys = await Promise.all(Array.from({ length: 6 }, run));
    expect(new Set(keys).size).toBe(1);
    expect(fs.readFileSync(path.join(dir, 'secrets.key')).toString('hex')).toBe(keys[0]);
  });
});
