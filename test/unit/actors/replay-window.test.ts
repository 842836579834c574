/** @module Unit tests: the replay window against a real LMDB store — nonces written behind, reloaded on activation, expired ones forgotten by emptying ring slots. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplayWindow } from '../../../src/actors/replay-window.js';
import { WriteBehind } from '../../../src/actors/write-behind.js';
import { createLogger } from '../../../src/logger.js';
import { MAX_CLOCK_SKEW_SEC, NONCE_BUCKET_SEC, NONCE_RING_SLOTS } from '../../../src/store/nonce-ring.js';
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
    const window = new ReplayWindow(store, writeBehind, 'ATM-W1', 900);
    expect(window.admit('nonce-a', 1_000, 900)).toBe(true);
    expect(window.admit('nonce-a', 1_000, 950)).toBe(false);
    expect(window.admit('nonce-a', 2_000, 1_001)).toBe(true); // expired: the same nonce is a new request
    await writeBehind.flush();
    const reactivated = new ReplayWindow(store, writeBehind, 'ATM-W1', 1_500);
    expect(reactivated.admit('nonce-a', 2_000, 1_500)).toBe(false);
    expect(new ReplayWindow(store, writeBehind, 'ATM-W2', 1_500).admit('nonce-a', 2_000, 1_500)).toBe(true);
  });
});

describe('WriteBehind', () => {
  it('writes on a crash the batch it already handed to lmdb but that is not on disk yet', () => {
    writeBehind.nonce('ATM-C1', 'nonce-before-flush', 9_999);
    void writeBehind.flush(); // queued as asynchronous puts, committed on a later turn
    writeBehind.nonce('ATM-C1', 'nonce-after-flush', 9_999);
    // What a crashing thread does before exiting, in the same turn: no later turn ever comes.
    writeBehind.flushNow();
    expect(store.nonces.get('ATM-C1', 'nonce-before-flush', 9_999)).toBe(9_999);
    expect(store.nonces.get('ATM-C1', 'nonce-after-flush', 9_999)).toBe(9_999);
  });
});

describe('NonceRing', () => {
  const live = (serial: string, nowSec: number): Map<string, number> =>
    new Map([...store.nonces.live(serial, nowSec)].map(({ nonce, expiresAtSec }) => [nonce, expiresAtSec]));

  it('over two turns of the ring, with the largest skew, never forgets a live nonce and keeps little that expired', async () => {
    const skew = MAX_CLOCK_SKEW_SEC;
    const start = 1_800_000_000;
    const admitted = new Map<string, number>();
    let emptied = 0;
    let stalest = 0;
    // A minute at a time for 2 × 64 minutes: nonces created anywhere in ±skew, then a prune, then the check.
    for (let minute = 0; minute < 2 * NONCE_RING_SLOTS * (NONCE_BUCKET_SEC / 60); minute++) {
      const nowSec = start + minute * 60;
      for (let i = 0; i < 20; i++) {
        const created = nowSec - skew + Math.floor(((i * 7919 + minute * 104_729) % 1000) / 999 * 2 * skew);
        const nonce = `n-${minute}-${i}`;
        store.nonces.put('ATM-R', nonce, created + skew + 1);
        admitted.set(nonce, created + skew + 1);
      }
      await store.root.flushed;
      emptied += await store.nonces.forgetExpired(nowSec);
      const kept = live('ATM-R', nowSec);
      for (const [nonce, expires] of admitted) {
        if (expires >= nowSec) expect(kept.get(nonce), `${nonce} at minute ${minute}`).toBe(expires);
      }
      // What stays stored past its expiry is bounded by the slots kept behind now and the bucket width.
      stalest = Math.max(stalest, store.nonces.count() - kept.size);
    }
    expect(emptied).toBeGreaterThan(NONCE_RING_SLOTS);
    expect(stalest).toBeLessThan(20 * 2 * (2 * NONCE_BUCKET_SEC) / 60);
  });

  it('reads only live nonces, and only the given serial\'s', async () => {
    store.nonces.put('ATM-L1', 'old', 1_000);
    store.nonces.put('ATM-L1', 'new', 1_300);
    store.nonces.put('ATM-L10', 'other', 1_300);
    await store.root.flushed;
    expect(live('ATM-L1', 1_200)).toEqual(new Map([['new', 1_300]]));
  });

  it('moves the live nonces of a store from before the ring into it, once, and empties the old table', async () => {
    const legacy = store.root.openDB<number, string>({ name: 'nonces' });
    legacy.put(compositeKey('ATM-M', 'kept'), 5_000);
    legacy.put(compositeKey('ATM-M', 'expired'), 3_000);
    await store.root.flushed;
    expect(store.migrateNonces(4_000)).toBe(1);
    expect(live('ATM-M', 4_000)).toEqual(new Map([['kept', 5_000]]));
    expect(legacy.getKeysCount()).toBe(0);
    expect(store.migrateNonces(4_000)).toBe(0);
  });
});
