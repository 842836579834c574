/**
 * @module Cash events a page at a time, for operators (admin/cash-ops.ts): one terminal's newest first, and every
 * event received in a time range, for an export. Events are keyed by (serial, eventId) for their idempotency, so what a
 * page costs depends on the question; each function says it.
 */
import type { Database } from 'lmdb';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { CashEventTime } from './cash-event-times.js';
import { AFTER_SEP, SEP, compositeKey, keyText } from './composite-key.js';
import type { CashEventRecord } from './records.js';
import { SLICE } from './sliced-scan.js';
import type { Store } from './store.js';

/** Events read at most for one page of an export without the time index: 14–19 ms when none matches, in 5 slices. */
export const SCAN_BUDGET = 10_000;

/** A place in one terminal's events, newest first: a page holds the events strictly older. */
export interface EventPosition {
  receivedAt: number;
  eventId: string;
}

/** Where an export's next page starts: after an entry of the time index, or after a key of the events themselves. */
export type ScanPosition = { by: 'time'; after: CashEventTime } | { by: 'key'; after: string };

export interface ReceivedRange {
  /** Received at or after, epoch ms. */
  since: number;
  /** Received before, epoch ms. */
  until: number;
  /** One terminal's events only. */
  serial: string | null;
}

/** Newest first by the server's clock; events received in the same millisecond by event id, last first. */
const newestFirst = (a: EventPosition, b: EventPosition): number =>
  a.receivedAt !== b.receivedAt ? b.receivedAt - a.receivedAt : a.eventId < b.eventId ? 1 : a.eventId > b.eventId ? -1 : 0;

/** Whether a terminal has sent any event: a deleted terminal's events stay (DECISIONS.md, Delete), and can be read. */
export function hasCashEvents(store: Store, serial: string): boolean {
  for (const _ of store.withPrefix(store.cashEvents, serial)) return true;
  return false;
}

/**
 * One terminal's events older than `before`, newest first. Cost: every event of that one terminal is read (its keys
 * are in event id order, which says nothing of time), in slices of 2,000 with a turn of the event loop between them,
 * keeping at most 2 × `limit` in memory; never another terminal's. A terminal sending 50 events a day has 18,250 a
 * year: a page took 31–99 ms (median 43) among 218,250 events, one with 100 events 0.3 ms (a throwaway script on this
 * machine, shared); `--cash-event-days` bounds it. An index by (serial, receivedAt) would make it `limit` reads, at
 * the price of a second write for every event master stores (DECISIONS.md).
 */
export async function newestOfSerial(store: Store, serial: string, before: EventPosition | null, limit: number): Promise<{ events: CashEventRecord[]; more: boolean }> {
  const kept: CashEventRecord[] = [];
  await scanKeys(store.cashEvents, serial, null, Infinity, (_key, record) => {
    if (before !== null && newestFirst(record, before) <= 0) return true;
    kept.push(record);
    if (kept.length >= 2 * (limit + 1)) {
      kept.sort(newestFirst);
      kept.length = limit + 1;
    }
    return true;
  });
  kept.sort(newestFirst);
  return { events: kept.slice(0, limit), more: kept.length > limit };
}

/**
 * One page of the events received in `range`, from `from` on (null: the start), and where the next page starts (null:
 * none). Cost of a page:
 * - one terminal's (`serial`): at most SCAN_BUDGET of its events read, in key (event id) order;
 * - with the time index (`--cash-event-days`): `limit` + 1 index entries and `limit` events, in received order (a page
 *   of 1,000: 5–18 ms);
 * - without it: at most SCAN_BUDGET events read, in key (serial, event id) order, whatever matches (a page of 1,000
 *   that all match: 1.4–6.5 ms; none matching: 14–19 ms). A page may then be
 *   short, or empty, and still have a next one: a client follows `next` until it is null. The whole export reads every
 *   event once, a page at a time.
 * A cursor of the time index on a server started since without it (the index is then behind) is `invalid_state`.
 */
export async function receivedBetween(store: Store, range: ReceivedRange, from: ScanPosition | null, limit: number): Promise<{ events: CashEventRecord[]; next: ScanPosition | null }> {
  const byTime = from === null ? range.serial === null && store.indexesCashEventTimes : from.by === 'time';
  if (byTime) {
    if (!store.indexesCashEventTimes) return { events: [], next: null };
    const entries = store.cashEventTimes.between(range.since, range.until, from?.by === 'time' ? from.after : null, limit + 1);
    const page = entries.slice(0, limit);
    const events: CashEventRecord[] = [];
    for (const entry of page) {
      // Forgotten by a retention run between the two reads: not an event any more.
      const record = store.cashEvents.get(compositeKey(entry.serial, entry.eventId));
      if (record) events.push(record);
    }
    return { events, next: entries.length > limit ? { by: 'time', after: page[page.length - 1]! } : null };
  }
  const events: CashEventRecord[] = [];
  const last = await scanKeys(store.cashEvents, range.serial, from?.by === 'key' ? from.after : null, SCAN_BUDGET, (_key, record) => {
    if (record.receivedAt >= range.since && record.receivedAt < range.until) events.push(record);
    return events.length < limit;
  });
  return { events, next: last === null ? null : { by: 'key', after: last } };
}

/**
 * Visits the events after the key `after` (exclusive), in key order, all of them or one serial's, until `visit` returns
 * false or `budget` were read; returns the last key read when it stopped before the end, else null. Each slice is its
 * own short read (as sliced-scan.ts), so no read transaction spans a turn of the event loop.
 */
async function scanKeys(
  db: Database<CashEventRecord, string>, serial: string | null, after: string | null, budget: number, visit: (key: string, record: CashEventRecord) => boolean,
): Promise<string | null> {
  // Both of lmdb's encodings of a composite key begin with the serial's bytes (composite-key.ts), so the prefix bounds them.
  const prefix = serial === null ? null : serial + SEP;
  let resume = after;
  let read = 0;
  for (;;) {
    let inSlice = 0;
    const start = resume ?? serial;
    const range = db.getRange({ ...(start !== null && { start }), ...(serial !== null && { end: serial + AFTER_SEP }), limit: SLICE + 1 });
    for (const { key, value } of range) {
      const text = keyText(key);
      if (text === resume) continue;
      inSlice++;
      resume = text;
      if (prefix !== null && !text.startsWith(prefix)) continue;
      read++;
      if (!visit(text, value) || read >= budget) return text;
      if (inSlice === SLICE) break;
    }
    if (inSlice < SLICE) return null;
    await nextTurn();
  }
}
