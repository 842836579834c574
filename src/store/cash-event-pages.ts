/**
 * @module Cash events a page at a time, for operators (admin/cash-ops.ts): one terminal's newest first, and every
 * event received in a time range, for an export. Events are keyed by (serial, eventId) for their idempotency, so what a
 * page costs depends on the question; each function says it.
 */
import type { CashEventTime } from './cash-event-times.js';
import type { SerialEventPosition } from './cash-events-by-serial.js';
import { SEP, compositeKey, keyText } from './composite-key.js';
import type { CashEventRecord } from './records.js';
import { scanInSlices } from './sliced-scan.js';
import type { Store } from './store.js';

/** Events read at most for one page of an export without the time index: 14–19 ms when none matches, in 5 slices. */
export const SCAN_BUDGET = 10_000;

/** A place in one terminal's events, newest first: a page holds the events strictly older. */
export type EventPosition = SerialEventPosition;

/**
 * Where an export's next page starts: after an entry of the time index, after one of a terminal's index (an export of
 * one terminal), or after a key of the events themselves (the whole fleet's, without the time index; and a cursor of
 * one terminal's export that a server before its index gave, which goes on by key).
 */
export type ScanPosition = { by: 'time'; after: CashEventTime } | { by: 'serial'; after: SerialEventPosition } | { by: 'key'; after: string };

export interface ReceivedRange {
  /** Received at or after, epoch ms. */
  since: number;
  /** Received before, epoch ms. */
  until: number;
  /** One terminal's events only. */
  serial: string | null;
}

/** Whether a terminal has sent any event: a deleted terminal's events stay (DECISIONS.md, Delete), and can be read. */
export function hasCashEvents(store: Store, serial: string): boolean {
  for (const _ of store.withPrefix(store.cashEvents, serial)) return true;
  return false;
}

/** The events an index's entries name, in their order, skipping any a retention run forgot between the two reads. */
function eventsAt(store: Store, entries: readonly { serial: string; eventId: string }[]): CashEventRecord[] {
  const events: CashEventRecord[] = [];
  for (const { serial, eventId } of entries) {
    const record = store.cashEvents.get(compositeKey(serial, eventId));
    if (record) events.push(record);
  }
  return events;
}

/** Places in one terminal's index, as entries naming their events. */
const ofSerial = (serial: string, positions: readonly SerialEventPosition[]): { serial: string; eventId: string }[] =>
  positions.map(({ eventId }) => ({ serial, eventId }));

/**
 * One terminal's events older than `before`, newest first; events received in the same millisecond by event id, last
 * first. Cost: `limit` + 1 entries of the terminal's index (cash-events-by-serial.ts) and `limit` events, whatever the
 * terminal's age. Among 300,000 events of one terminal, a page of 100 took 0.24–8.2 ms (medians 0.40–0.71) where
 * reading them all took 505–644 ms (medians 541–556), a page of 1,000 2.2–40 ms (medians 3.4–4.5) where it took
 * 587–1,018 ms (median 789): a throwaway script on this machine, shared and loaded (DECISIONS.md).
 */
export function newestOfSerial(store: Store, serial: string, before: EventPosition | null, limit: number): { events: CashEventRecord[]; more: boolean } {
  const positions = store.cashEventsBySerial.newest(serial, before, limit + 1);
  return { events: eventsAt(store, ofSerial(serial, positions.slice(0, limit))), more: positions.length > limit };
}

/**
 * One page of the events received in `range`, from `from` on (null: the start), and where the next page starts (null:
 * none). Cost of a page:
 * - one terminal's (`serial`): `limit` + 1 entries of its index and `limit` events, in received order;
 * - with the time index (`--cash-event-days`): `limit` + 1 index entries and `limit` events, in received order (a page
 *   of 1,000: 5–18 ms);
 * - without it: at most SCAN_BUDGET events read, in key (serial, event id) order, whatever matches (a page of 1,000
 *   that all match: 1.4–6.5 ms; none matching: 14–19 ms). A page may then be
 *   short, or empty, and still have a next one: a client follows `next` until it is null. The whole export reads every
 *   event once, a page at a time.
 * A cursor of the time index on a server started since without it (the index is then behind) is `invalid_state`.
 */
export async function receivedBetween(store: Store, range: ReceivedRange, from: ScanPosition | null, limit: number): Promise<{ events: CashEventRecord[]; next: ScanPosition | null }> {
  const by = from?.by ?? (range.serial !== null ? 'serial' : store.indexesCashEventTimes ? 'time' : 'key');
  if (by === 'serial') {
    if (range.serial === null) return { events: [], next: null };
    const positions = store.cashEventsBySerial.between(range.serial, range.since, range.until, from?.by === 'serial' ? from.after : null, limit + 1);
    const page = positions.slice(0, limit);
    return { events: eventsAt(store, ofSerial(range.serial, page)), next: positions.length > limit ? { by: 'serial', after: page[page.length - 1]! } : null };
  }
  if (by === 'time') {
    if (!store.indexesCashEventTimes) return { events: [], next: null };
    const entries = store.cashEventTimes.between(range.since, range.until, from?.by === 'time' ? from.after : null, limit + 1);
    const page = entries.slice(0, limit);
    return { events: eventsAt(store, page), next: entries.length > limit ? { by: 'time', after: page[page.length - 1]! } : null };
  }
  return byKey(store, range, from?.by === 'key' ? from.after : null, limit);
}

/**
 * A page of an export in key order: the events after the key `after` (exclusive; null: the first), at most SCAN_BUDGET
 * read. With `range.serial`, only a cursor a server gave before the terminals' index gets here: it goes on by key to the
 * end of that terminal's keys, as it began.
 */
async function byKey(store: Store, range: ReceivedRange, after: string | null, limit: number): Promise<{ events: CashEventRecord[]; next: ScanPosition | null }> {
  // Both of lmdb's encodings of a composite key begin with the serial's bytes (composite-key.ts): from the serial on,
  // the first key without its prefix is past its last.
  const prefix = range.serial === null ? null : range.serial + SEP;
  const events: CashEventRecord[] = [];
  let read = 0;
  /** The last key read, when the page stopped before the end. */
  let stoppedAt: string | null = null;
  await scanInSlices(store.cashEvents, { after: after ?? range.serial ?? undefined }, (key, record) => {
    const text = keyText(key);
    // The cursor's own key, read back in the other encoding than the string it was kept as: scanInSlices cannot tell.
    if (text === after) return true;
    if (prefix !== null && !text.startsWith(prefix)) return false;
    read++;
    if (record.receivedAt >= range.since && record.receivedAt < range.until) events.push(record);
    if (events.length < limit && read < SCAN_BUDGET) return true;
    stoppedAt = text;
    return false;
  });
  return { events, next: stoppedAt === null ? null : { by: 'key', after: stoppedAt } };
}
