/** @module The index of pairing requests waiting for an operator, on a real store: in it exactly while a request has a code and is pending. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PairingRecord } from '../../../src/store/records.js';
import { Store } from '../../../src/store/store.js';
import { sealStore } from '../../../src/store/index-seal.js';
import { upgradeStore } from '../../../src/store/store-upgrade.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'awaiting-operator-'));
const store = Store.open(dir);
afterAll(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const NOW = 1_800_000_000_000;
const request = (id: string, requestedAt: number, stage: PairingRecord['stage'] = 'reveal'): PairingRecord => ({
  requestId: `pr_${id}`, serial: `ATM-${id}`, tfp: 'ab'.repeat(32), remoteAddress: '192.0.2.1', requestedAt, expiresAt: requestedAt + 86_400_000,
  state: 'pending', stage, commitment: '', serverNonce: '', code: stage === 'approval' ? '111-222-333-444' : null, info: null,
  wrongCodeAttempts: 0, decidedBy: null, decidedAt: null,
});
const waiting = (now = NOW) => store.awaitingOperator.waiting(store.pairing, now).map((r) => r.requestId);

describe('AwaitingOperator', () => {
  it('holds a request from its code to its decision, newest first, and leaves out one that expired', async () => {
    const a = request('a', NOW - 3_000);
    const b = request('b', NOW - 2_000);
    const c = request('c', NOW - 1_000);
    await store.atomically(() => [a, b, c].forEach((r) => store.putPairingSync(r)));
    expect(waiting()).toEqual([]); // no code yet: nothing for an operator
    await store.atomically(() => [a, b, c].forEach((r) => store.putPairingSync({ ...r, stage: 'approval' })));
    expect(waiting()).toEqual(['pr_c', 'pr_b', 'pr_a']);
    await store.atomically(() => {
      store.putPairingSync({ ...b, stage: 'approval', state: 'approved', decidedBy: 'alice', decidedAt: NOW });
      store.putPairingSync({ ...c, stage: 'approval', wrongCodeAttempts: 1 }); // a wrong code: still waiting
    });
    expect(waiting()).toEqual(['pr_c', 'pr_a']);
    await store.atomically(() => store.removePairingSync(c));
    expect(waiting()).toEqual(['pr_a']);
    expect(waiting(a.expiresAt)).toEqual([]);
  });

  it('is rebuilt from the last 7 days of the timeline at start-up', async () => {
    // Pending for 30 days (a TTL no server accepts now): outside the stretch where pending requests can be.
    const old = { ...request('old', NOW - 8 * 86_400_000, 'approval'), expiresAt: NOW + 22 * 86_400_000 };
    const fresh = request('fresh', NOW - 60_000, 'approval');
    await store.atomically(() => [old, fresh].forEach((r) => store.putPairingSync(r)));
    expect(store.awaitingOperator.rebuild(store.pairingTimeline, store.pairing, store.root, NOW)).toBe(2);
    expect(waiting()).toEqual(['pr_a', 'pr_fresh']); // pr_a: the first test's, still waiting, and newer
  });
});

describe('upgradeStore and the index of requests waiting for an operator', () => {
  it('fills it once for a store whose timeline is complete but whose index was never filled, then not at every start', async () => {
    const upgradeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'awaiting-upgrade-'));
    const upgraded = Store.open(upgradeDir);
    try {
      const now = Date.now();
      const a = { ...request('up-a', now - 120_000, 'approval') };
      const b = { ...request('up-b', now - 60_000, 'approval') };
      await upgraded.atomically(() => [a, b].forEach((r) => upgraded.putPairingSync(r)));
      // A store written by a build between the timeline and this index: the timeline holds every request, the index none.
      await upgraded.root.openDB<string, string>({ name: 'pairing-awaiting' }).clearAsync();
      const listed = () => upgraded.awaitingOperator.waiting(upgraded.pairing, now).map((r) => r.requestId);
      expect(listed()).toEqual([]);
      const nowSec = Math.floor(now / 1000);
      expect(upgradeStore(upgraded, nowSec, 300)).toMatchObject({ timeline: 0, awaiting: 2 });
      expect(listed()).toEqual(['pr_up-b', 'pr_up-a']);
      // Filled once: the next starts after a clean stop (its seal, index-seal.ts) read none of the week's requests (an index
      // emptied now stays so). An unsealed start fills it again: a build without the index may have written requests.
      await upgraded.root.openDB<string, string>({ name: 'pairing-awaiting' }).clearAsync();
      expect(await sealStore(upgraded, now)).toBe(true);
      expect(upgradeStore(upgraded, nowSec, 300)).toMatchObject({ verified: false, timeline: 0, awaiting: 0 });
      expect(listed()).toEqual([]);
    } finally {
      await upgraded.close();
      fs.rmSync(upgradeDir, { recursive: true, force: true });
    }
  });

  it('marks a new store filled at its first start, with nothing to read', async () => {
    const newDir = fs.mkdtempSync(path.join(os.tmpdir(), 'awaiting-new-'));
    const fresh = Store.open(newDir);
    try {
      expect(fresh.awaitingOperator.filled()).toBe(false);
      expect(upgradeStore(fresh, Math.floor(Date.now() / 1000), 300)).toMatchObject({ timeline: 0, awaiting: 0 });
      expect(fresh.awaitingOperator.filled()).toBe(true);
      // The gate's own setting, in the same sub-database, is untouched.
      expect(fresh.settings.get('gate')).toBeUndefined();
    } finally {
      await fresh.close();
      fs.rmSync(newDir, { recursive: true, force: true });
    }
  });
});
