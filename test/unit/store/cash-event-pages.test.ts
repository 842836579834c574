/**
 * @module The pages of cash events operators read, on a real store larger than one slice and one scan budget: one
 * terminal's newest first across slices, and an export's pages by key (short or empty pages that still go on) and by
 * the time index, each covering the range once.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newestOfSerial, receivedBetween, SCAN_BUDGET, type ReceivedRange, type ScanPosition } from '../../../src/store/cash-event-pages.js';
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

describe('one terminal\'s cash events, newest first', () => {
  it('pages across slices without losing or repeating one, in received order', async () => {
    const expected = all.filter((e) => e.serial === BUSY.serial)
      .sort((a, b) => b.receivedAt - a.receivedAt || (a.eventId < b.eventId ? 1 : -1)).map(idOf);
    const seen: string[] = [];
    let before = null;
    for (;;) {
      const { events, more } = await newestOfSerial(temp.store, BUSY.serial, before, 700);
      seen.push(...events.map(idOf));
      if (!more) break;
      const last = events.at(-1)!;
      before = { receivedAt: last.receivedAt, eventId: last.eventId };
    }
    expect(seen).toEqual(expected);
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

  it('of one terminal: its events in the range, by key', async () => {
    const one = { ...range, serial: BUSY.serial };
    const { events } = await everyPage(one, 500, false);
    expect(events.length).toBe(3000);
    expect(events.map(idOf).sort()).toEqual(all.filter((e) => e.serial === BUSY.serial && e.receivedAt >= range.since && e.receivedAt < range.until).map(idOf).sort());
  });
});
