/**
 * @module The pages of cash events operators read, on a real store larger than one slice and one scan budget: one
 * terminal's newest first by its index (event ids in another order than receive times, events received in one
 * millisecond cut by a page), and an export's pages by key (short or empty pages that still go on), by the time index
 * and by a terminal's index, each covering the range once; a cursor of a terminal's export by key still goes on.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { newestOfSerial, receivedBetween, SCAN_BUDGET, type EventPosition, type ReceivedRange, type ScanPosition } from '../../../src/store/cash-event-pages.js';
import { compositeKey } from '../../../src/store/composite-key.js';
import type { CashEventRecord } from '../../../src/store/records.js';
import { SLICE } from '../../../src/store/sliced-scan.js';
import { openTempStore, type TempStore } from '../../helpers/actor-store.js';

const T0 = Date.UTC(2026, 0, 1);
/** Terminals × events each: more than two scan budgets in all. */
const TERMINALS = 60;
const EACH = 400;
/** One terminal with more events than a slice, received out of its key order. */
const BUSY = { serial: 'BUSY-1', events: SLICE * 2 + 123 };

let temp: TempStore;
const all: CashEventRecord[] = [];
const idOf = (e: Pick<CashEventRecord, 'serial' | 'eventId'>): string => `${e.serial}/${e.eventId}`;

beforeAll(async () => {
  // Written with the time index, so both ways of paging read the same events.
  temp = openTempStore('cash-pages', { fieldKey: false, cashEventTimes: true });
  let n = 0;
  const event = (serial: string): CashEventRecord => ({
    serial, eventId: randomUUID(), currency: 'USD', denomination: 20, count: 1, at: new Date(T0).toISOString(),
    // Several events share a millisecond: ties are ordered by event id.
    receivedAt: T0 + Math.floor(n++ / 3),
  });
  await temp.store.atomically(() => {
    for (let i = 0; i < EACH; i++) {
      for (let t = 0; t < TERMINALS; t++) {
        const record = event(`ATM-${String(t).padStart(3, '0')}`);
        temp.store.putCashEventSync(record);
        all.push(record);
      }
    }
    for (let i = 0; i < BUSY.events; i++) {
      const record = event(BUSY.serial);
      temp.store.putCashEventSync(record);
      all.push(record);
    }
  });
});

afterAll(async () => {
  await temp?.close();
});

async function everyPage(range: ReceivedRange, limit: number, byKey: boolean): Promise<{ pages: CashEventRecord[][]; events: CashEventRecord[] }> {
  const pages: CashEventRecord[][] = [];
  // A key position before every key: the scan a server without the time index starts.
  let from: ScanPosition | null = byKey ? { by: 'key', after: '' } : null;
  do {
    const page = await receivedBetween(temp.store, range, from, limit);
    pages.push(page.events);
    from = page.next;
  } while (from !== null);
  return { pages, events: pages.flat() };
}

/** Every page of one terminal's events, newest first, passing the last event shown back as `before`, as cash.list's clients do. */
function newestPages(serial: string, limit: number): CashEventRecord[][] {
  const pages: CashEventRecord[][] = [];
  let before: EventPosition | null = null;
  for (;;) {
    const { events, more } = newestOfSerial(temp.store, serial, before, limit);
    pages.push(events);
    if (!more) return pages;
    // A `before` that never moves past a page would page for ever.
    if (pages.length > 1000) throw new Error(`${serial}: more than 1,000 pages`);
    const last = events.at(-1)!;
    before = { receivedAt: last.receivedAt, eventId: last.eventId };
  }
}

describe('one terminal\'s cash events, newest first', () => {
  /** Sent in this order, a millisecond apart: the id that sorts first came last, and the one that sorts last first. */
  const ORDER = { serial: 'ORDER-1', ids: ['zz-first', 'mm-second', 'aa-last'], at: T0 + 20_000 };
  /** Seven events received in one millisecond, between two others: pages of 3 cut the millisecond twice. */
  const SAME = { serial: 'SAME-MS-1', ids: ['s4', 's1', 's6', 's0', 's3', 's5', 's2'], at: T0 + 30_000 };

  beforeAll(async () => {
    const record = (serial: string, eventId: string, receivedAt: number): CashEventRecord =>
      ({ serial, eventId, currency: 'EUR', denomination: 10, count: 1, at: new Date(receivedAt).toISOString(), receivedAt });
    await temp.store.atomically(() => {
      ORDER.ids.forEach((eventId, i) => temp.store.putCashEventSync(record(ORDER.serial, eventId, ORDER.at + i)));
      temp.store.putCashEventSync(record(SAME.serial, 'before', SAME.at - 1));
      for (const eventId of SAME.ids) temp.store.putCashEventSync(record(SAME.serial, eventId, SAME.at));
      temp.store.putCashEventSync(record(SAME.serial, 'after', SAME.at + 1));
    });
  });

  it('puts the event received last first, whatever its id sorts as', () => {
    expect(newestOfSerial(temp.store, ORDER.serial, null, 1)).toEqual({ events: [expect.objectContaining({ eventId: 'aa-last' })], more: true });
    expect(newestPages(ORDER.serial, 2).map((p) => p.map((e) => e.eventId))).toEqual([['aa-last', 'mm-second'], ['zz-first']]);
  });

  it('pages with `before` through events received in the same millisecond, each once, by event id last first', () => {
    const pages = newestPages(SAME.serial, 3).map((p) => p.map((e) => e.eventId));
    expect(pages).toEqual([['after', 's6', 's5'], ['s4', 's3', 's2'], ['s1', 's0', 'before']]);
  });

  it('pages across slices without losing or repeating one, in received order', async () => {
    const expected = all.filter((e) => e.serial === BUSY.serial)
      .sort((a, b) => b.receivedAt - a.receivedAt || (a.eventId < b.eventId ? 1 : -1)).map(idOf);
    expect(newestPages(BUSY.serial, 700).flat().map(idOf)).toEqual(expected);
  });
});

describe('an export\'s pages', () => {
  // The last 5 events of every ATM terminal and the first 3,000 of BUSY's: a scan budget of ATM terminals holds 125.
  const range = { since: T0 + 7900, until: T0 + 9000, serial: null };
  const inRange = (): string[] => all.filter((e) => e.receivedAt >= range.since && e.receivedAt < range.until).map(idOf).sort();

  it('by key: reads at most the scan budget a page, so a page may be short or empty and still go on, and covers the range once', async () => {
    const { pages, events } = await everyPage(range, 1000, true);
    expect(events.length).toBe(TERMINALS * 5 + 3000);
    expect(events.map(idOf).sort()).toEqual(inRange());
    expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(all.length / SCAN_BUDGET));
    expect(pages.some((p) => p.length < 1000 && p !== pages.at(-1))).toBe(true);
  });

  it('by the time index: full pages in received order, and only the range read', async () => {
    const { pages, events } = await everyPage(range, 1000, false);
    expect(events.map(idOf).sort()).toEqual(inRange());
    expect(pages.slice(0, -1).every((p) => p.length === 1000)).toBe(true);
    const received = events.map((e) => e.receivedAt);
    expect(received).toEqual([...received].sort((a, b) => a - b));
  });

  const busyInRange = (): string[] => all.filter((e) => e.serial === BUSY.serial && e.receivedAt >= range.since && e.receivedAt < range.until).map(idOf).sort();

  it('of one terminal: its events in the range, by its index: full pages in received order', async () => {
    const one = { ...range, serial: BUSY.serial };
    const { pages, events } = await everyPage(one, 500, false);
    expect(pages.map((p) => p.length)).toEqual([500, 500, 500, 500, 500, 500]);
    expect(events.map(idOf).sort()).toEqual(busyInRange());
    const received = events.map((e) => e.receivedAt);
    expect(received).toEqual([...received].sort((a, b) => a - b));
  });

  it('of one terminal, from a cursor by key a server gave before its index: goes on by key to the end of its events, and no further', async () => {
    const one = { ...range, serial: BUSY.serial };
    // In the range, and the first key after BUSY-1's: an export of BUSY-1 that read on would take it.
    const next: CashEventRecord = { serial: `${BUSY.serial}X`, eventId: 'next-serial', currency: 'USD', denomination: 1, count: 1, at: new Date(range.since).toISOString(), receivedAt: range.since };
    await temp.store.atomically(() => temp.store.putCashEventSync(next));
    onTestFinished(() => temp.store.atomically(() => temp.store.removeCashEventSync(next)));
    const keys = all.filter((e) => e.serial === BUSY.serial).map((e) => compositeKey(e.serial, e.eventId)).sort();
    // Where a first page by key stopped: a third of its keys read.
    const after = keys[Math.floor(keys.length / 3)]!;
    const events: CashEventRecord[] = [];
    let from: ScanPosition | null = { by: 'key', after };
    while (from !== null) {
      const page = await receivedBetween(temp.store, one, from, 500);
      events.push(...page.events);
      from = page.next;
    }
    const rest = new Set(all.filter((e) => e.serial === BUSY.serial && compositeKey(e.serial, e.eventId) > after).map(idOf));
    expect(events.map(idOf).sort()).toEqual(busyInRange().filter((id) => rest.has(id)));
  });
});
