/**
 * @module The store on a disk that fills up (a 1 MiB tmpfs; needs root to mount, skipped otherwise): a durable write
 * is refused with storage_unavailable instead of ending the thread or waiting for good, the write-behind keeps its
 * nonces in memory and writes them once there is room, and what was stored before stays readable.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WriteBehind } from '../../src/actors/write-behind.js';
import { AppError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { compositeKey, logWriteFailures, Store } from '../../src/store/store.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-full-disk-'));
const canMount = process.getuid?.() === 0 && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]).status === 0;

let store: Store | undefined;
afterAll(async () => {
  await store?.close();
  if (canMount) execFileSync('umount', [dir]);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!canMount)('the store on a full disk', () => {
  it('refuses durable writes with storage_unavailable, keeps written-behind nonces until there is room, loses nothing stored', async () => {
    store = Store.open(dir);
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({ level: 'info', pretty: false }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    logWriteFailures(store, log);

    const stored: string[] = [];
    let refused: unknown = null;
    for (let i = 0; i < 20_000 && refused === null; i++) {
      const key = compositeKey('FULL-1', `event-${i}`);
      try {
        await store.durable(store.cashEvents.put(key, { serial: 'FULL-1', eventId: `event-${i}`, currency: 'EUR', denomination: 20, count: 1, at: new Date().toISOString(), receivedAt: Date.now(), pad: 'x'.repeat(200) } as never));
        stored.push(key);
      } catch (err) {
        refused = err;
      }
    }
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: 'storage_unavailable', status: 503, details: { retryAfter: 30 } });
    expect(stored.length).toBeGreaterThan(100);
    const reported = lines.find((l) => String(l.msg).startsWith('the store cannot write'));
    expect(reported).toMatchObject({ level: 50, failures: 1 });

    // Nonces written behind while the disk is full: the flush ends, and a batch the store refused stays answered for
    // from memory. (lmdb reuses freed pages, so a small batch may still fit: batches go on until one is refused.)
    const writeBehind = new WriteBehind(store, log, 3_600_000);
    const nowSec = Math.floor(Date.now() / 1000);
    let last = '';
    let flushedWhileFull = 0;
    for (let batch = 0; batch < 1_000; batch++) {
      for (let i = 0; i < 50; i++) writeBehind.nonce('FULL-1', (last = `nonce-${batch}-${i}`), nowSec, nowSec + 600);
      if (!(await writeBehind.written())) break;
      flushedWhileFull++;
    }
    expect(flushedWhileFull).toBeLessThan(1_000);
    expect(writeBehind.pendingExpiry('FULL-1', last)).toBe(nowSec + 600);
    expect(store.nonces.expiryOf('FULL-1', last, nowSec)).toBeUndefined();

    // Room again: the next flush writes it.
    execFileSync('mount', ['-o', 'remount,size=16m', dir]);
    expect(await writeBehind.written()).toBe(true);
    expect(store.nonces.expiryOf('FULL-1', last, nowSec)).toBe(nowSec + 600);
    await store.durable(store.cashEvents.put(compositeKey('FULL-1', 'after'), { serial: 'FULL-1' } as never));
    expect(stored.every((key) => store!.cashEvents.get(key) !== undefined)).toBe(true);
    await writeBehind.close();
  }, 60_000);
});
