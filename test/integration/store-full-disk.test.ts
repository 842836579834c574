/**
 * @module The store on a disk that fills up (a 1 MiB tmpfs; needs root to mount, skipped otherwise): a durable write
 * is refused with storage_unavailable instead of ending the thread or waiting for good, the write-behind keeps its
 * nonces in memory and writes them once there is room, and what was stored before stays readable. A last-seen time it
 * held while the disk was full is written once there is room, also when its call's nonce expired meanwhile, but not
 * after its terminal was deleted, nor onto one created again.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WriteBehind } from '../../src/actors/write-behind.js';
import { AppError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { countRollover } from '../../src/server/rollover-count.js';
import { logWriteFailures } from '../../src/store/commit-failures.js';
import { compositeKey, Store } from '../../src/store/store.js';
import { terminalRecord } from '../helpers/actor-store.js';

const mounted: string[] = [];
const stores: Store[] = [];

/** A fresh tmpfs of `size` (mount(8) syntax), or null where this process may not mount. */
function tmpfs(size: string): string | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-full-disk-'));
  if (process.getuid?.() !== 0 || spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]).status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    return null;
  }
  mounted.push(dir);
  return dir;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  // As long as the configured poll (10 s): the store's watch reads the disk once a second, on a timer.
  for (const deadline = performance.now() + 10_000; !condition() && performance.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 50));
  if (!condition()) throw new Error(`still waiting for ${what}`);
}

/** A store on a fresh 8 MiB tmpfs that keeps 4 MiB free, and its write-behind, flushed by hand (its timer is an hour). */
function smallDisk(): { dir: string; store: Store; writeBehind: WriteBehind } {
  const dir = tmpfs('8m')!;
  const store = Store.open(dir, { minFreeBytes: 4 * 2 ** 20 });
  stores.push(store);
  return { dir, store, writeBehind: new WriteBehind(store, createLogger({ level: 'silent', pretty: false }), 3_600_000) };
}

/**
 * Leaves 2 MiB of the store's tmpfs free, as another tenant of the disk would (no write of ours fails), and waits for the
 * store's watch to see it low; the function returned frees the room and waits for the watch to see it again.
 */
async function fillDisk(dir: string, store: Store): Promise<() => Promise<void>> {
  const filler = path.join(dir, 'filler');
  fs.writeFileSync(filler, Buffer.alloc(Math.max(0, store.space!.free - 2 * 2 ** 20)));
  await until(() => store.space!.low, 'the watch to see the disk almost full');
  return async () => {
    fs.rmSync(filler);
    await until(() => !store.space!.low, 'the watch to see room again');
  };
}

const probe = tmpfs('1m');
const canMount = probe !== null;

afterAll(async () => {
  for (const store of stores) await store.close();
  for (const dir of mounted) {
    execFileSync('umount', [dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe.skipIf(!canMount)('the store on a full disk', () => {
  it('refuses durable writes with storage_unavailable, keeps written-behind nonces until there is room, loses nothing stored', async () => {
    const dir = probe!;
    const store = Store.open(dir);
    stores.push(store);
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

    // An operator's transactional write (putSync inside atomically, as pairing approval does) gets the same answer.
    await expect(store.atomically(() => store.settings.putSync('gate', { openUntil: null, pad: 'x'.repeat(2 ** 21) } as never)))
      .rejects.toMatchObject({ code: 'storage_unavailable', status: 503 });
    expect(store.settings.get('gate')).toBeUndefined();

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
    expect(stored.every((key) => store.cashEvents.get(key) !== undefined)).toBe(true);
    await writeBehind.close();
  }, 60_000);

  it('refuses cash-event writes and holds nonces while less than the minimum is free, and takes them again once there is room', async () => {
    const { dir, store, writeBehind } = smallDisk();
    expect(() => store.roomToWrite()).not.toThrow();

    // Another tenant of the disk leaves 2 MiB free: no write of ours has failed, yet the store stops taking them.
    const freeDisk = await fillDisk(dir, store);
    expect(() => store.roomToWrite()).toThrow(expect.objectContaining({ code: 'storage_unavailable', status: 503, details: { retryAfter: 30 } }) as Error);
    // Five flushes while low: the refused batches are kept together (holdFailed), and every nonce stays answered for.
    const nowSec = Math.floor(Date.now() / 1000);
    const held = Array.from({ length: 5 }, (_, round) => Array.from({ length: 20 }, (_, i) => `nonce-while-low-${round}-${i}`));
    for (const round of held) {
      for (const nonce of round) writeBehind.nonce('LOW-1', nonce, nowSec, nowSec + 600);
      expect(await writeBehind.written()).toBe(false);
    }
    for (const nonce of held.flat()) {
      expect(store.nonces.expiryOf('LOW-1', nonce, nowSec)).toBeUndefined();
      expect(writeBehind.pendingExpiry('LOW-1', nonce)).toBe(nowSec + 600);
    }

    await freeDisk();
    expect(() => store.roomToWrite()).not.toThrow();
    expect(await writeBehind.written()).toBe(true);
    for (const nonce of held.flat()) expect(store.nonces.expiryOf('LOW-1', nonce, nowSec)).toBe(nowSec + 600);
    await writeBehind.close();
  }, 60_000);

  it('does not write a last-seen time it held while the disk was full back after the delete, onto a terminal created again under the serial', async () => {
    const { dir, store, writeBehind } = smallDisk();
    const start = Date.now();
    const first = terminalRecord('SEEN-1', { createdAt: start - 60_000 });
    await store.atomically(() => store.putTerminalSync(first));
    // A call's nonce and its last-seen time, as the actor queues them.
    writeBehind.nonce('SEEN-1', 'seen-call', Math.floor(start / 1000), Math.floor(start / 1000) + 600);
    writeBehind.lastSeen('SEEN-1', start);

    const freeDisk = await fillDisk(dir, store);
    // What the delete waits for (operator-decisions.ts) is refused; an operator's writes still use the room left.
    expect(await writeBehind.written()).toBe(false);
    await store.atomically(() => store.deleteTerminalSync(first));
    const again = terminalRecord('SEEN-1', { createdAt: start + 1_000, tfp: 'ef'.repeat(32), pairedAt: start + 1_000, pairedBy: 'alice' });
    await store.atomically(() => store.putTerminalSync(again));

    await freeDisk();
    expect(await writeBehind.written()).toBe(true);
    expect(store.lastSeen.get('SEEN-1')).toBeUndefined();
    expect(await countRollover(store, start, () => false)).toEqual({ seen: 0, paired: 1 });
    await writeBehind.close();
  }, 60_000);

  it('writes the last-seen times it held while the disk was full once there is room, also those of calls whose nonces expired meanwhile', async () => {
    const { dir, store, writeBehind } = smallDisk();
    const start = Date.now();
    const nowSec = Math.floor(start / 1000);
    // Last-seen times are written only onto a terminal created before them (store.seenAsCreated).
    for (const serial of ['HELD-A', 'HELD-B', 'HELD-C']) {
      await store.atomically(() => store.putTerminalSync(terminalRecord(serial, { createdAt: start - 60_000 })));
    }
    const freeDisk = await fillDisk(dir, store);

    // A batch of a last-seen time and no nonce; then a call whose nonce expires while the disk is still full.
    writeBehind.lastSeen('HELD-A', start);
    expect(await writeBehind.written()).toBe(false);
    writeBehind.nonce('HELD-B', 'short-lived', nowSec - 10, nowSec + 1);
    writeBehind.lastSeen('HELD-B', start + 1);
    expect(await writeBehind.written()).toBe(false);
    await until(() => Date.now() / 1000 > nowSec + 1, 'the held nonce to expire');
    // The held batch is now the last one, its nonce expired: refused again, and still kept.
    expect(await writeBehind.written()).toBe(false);
    // Later calls: HELD-B's later time MUST win over the one held from before.
    writeBehind.lastSeen('HELD-B', start + 2);
    writeBehind.nonce('HELD-C', 'live', nowSec, nowSec + 600);
    writeBehind.lastSeen('HELD-C', start + 3);
    expect(await writeBehind.written()).toBe(false);
    expect(store.lastSeen.get('HELD-A')).toBeUndefined();

    await freeDisk();
    expect(await writeBehind.written()).toBe(true);
    expect(['HELD-A', 'HELD-B', 'HELD-C'].map((serial) => store.lastSeen.get(serial))).toEqual([start, start + 2, start + 3]);
    expect(store.nonces.expiryOf('HELD-C', 'live', nowSec)).toBe(nowSec + 600);
    await writeBehind.close();
  }, 60_000);
});
