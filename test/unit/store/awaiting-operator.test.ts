/** @module The index of pairing requests waiting for an operator, on a real store: in it exactly while a request has a code and is pending. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PairingRecord } from '../../../src/store/records.js';
import { Store } from '../../../src/store/store.js';

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
    await store.atomically(() => [a, b, c].forEach((r) => store.addPairingSync(r)));
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
    await store.atomically(() => [old, fresh].forEach((r) => store.addPairingSync(r)));
    expect(store.awaitingOperator.rebuild(store.pairingTimeline, store.pairing, store.root, NOW)).toBe(2);
    expect(waiting()).toEqual(['pr_a', 'pr_fresh']); // pr_a: the first test's, still waiting, and newer
  });
});
