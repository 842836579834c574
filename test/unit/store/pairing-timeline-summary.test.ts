/**
 * @module Unit tests: the pairing timeline carries each request's state, stage and expiry, so that `pairing.list` of one
 * state leaves out the others without reading them. Real LMDB store, requests written through the store's own
 * putPairingSync. What must hold: every filter lists what the records themselves say, also once a request expired
 * (expiry writes nothing), and a store whose entries hold the serial alone (written before) lists the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listPairing } from '../../../src/admin/listings.js';
import type { PairingRecord } from '../../../src/store/records.js';
import type { Store } from '../../../src/store/store.js';
import { openActorStore, terminalRecord, type ActorStore } from '../../helpers/actor-store.js';

const NOW = 1_800_000_000_000;
const TTL = 3_600_000;

let bench: ActorStore;
let store: Store;

function request(i: number, overrides: Partial<PairingRecord>): PairingRecord {
  return {
    requestId: `pr_sum${i}`, serial: `SUM-${i % 3}`, tfp: String(i).padStart(64, '0'), remoteAddress: '10.0.0.3',
    requestedAt: NOW - 10_000 + i, expiresAt: NOW - 10_000 + i + TTL, state: 'pending', stage: 'approval', commitment: 'c',
    serverNonce: 'n', code: '1234-5678', info: null, wrongCodeAttempts: 0, decidedBy: null, decidedAt: null, ...overrides,
  };
}

const requests: PairingRecord[] = [
  request(0, { state: 'approved', decidedBy: 'alice', decidedAt: NOW - 9_000 }),
  request(1, { state: 'rejected', decidedBy: 'alice', decidedAt: NOW - 9_000 }),
  request(2, {}), // waits for an operator, and expires at NOW + 1 below
  request(3, { stage: 'reveal', code: null }), // no code yet: never listed
  request(4, { expiresAt: NOW - 1 }), // expired, with a code
  request(5, { stage: 'reveal', code: null, expiresAt: NOW - 1 }), // expired without a code: never listed
  request(6, { state: 'approved', decidedBy: 'bob', decidedAt: NOW - 8_000 }),
];

const STATES = [undefined, 'pending', 'approved', 'rejected', 'expired'] as const;
/** `pending` is listed from the index of the requests waiting (awaiting-operator.ts), not from the timeline. */
const FROM_TIMELINE = STATES.filter((state) => state !== 'pending');

/** Each filter the page offers, with every serial or none: what each lists, as request ids. */
async function listings(now: number, states: readonly (typeof STATES)[number][] = STATES): Promise<Record<string, string[]>> {
  const lists: Record<string, string[]> = {};
  for (const state of states) {
    for (const serial of [undefined, 'SUM-0', 'SUM-1', 'SUM-2']) {
      const page = await listPairing(store, { ...(state && { state }), ...(serial && { serial }), limit: 1000 }, now);
      lists[`${state ?? 'any'} ${serial ?? '*'}`] = page.requests.map((r) => r.requestId);
    }
  }
  return lists;
}

beforeAll(async () => {
  bench = openActorStore('timeline-summary-test');
  store = bench.store;
  await store.atomically(() => {
    for (const serial of ['SUM-0', 'SUM-1', 'SUM-2']) store.putTerminalSync(terminalRecord(serial));
    for (const record of requests) store.putPairingSync(record);
  });
});
afterAll(() => bench.close());

describe('the pairing timeline\'s summaries', () => {
  it('list by state what the records say, and follow a request that expired since its last write', async () => {
    const lists = await listings(NOW);
    expect(lists['any *']).toEqual(['pr_sum6', 'pr_sum4', 'pr_sum2', 'pr_sum1', 'pr_sum0']);
    expect(lists['approved *']).toEqual(['pr_sum6', 'pr_sum0']);
    expect(lists['rejected *']).toEqual(['pr_sum1']);
    expect(lists['expired *']).toEqual(['pr_sum4']);
    expect(lists['pending *']).toEqual(['pr_sum2']);
    expect(lists['approved SUM-0']).toEqual(['pr_sum6', 'pr_sum0']);
    expect(lists['rejected SUM-0']).toEqual([]);
    // Later, with nothing written: the request that waited is expired now, in the summary's reading as in the record's.
    const later = await listings(NOW + TTL);
    expect(later['expired *']).toEqual(['pr_sum4', 'pr_sum2']);
    expect(later['pending *']).toEqual([]);
  });

  it('list the same from entries that hold the serial alone, as a store from before wrote them', async () => {
    const withSummaries = [await listings(NOW, FROM_TIMELINE), await listings(NOW + TTL, FROM_TIMELINE)];
    const timeline = store.pairingTimeline['db'];
    await store.atomically(() => {
      for (const record of requests) timeline.putSync([record.requestedAt, record.requestId], record.serial);
    });
    expect([...timeline.getRange()].every(({ value }) => typeof value === 'string')).toBe(true);
    expect([await listings(NOW, FROM_TIMELINE), await listings(NOW + TTL, FROM_TIMELINE)]).toEqual(withSummaries);
    // A decision writes the request again, and its entry gets its summary back.
    await store.atomically(() => store.putPairingSync({ ...requests[2]!, state: 'rejected', decidedBy: 'alice', decidedAt: NOW }));
    expect(timeline.get([requests[2]!.requestedAt, requests[2]!.requestId])).toEqual(['SUM-2', 'rejected', 'approval', requests[2]!.expiresAt]);
    expect((await listings(NOW))['rejected *']).toEqual(['pr_sum2', 'pr_sum1']);
  });
});
