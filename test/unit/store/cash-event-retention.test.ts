/**
 * @module Unit tests: cash events past `--cash-event-days`. Events are stored by master's own call on a real LMDB store
 * with the clock moved by the test; the retention then runs as the server's pruner runs it. What must hold: only
 * events received before the cut go, each with its place in the time index and among its terminal's; a run over many
 * works in batches; and an older store's events, which have no place in either index, get them at start-up.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HttpReply } from '../../../src/protocol/types.js';
import { forgetCashEvents } from '../../../src/store/cash-event-retention.js';
import type { CashEventRecord } from '../../../src/store/records.js';
import { upgradeStore } from '../../../src/store/store-upgrade.js';
import { compositeKey, type Store } from '../../../src/store/store.js';
import { openActorStore, reportCashEvent, type ActorStore } from '../../helpers/actor-store.js';

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
function report(serial: string, eventId: string): Promise<HttpReply> {
  const event = { eventId, currency: 'EUR', denomination: 20, count: 1, at: new Date(clock - 1_000).toISOString() };
  return reportCashEvent(bench.context({ now: () => clock }), serial, 'ab'.repeat(32), event);
}

const stored = (): string[] => [...store.cashEvents.getRange()].map(({ value }) => `${value.serial}/${value.eventId}`).sort();
const indexed = (): number => store.cashEventTimes.oldest(Number.MAX_SAFE_INTEGER, 100_000).length;
/** The event ids in `serial`'s index, newest first: what cash.list pages through. */
const ofTerminal = (serial: string, on = store): string[] => on.cashEventsBySerial.newest(serial, null, 100_000).map((e) => e.eventId);

describe('cash events past --cash-event-days', () => {
  it('are forgotten, each with its place in time and among its terminal\'s; later ones stay, and still answer duplicate', async () => {
    const start = clock;
    for (const [serial, id] of [['ATM-1', 'a'], ['ATM-1', 'b'], ['ATM-2', 'a']] as const) expect((await report(serial, id)).body).toEqual({ accepted: true, duplicate: false });
    clock = start + 5 * DAY;
    for (const [serial, id] of [['ATM-1', 'c'], ['ATM-2', 'b']] as const) await report(serial, id);
    expect(indexed()).toBe(5);
    expect(ofTerminal('ATM-1')).toEqual(['c', 'b', 'a']);

    expect(await forgetCashEvents(store, start + 3 * DAY)).toBe(3);
    expect(stored()).toEqual(['ATM-1/c', 'ATM-2/b']);
    expect(indexed()).toBe(2);
    expect(ofTerminal('ATM-1')).toEqual(['c']);
    expect(ofTerminal('ATM-2')).toEqual(['b']);
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
    for (let t = 0; t < 7; t++) expect(ofTerminal(`ATM-${t}`)).toEqual([]);
  });

  it('are written without a place in time while they are kept for ever: master writes the event and its place among its terminal\'s, not a third record', async () => {
    const forever = openActorStore('cash-forever-test');
    try {
      await forever.store.atomically(() => forever.store.putCashEventSync(event('ATM-9', 'f1', clock)));
      expect(forever.store.cashEvents.getKeysCount()).toBe(1);
      expect(forever.store.cashEventTimes.oldest(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
      expect(ofTerminal('ATM-9', forever.store)).toEqual(['f1']);
      // Nor caught up at start-up: only a store that keeps them by time needs it.
      expect(upgradeStore(forever.store, Math.floor(clock / 1000), 300)).toMatchObject({ cashEventTimes: 0, cashEventsBySerial: 0 });
    } finally {
      await forever.close();
    }
  });

  it('of an older store, or of runs with --cash-event-days off, get their place in time and among their terminal\'s at start-up, and are then forgotten like the rest', async () => {
    // As a store written before both indexes: the events alone, whose ids sort against the order they came in.
    await store.atomically(() => {
      for (let i = 0; i < 10; i++) store.cashEvents.putSync(compositeKey('OLD-1', `o${9 - i}`), event('OLD-1', `o${9 - i}`, clock - 10 * DAY + i));
    });
    expect(indexed()).toBe(0);
    expect(ofTerminal('OLD-1')).toEqual([]);
    const told: [string, number, number][] = [];
    expect(upgradeStore(store, Math.floor(clock / 1000), 300, (index, done, total) => told.push([index, done, total]))).toMatchObject({ cashEventTimes: 10, cashEventsBySerial: 10 });
    // Too few to take long: no progress to tell.
    expect(told).toEqual([]);
    expect(ofTerminal('OLD-1')).toEqual(['o0', 'o1', 'o2', 'o3', 'o4', 'o5', 'o6', 'o7', 'o8', 'o9']);
    expect(upgradeStore(store, Math.floor(clock / 1000), 300)).toMatchObject({ cashEventTimes: 0, cashEventsBySerial: 0 });
    expect(await forgetCashEvents(store, clock - DAY)).toBe(10);
    expect(stored()).toEqual([]);
    expect(ofTerminal('OLD-1')).toEqual([]);
  });
});

function event(serial: string, eventId: string, receivedAt: number): CashEventRecord {
  return { serial, eventId, currency: 'EUR', denomination: 20, count: 1, at: new Date(receivedAt).toISOString(), receivedAt };
}
