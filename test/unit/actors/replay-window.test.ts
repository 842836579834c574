/** @module Unit tests: the replay window against a real LMDB store — nonces written behind, found again by a new activation, expired ones forgotten by emptying ring slots. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplayWindow } from '../../../src/actors/replay-window.js';
import { FLUSH_CHUNK, WriteBehind } from '../../../src/actors/write-behind.js';
import { createLogger } from '../../../src/logger.js';
import { MAX_CLOCK_SKEW_SEC, NONCE_BUCKET_SEC, NONCE_RING_SLOTS, slotIndex, slotName } from '../../../src/store/nonce-ring.js';
import { Store, compositeKey } from '../../../src/store/store.js';
import { migrateNonces } from '../../../src/store/store-upgrade.js';
import { terminalRecord } from '../../helpers/actor-store.js';

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
    expect(window.admit('nonce-a', 700, 1_000, 900)).toBe(true);
    expect(window.admit('nonce-a', 700, 1_000, 950)).toBe(false);
    expect(window.admit('nonce-a', 1_700, 2_000, 1_001)).toBe(true); // expired: the same nonce is a new request
    await writeBehind.flush();
    const reactivated = new ReplayWindow(store, writeBehind, 'ATM-W1');
    expect(reactivated.admit('nonce-a', 1_700, 2_000, 1_500)).toBe(false); // the replay: same signed created
    expect(new ReplayWindow(store, writeBehind, 'ATM-W2').admit('nonce-a', 1_700, 2_000, 1_500)).toBe(true);
  });

  it('finds nonces a previous activation admitted only in the store, for every created time of the window', async () => {
    const first = new ReplayWindow(store, writeBehind, 'ATM-W3');
    const now = 1_800_000_000;
    const created = [now - MAX_CLOCK_SKEW_SEC, now - 1, now, now + 59, now + MAX_CLOCK_SKEW_SEC];
    for (const [i, c] of created.entries()) expect(first.admit(`n${i}`, c, c + MAX_CLOCK_SKEW_SEC + 1, now)).toBe(true);
    await writeBehind.flush();
    const second = new ReplayWindow(store, writeBehind, 'ATM-W3');
    for (const [i, c] of created.entries()) expect(second.admit(`n${i}`, c, c + MAX_CLOCK_SKEW_SEC + 1, now), `created ${c - now}`).toBe(false);
  });
});

describe('WriteBehind', () => {
  // A last-seen time is written only onto a terminal the store holds, created by then (Store.seenAsCreated).
  beforeAll(() => store.atomically(() => {
    for (const serial of ['ATM-F1', 'ATM-L1', 'ATM-L2', 'ATM-L3', 'ATM-L4', 'ATM-L5', 'ATM-L6']) store.putTerminalSync(terminalRecord(serial, { createdAt: 0 }));
  }));

  it('answers for a nonce at every stage: gathered, handed to lmdb, just written, and then from the store', async () => {
    const window = new ReplayWindow(store, writeBehind, 'ATM-S1');
    expect(window.admit('staged', 7_000, 7_301, 7_000)).toBe(true);
    expect(writeBehind.pendingExpiry('ATM-S1', 'staged')).toBe(7_301); // gathered
    const written = writeBehind.flush();
    expect(window.admit('staged', 7_000, 7_301, 7_000)).toBe(false); // handed to lmdb, not yet on disk
    await written;
    expect(writeBehind.pendingExpiry('ATM-S1', 'staged')).toBe(7_301); // kept one more interval
    expect(store.nonces.expiryOf('ATM-S1', 'staged', 7_000)).toBe(7_301);
    // Two more batches retire it from memory; the store still refuses the replay.
    writeBehind.nonce('ATM-S1', 'other-1', 7_000, 7_301);
    await writeBehind.flush();
    writeBehind.nonce('ATM-S1', 'other-2', 7_000, 7_301);
    await writeBehind.flush();
    expect(writeBehind.pendingExpiry('ATM-S1', 'staged')).toBeUndefined();
    expect(new ReplayWindow(store, writeBehind, 'ATM-S1').admit('staged', 7_000, 7_301, 7_100)).toBe(false);
  });

  it('leaves out a nonce the store cannot hold and writes the rest of its batch, then lets the batch go', async () => {
    // Request parsing refuses such a nonce (signature.ts); the write-behind must not lose a batch to one all the same.
    writeBehind.nonce('ATM-K1', 'before', 7_000, 7_301);
    writeBehind.nonce('ATM-K1', 'x'.repeat(3_000), 7_000, 7_301);
    writeBehind.nonce('ATM-K2', 'after', 7_000, 7_301);
    expect(await writeBehind.written()).toBe(true);
    expect(store.nonces.expiryOf('ATM-K1', 'before', 7_000)).toBe(7_301);
    expect(store.nonces.expiryOf('ATM-K2', 'after', 7_000)).toBe(7_301);
  });

  it('writes a batch of many chunks whole, and a later batch\'s last-seen time is never overtaken', async () => {
    for (let i = 0; i < 5 * FLUSH_CHUNK + 7; i++) writeBehind.nonce('ATM-F1', `chunked-${i}`, 8_000, 8_301);
    writeBehind.lastSeen('ATM-F1', 1_000);
    const first = writeBehind.flush();
    writeBehind.lastSeen('ATM-F1', 2_000);
    const second = writeBehind.flush();
    await Promise.all([first, second]);
    for (let i = 0; i < 5 * FLUSH_CHUNK + 7; i++) expect(store.nonces.expiryOf('ATM-F1', `chunked-${i}`, 8_000)).toBe(8_301);
    expect(store.lastSeen.get('ATM-F1')).toBe(2_000);
  });

  it('writes the later of two last-seen times in one batch, and batches reused after retiring still write theirs', async () => {
    writeBehind.lastSeen('ATM-L1', 3_000);
    writeBehind.lastSeen('ATM-L2', 3_100);
    writeBehind.lastSeen('ATM-L1', 3_500);
    await writeBehind.flush();
    expect([store.lastSeen.get('ATM-L1'), store.lastSeen.get('ATM-L2')]).toEqual([3_500, 3_100]);
    // Enough flushes that emptied batches come back from the spare, each with other serials.
    for (let round = 0; round < 4; round++) {
      writeBehind.lastSeen(`ATM-L${round + 3}`, 4_000 + round);
      await writeBehind.flush();
      expect(store.lastSeen.get(`ATM-L${round + 3}`)).toBe(4_000 + round);
    }
    expect(store.lastSeen.get('ATM-L2')).toBe(3_100);
  });

  it('writes on a crash the batch it already handed to lmdb but that is not on disk yet', () => {
    writeBehind.nonce('ATM-C1', 'nonce-before-flush', 9_000, 9_999);
    void writeBehind.flush(); // queued as asynchronous puts, committed on a later turn
    writeBehind.nonce('ATM-C1', 'nonce-after-flush', 9_000, 9_999);
    // What a crashing thread does before exiting, in the same turn: no later turn ever comes.
    writeBehind.flushNow();
    expect(store.nonces.expiryOf('ATM-C1', 'nonce-before-flush', 9_000)).toBe(9_999);
    expect(store.nonces.expiryOf('ATM-C1', 'nonce-after-flush', 9_000)).toBe(9_999);
  });
});

describe('NonceRing', () => {
  // A request is looked up only if it is fresh under the skew configured now; nonces may have been written under another.
  it.each([
    { writeSkew: MAX_CLOCK_SKEW_SEC, pruneSkew: MAX_CLOCK_SKEW_SEC },
    { writeSkew: MAX_CLOCK_SKEW_SEC, pruneSkew: 300 },
    { writeSkew: 300, pruneSkew: MAX_CLOCK_SKEW_SEC },
    { writeSkew: 300, pruneSkew: 300 },
  ])('over two turns of the ring (written with skew $writeSkew s, pruned with $pruneSkew s) never forgets a nonce a fresh request could replay', async ({ writeSkew, pruneSkew }) => {
    const serial = `ATM-R${writeSkew}-${pruneSkew}`;
    const start = 1_800_000_000;
    const admitted = new Map<string, { created: number; expires: number }>();
    let emptied = 0;
    let stalest = 0;
    const before = store.nonces.count(); // other tests' nonces, a handful
    // A minute at a time for 2 × 64 minutes: requests created anywhere in ±skew, then a prune, then the check.
    for (let minute = 0; minute < 2 * NONCE_RING_SLOTS * (NONCE_BUCKET_SEC / 60); minute++) {
      const nowSec = start + minute * 60;
      for (let i = 0; i < 20; i++) {
        const created = nowSec - writeSkew + Math.floor(((i * 7919 + minute * 104_729) % 1000) / 999 * 2 * writeSkew);
        const nonce = `n-${minute}-${i}`;
        store.nonces.put(serial, nonce, created, created + writeSkew + 1);
        admitted.set(nonce, { created, expires: created + writeSkew + 1 });
      }
      await store.root.flushed;
      emptied += await store.nonces.forgetExpired(nowSec, pruneSkew);
      for (const [nonce, { created, expires }] of admitted) {
        const fresh = Math.abs(nowSec - created) <= pruneSkew;
        if (fresh && expires >= nowSec) expect(store.nonces.expiryOf(serial, nonce, created), `${nonce} at minute ${minute}`).toBe(expires);
      }
      stalest = Math.max(stalest, store.nonces.count() - before);
    }
    expect(emptied).toBeGreaterThan(NONCE_RING_SLOTS / 2);
    // What stays stored is what may still be looked up plus a few buckets: bounded, not growing with time.
    expect(stalest).toBeLessThan(20 * ((2 * MAX_CLOCK_SKEW_SEC + 4 * NONCE_BUCKET_SEC) / 60));
  });

  it('keeps a slot in the order requests were created, whatever their serials, so a flush appends', async () => {
    const created = 1_900_000_020;
    const slot = store.root.openDB<number, string>({ name: slotName(slotIndex(created)) });
    const serials = ['ATM-Z9', 'ATM-A1', 'ATM-M5'];
    for (const [i, serial] of serials.entries()) store.nonces.put(serial, `ordered-${i}`, created + 2 - i, created + 303 - i);
    await store.root.flushed;
    // Later created, later key: the serials come out in the reverse of their own order.
    const order = [...slot.getKeys({ start: '\u0001' + created, end: '\u0001' + (created + 3) })].map((key) => key.split('\u0000')[1]);
    expect(order).toEqual(['ATM-M5', 'ATM-A1', 'ATM-Z9']);
  });

  it('after an upgrade still refuses the replay of a nonce a store kept under its (serial, nonce) key', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-window-upgrade-'));
    try {
      const created = Math.floor(Date.now() / 1000) - 10;
      const old = Store.open(dir);
      // What the ring held before keys began with `created`: the same slot, keyed by serial and nonce.
      old.root.openDB<number, string>({ name: slotName(slotIndex(created)) }).put(compositeKey('ATM-U1', 'before-upgrade'), created + 301);
      await old.close();
      const upgraded = Store.open(dir);
      const thread = new WriteBehind(upgraded, createLogger({ level: 'silent', pretty: false }), 3_600_000);
      const window = new ReplayWindow(upgraded, thread, 'ATM-U1');
      expect(window.admit('before-upgrade', created, created + 301, created + 10)).toBe(false);
      expect(window.admit('after-upgrade', created, created + 301, created + 10)).toBe(true);
      await thread.flush();
      expect(new ReplayWindow(upgraded, thread, 'ATM-U1').admit('after-upgrade', created, created + 301, created + 10)).toBe(false);
      await thread.close();
      await upgraded.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('moves the live nonces of a store from before the ring into it, once, and empties the old table', async () => {
    const legacy = store.root.openDB<number, string>({ name: 'nonces' });
    legacy.put(compositeKey('ATM-M', 'kept'), 5_000);
    legacy.put(compositeKey('ATM-M', 'expired'), 3_000);
    // A key of 64 characters or more reads back in lmdb's other encoding (composite-key.ts, keyText).
    const longSerial = 'L'.repeat(40);
    const longNonce = 'n'.repeat(32);
    legacy.put(compositeKey(longSerial, longNonce), 5_000);
    await store.root.flushed;
    expect(migrateNonces(store, 4_000, 300)).toBe(2);
    // The old table kept only the expiry: created is recovered with the configured skew.
    expect(store.nonces.expiryOf('ATM-M', 'kept', 5_000 - 300 - 1)).toBe(5_000);
    expect(store.nonces.expiryOf(longSerial, longNonce, 5_000 - 300 - 1)).toBe(5_000);
    expect(legacy.getKeysCount()).toBe(0);
    expect(migrateNonces(store, 4_000, 300)).toBe(0);
  });
});
