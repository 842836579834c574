/**
 * @module Unit tests: cash events past `--cash-event-days`. Events are stored by master's own call on a real LMDB store
 * with the clock moved by the test; the retention then runs as the server's pruner runs it. What must hold: only
 * events received before the cut go, each with its place in the time index; a run over many works in batches; and an
 * older store's events, which have no place in the index, get one at start-up.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { masterCall } from '../../../src/actors/master-calls.js';
import type { HttpReply } from '../../../src/protocol/types.js';
import { forgetCashEvents } from '../../../src/store/cash-event-retention.js';
import type { CashEventRecord } from '../../../src/store/records.js';
import { upgradeStore } from '../../../src/store/store-upgrade.js';
import { compositeKey, type Store } from '../../../src/store/store.js';
import { openActorStore, type ActorStore } from '../../helpers/actor-store.js';

const DAY = 86_400_000;
let bench: ActorStore;
let store: Store;
let clock = Date.parse('2026-03-01T12:00:00Z');

beforeEach(() => {
  bench = openActorStore('cash-retention-test', { cashEventTimes: true });
  store = bench.store;
});

afterEach(async () => {
  await bench.close();
});

/** Master's cash-event call for `serial`, at the test's clock. */
async function report(serial: string, eventId: string): Promise<HttpReply> {
  const body = Buffer.from(JSON.stringify({ eventId, currency: 'EUR', denomination: 20, count: 1, at: new Date(clock - 1_000).toISOString() }));
  const ctx = bench.context({ now: () => clock });
  return masterCall(ctx, serial, { method: 'POST', path: '/api/v1/cash-events', query: '', headers: {}, body, remoteAddress: '192.0.2.1' });
}

const stored = (): string[] => [...store.cashEvents.getRange()].map(({ value }) => `${value.serial}/${value.eventId}`).sort();
const indexed = (): number => store.cashEventTimes.oldest(Number.MAX_SAFE_INTEGER, 100_000).length;

describe('cash events past --cash-event-days', () => {
  it('are forgotten, each with its place in time; later ones stay, and still answer duplicate', async () => {
    const start = clock;
    for (const [serial, id] of [['ATM-1', 'a'], ['ATM-1', 'b'], ['ATM-2', 'a']] as const) expect((await report(serial, id)).body).toEqual({ accepted: true, duplicate: false });
    clock = start + 5 * DAY;
    for (const [serial, id] of [['ATM-1', 'c'], ['ATM-2', 'b']] as const) await report(serial, id);
    expect(indexed()).toBe(5);

    expect(await forgetCashEvents(store, start + 3 * DAY)).toBe(3);
    expect(stored()).toEqual(['ATM-1/c', 'ATM-2/b']);
    expect(indexed()).toBe(2);
    expect((await report('ATM-1', 'c')).body).toEqual({ accepted: true, duplicate: true });
    // Nothing more to forget: a second run reads nothing and removes nothing.
    expect(await forgetCashEvents(store, start + 3 * DAY)).toBe(0);
  });

  it('are forgotten in batches, and a stop between two batches leaves the rest for the next run', async () => {
    const start = clock;
    await store.atomically(() => {
      for (let i = 0; i < 1_200; i++) store.putCashEventSync(event(`ATM-${i % 7}`, `e${i}`, start + i));
    });
    const stop = new AbortController();
    stop.abort();
    expect(await forgetCashEvents(store, start + DAY, stop.signal)).toBe(0);
    expect(await forgetCashEvents(store, start + 700)).toBe(700);
    expect(await forgetCashEvents(store, start + DAY)).toBe(500);
    expect(store.cashEvents.getKeysCount()).toBe(0);
    expect(indexed()).toBe(0);
  });

  it('are written without a place in time while they are kept for ever: master writes one record an event', async () => {
    const forever = openActorStore('cash-forever-test');
    try {
      await forever.store.atomically(() => forever.store.putCashEventSync(event('ATM-9', 'f1', clock)));
      expect(forever.store.cashEvents.getKeysCount()).toBe(1);
      expect(forever.store.cashEventTimes.oldest(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
      // Nor caught up at start-up: only a store that keeps them by time needs it.
      expect(upgradeStore(forever.store, Math.floor(clock / 1000), 300).cashEventTimes).toBe(0);
    } finally {
      await forever.close();
    }
  });

  it('of an older store, or of runs with --cash-event-days off, get their place in time at start-up, and are then forgotten like the rest', async () => {
    // As a store written before the index: the events alone.
    await store.atomically(() => {
      for (let i = 0; i < 10; i++) store.cashEvents.putSync(compositeKey('OLD-1', `o${i}`), event('OLD-1', `o${i}`, clock - 10 * DAY + i));
    });
    expect(indexed()).toBe(0);
    expect(upgradeStore(store, Math.floor(clock / 1000), 300).cashEventTimes).toBe(10);
    expect(upgradeStore(store, Math.floor(clock / 1000), 300).cashEventTimes).toBe(0);
    expect(await forgetCashEvents(store, clock - DAY)).toBe(10);
    expect(stored()).toEqual([]);
  });
});

function event(serial: string, eventId: string, receivedAt: number): CashEventRecord {
  return { serial, eventId, currency: 'EUR', denomination: 20, count: 1, at: new Date(receivedAt).toISOString(), receivedAt };
}
