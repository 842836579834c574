/**
 * @module What `backup` copies of tls/ (folder-snapshot.ts), with a real `identity promote` switching the pair while the
 * folder is read. What must hold: the copy is tls/ as it was at one moment (here, after the promotion: the new pair as
 * the current one, the old kept as previous, no next), never files of before beside files of after; owner-only keys
 * stay so; a folder that never holds still is refused, and a missing one is none.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { AppError } from '../../../src/errors.js';
import { snapshotFolder, writeSnapshot } from '../../../src/server/folder-snapshot.js';
import { certificateFingerprint, ensureServerIdentity } from '../../../src/server/identity.js';
import { prepareNextIdentity, promoteNextIdentity, readNextIdentity, readPreviousIdentity } from '../../../src/server/next-identity.js';

const configFor = (dir: string) => loadConfig({ 'data-dir': dir, host: '127.0.0.1' }, {});

function pairBelongs(dir: string, name: string): boolean {
  const cert = new crypto.X509Certificate(fs.readFileSync(path.join(dir, `${name}.crt`)));
  return cert.checkPrivateKey(crypto.createPrivateKey(fs.readFileSync(path.join(dir, `${name}.key`))));
}

describe('a snapshot of tls/ for a backup', () => {
  it('taken while `identity promote` switches the pair is tls/ of one moment: the copy starts, with the old pair as previous', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'folder-snapshot-'));
    const current = ensureServerIdentity(configFor(dataDir)).sfp;
    const next = prepareNextIdentity(configFor(dataDir), { from: null, force: false }).sfp;
    const tls = path.join(dataDir, 'tls');
    let promoted = false;
    // The promote runs between the reads of server.crt and server.key: the folder's first read holds the old
    // certificate beside the new key, every file of it there.
    const entries = await snapshotFolder(tls, {
      afterFile: (name) => {
        if (promoted || name !== 'server.crt') return;
        promoted = true;
        promoteNextIdentity(dataDir);
      },
    });
    expect(promoted).toBe(true);
    const copy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'folder-snapshot-copy-')), 'tls');
    writeSnapshot(entries!, copy);
    expect(fs.readdirSync(copy).sort()).toEqual(['previous.crt', 'previous.key', 'server.crt', 'server.key']);
    expect(pairBelongs(copy, 'server')).toBe(true);
    expect(certificateFingerprint(path.join(copy, 'server.crt'))).toBe(next);
    const copiedData = path.dirname(copy);
    expect(readPreviousIdentity(copiedData)?.sfp).toBe(current);
    expect(readNextIdentity(copiedData)).toBeNull();
    expect(fs.statSync(path.join(copy, 'server.key')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(copy, 'server.key')).mtimeMs).toBeCloseTo(fs.statSync(path.join(tls, 'server.key')).mtimeMs, 0);
  });

  it('of a folder that keeps changing is refused with conflict; of a missing one is null', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'folder-snapshot-busy-'));
    fs.writeFileSync(path.join(dir, 'a'), '0');
    let n = 0;
    const busy = snapshotFolder(dir, { settleMs: 300, afterFile: () => fs.writeFileSync(path.join(dir, 'a'), String(++n)) });
    await expect(busy).rejects.toSatisfy((error: unknown) => error instanceof AppError && error.code === 'conflict');
    expect(await snapshotFolder(path.join(dir, 'none'))).toBeNull();
  });

  it('copies a symbolic link as the link, without following it out of the folder or round in a loop', async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'folder-snapshot-outside-'));
    fs.writeFileSync(path.join(outside, 'secret'), 'not a backup\'s business');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'folder-snapshot-links-'));
    fs.writeFileSync(path.join(dir, 'server.crt'), 'cert', { mode: 0o644 });
    fs.symlinkSync(path.join(outside, 'secret'), path.join(dir, 'elsewhere'));
    fs.symlinkSync('.', path.join(dir, 'loop'));
    const entries = (await snapshotFolder(dir))!;
    expect(entries.map((e) => [e.name, e.link])).toEqual([['elsewhere', path.join(outside, 'secret')], ['loop', '.'], ['server.crt', null]]);
    expect(entries.every((e) => e.link === null || e.data === null)).toBe(true);
    const copy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'folder-snapshot-links-copy-')), 'tls');
    writeSnapshot(entries, copy);
    expect(fs.readlinkSync(path.join(copy, 'elsewhere'))).toBe(path.join(outside, 'secret'));
    expect(fs.readlinkSync(path.join(copy, 'loop'))).toBe('.');
    expect(fs.readFileSync(path.join(copy, 'server.crt'), 'utf8')).toBe('cert');
  });

  it('refuses a FIFO at once, where opening it waited for a writer for ever', { timeout: 5_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'folder-snapshot-fifo-'));
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    await expect(snapshotFolder(dir)).rejects.toSatisfy((error: unknown) => error instanceof AppError && error.code === 'invalid_state' && /pipe/.test(error.message));
  });

  it('refuses a folder past its byte budget before reading a file past it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'folder-snapshot-big-'));
    fs.writeFileSync(path.join(dir, 'a.crt'), Buffer.alloc(600));
    fs.writeFileSync(path.join(dir, 'b.crt'), Buffer.alloc(600));
    await expect(snapshotFolder(dir, { maxBytes: 1_000 })).rejects.toSatisfy((error: unknown) => error instanceof AppError && error.code === 'invalid_state' && /holds more than/.test(error.message));
    expect((await snapshotFolder(dir, { maxBytes: 1_200 }))!.map((e) => e.name)).toEqual(['a.crt', 'b.crt']);
  });
});
