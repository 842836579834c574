/** @module Unit tests: the replay window against a real LMDB store — nonces written behind, reloaded on activation, pruned in chunks. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplayWindow, pruneNonces } from '../../../src/actors/replay-window.js';
import { WriteBehind } from '../../../src/actors/write-behind.js';
import { createLogger } from '../../../src/logger.js';
import { Store, compositeKey } from '../../../src/store/store.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-window-test-'));
let store: Store;
let writeBehind: WriteBehind;

beforeAll(() => {
  store = Store.open(dataDir);
  // A long interval: the test flushes by hand.
  writeBehind = new WriteBehind(store, createLogger({ level: 'silent', pretty: false }), 3_600_000);
});

afterAll(async () => {
  await writeBehind.close();
  await store.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('ReplayWindow', () => {
  it('refuses a nonce until it expires, and a new activation still refuses it once written behind', async () => {
    const window = new ReplayWindow(store, writeBehind, 'ATM-W1');
    expect(window.admit('nonce-a', 1_000, 900)).toBe(true);
    expect(window.admit('nonce-a', 1_000, 950)).toBe(false);
    expect(window.admit('nonce-a', 2_000, 1_001)).toBe(true); // expired: the same nonce is a new request
    await writeBehind.flush();
    const reactivated = new ReplayWindow(store, writeBehind, 'ATM-W1');
    expect(reactivated.admit('nonce-a', 2_000, 1_500)).toBe(false);
    expect(new ReplayWindow(store, writeBehind, 'ATM-W2').admit('nonce-a', 2_000, 1_500)).toBe(true);
  });
});

describe('WriteBehind', () => {
  it('writes on a crash the batch it already handed to lmdb but that is not on disk yet', () => {
    writeBehind.nonce('ATM-C1', 'nonce-before-flush', 9_999);
    void writeBehind.flush(); // queued as asynchronous puts, committed on a later turn
    writeBehind.nonce('ATM-C1', 'nonce-after-flush', 9_999);
    // What a crashing thread does before exiting, in the same turn: no later turn ever comes.
    writeBehind.flushNow();
    expect(store.nonces.get(compositeKey('ATM-C1', 'nonce-before-flush'))).toBe(9_999);
    expect(store.nonces.get(compositeKey('ATM-C1', 'nonce-after-flush'))).toBe(9_999);
  });
});

describe('pruneNonces', () => {
  it('removes exactly the expired nonces across several chunks and keeps the rest', async () => {
    await store.nonces.clearAsync();
    const expected = new Set<string>();
    for (let i = 0; i < 2_500; i++) {
      const key = compositeKey(`ATM-P${i % 7}`, `nonce-${i}`);
      const expires = i % 3 === 0 ? 100 : 10_000;
      if (expires > 500) expected.add(key);
      store.nonces.put(key, expires);
    }
    await store.root.flushed;
    expect(await pruneNonces(store, 500)).toEqual({ scanned: 2_500, removed: 2_500 - expected.size });
    expect(new Set(store.nonces.getKeys())).toEqual(expected);
    expect(await pruneNonces(store, 500)).toEqual({ scanned: expected.size, removed: 0 });
  });

  it('stops after the chunk in hand when asked to, and the next run finishes the job', async () => {
    await store.nonces.clearAsync();
    for (let i = 0; i < 2_500; i++) store.nonces.put(compositeKey('ATM-S', `nonce-${String(i).padStart(4, '0')}`), 100);
    await store.root.flushed;
    const stop = new AbortController();
    stop.abort();
    const first = await pruneNonces(store, 500, { signal: stop.signal, pauseMs: 0 });
    // One chunk (about 1,000 keys), all expired, all removed; the rest untouched.
    expect(first.scanned).toBeGreaterThanOrEqual(1_000);
    expect(first.scanned).toBeLessThan(1_100);
    expect(first.removed).toBe(first.scanned);
    expect(store.nonces.getKeysCount()).toBe(2_500 - first.removed);
    expect(await pruneNonces(store, 500, { pauseMs: 0 })).toEqual({ scanned: 2_500 - first.removed, removed: 2_500 - first.removed });
    expect(store.nonces.getKeysCount()).toBe(0);
  });
});
