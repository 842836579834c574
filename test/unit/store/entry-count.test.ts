/**
 * @module Unit tests: a table's count and whether it holds a key from a point on, asked without a scan
 * (src/store/entry-count.ts), on a real LMDB store; and the nonce pruner asking so of every slot each minute.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { entryCount, holdsKeyFrom } from '../../../src/store/entry-count.js';
import { NONCE_BUCKET_SEC, slotIndex, slotName } from '../../../src/store/nonce-ring.js';
import { Store } from '../../../src/store/store.js';

let dataDir: string;
let store: Store;

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'entry-count-'));
  store = Store.open(dataDir, { fieldKey: false });
});

afterEach(async () => {
  vi.restoreAllMocks();
  await store.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('entryCount and holdsKeyFrom', () => {
  it('count what a table holds and tell whether any key lies at or after a point', async () => {
    const table = store.root.openDB<number, string>({ name: 'test-keys' });
    expect(entryCount(table)).toBe(0);
    expect(holdsKeyFrom(table, '')).toBe(false);
    await store.root.transaction(() => {
      for (let i = 0; i < 1000; i++) table.put(`b-${String(i).padStart(4, '0')}`, i);
    });
    expect(entryCount(table)).toBe(1000);
    expect(holdsKeyFrom(table, 'a')).toBe(true);
    expect(holdsKeyFrom(table, 'b-0999')).toBe(true);
    // Every key sorts before this one.
    expect(holdsKeyFrom(table, 'b-1')).toBe(false);
  });
});

describe('the nonce pruner', () => {
  const nowSec = 1_900_000_000;
  // Six buckets back: past the window of a 300 s skew (bucketsBehind = 4), and not a slot the ring keeps ahead.
  const expiredCreated = nowSec - 6 * NONCE_BUCKET_SEC;

  it('empties a slot behind the window that holds nonces, and costs an empty one no write', async () => {
    expect(await store.nonces.forgetExpired(nowSec, 300)).toBe(0);
    for (let i = 0; i < 500; i++) void store.nonces.put(`ATM-P${i}`, `nonce-${i}`, expiredCreated, expiredCreated + 301);
    await store.root.flushed;
    const slot = store.root.openDB<number, string>({ name: slotName(slotIndex(expiredCreated)) });
    expect(entryCount(slot)).toBe(500);
    expect(await store.nonces.forgetExpired(nowSec, 300)).toBe(1);
    expect(entryCount(slot)).toBe(0);
    expect(await store.nonces.forgetExpired(nowSec, 300)).toBe(0);
  });

  it('never counts a slot\'s keys to ask whether it holds any: lmdb-js\'s getKeysCount ignores its limit and walks them all', async () => {
    for (let i = 0; i < 50; i++) void store.nonces.put(`ATM-Q${i}`, `nonce-${i}`, expiredCreated, expiredCreated + 301);
    await store.root.flushed;
    // Every table of the store is an instance of lmdb-js's one database class.
    const counted = vi.spyOn(Object.getPrototypeOf(store.terminals) as { getKeysCount(): number }, 'getKeysCount');
    expect(await store.nonces.forgetExpired(nowSec, 300)).toBe(1);
    expect(counted).not.toHaveBeenCalled();
  });
});
