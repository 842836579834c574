/**
 * @module One terminal's cash events in the order they were received: what `cash.list` pages through, newest first, and
 * what a per-terminal export reads. The events are keyed by (serial, eventId) for their idempotency, and event ids say
 * nothing of time, so without it every page read all of the terminal's events.
 */
import type { Database, RangeOptions, RootDatabase } from 'lmdb';
import { keptIndex, type IndexEntry, type KeptIndex, type RebuildProgress } from './index-rebuild.js';
import type { CashEventRecord } from './records.js';

type Key = [serial: string, receivedAt: number, eventId: string];

/** A place in one terminal's events: events received in the same millisecond are ordered by event id. */
export type SerialEventPosition = Pick<CashEventRecord, 'receivedAt' | 'eventId'>;

/** Above every receivedAt: `[serial, TOP]` bounds the newest end of a terminal's range. */
const TOP = Infinity;

const entryOf: IndexEntry<Pick<CashEventRecord, 'serial' | 'receivedAt' | 'eventId'>, Key, true> = (event) => [[event.serial, event.receivedAt, event.eventId], true];

/**
 * (serial, receivedAt, eventId) → nothing, written in the same transaction as the event (Store.putCashEventSync) and
 * removed with it (Store.removeCashEventSync): a terminal delete keeps both (DECISIONS.md, Delete).
 */
export class CashEventsBySerial {
  private readonly db: Database<true, Key>;

  constructor(root: RootDatabase) {
    this.db = root.openDB<true, Key>({ name: 'cash-events-by-serial' });
  }

  putSync(event: Pick<CashEventRecord, 'serial' | 'receivedAt' | 'eventId'>): void {
    this.db.putSync(...entryOf(event));
  }

  removeSync(event: Pick<CashEventRecord, 'serial' | 'receivedAt' | 'eventId'>): void {
    this.db.removeSync([event.serial, event.receivedAt, event.eventId]);
  }

  /** Up to `limit` of the terminal's events received before `before` (exclusive; null: its newest), newest first. */
  newest(serial: string, before: SerialEventPosition | null, limit: number): SerialEventPosition[] {
    const start = before === null ? ([serial, TOP] as unknown as Key) : [serial, before.receivedAt, before.eventId] as Key;
    return this.positions({ start, end: [serial] as unknown as Key, reverse: true, exclusiveStart: before !== null }, limit);
  }

  /** Up to `limit` of the terminal's events received in [since, until), oldest first, after `after` (exclusive) when given. */
  between(serial: string, since: number, until: number, after: SerialEventPosition | null, limit: number): SerialEventPosition[] {
    const start = after === null ? ([serial, since] as unknown as Key) : [serial, after.receivedAt, after.eventId] as Key;
    return this.positions({ start, end: [serial, until] as unknown as Key, exclusiveStart: after !== null }, limit);
  }

  /** The places in a range of the index; a cursor's own entry is left out by lmdb (`exclusiveStart`), gone or not. */
  private positions(range: RangeOptions, limit: number): SerialEventPosition[] {
    const events: SerialEventPosition[] = [];
    for (const [, receivedAt, eventId] of this.db.getKeys({ ...range, limit })) events.push({ receivedAt, eventId });
    return events;
  }

  /** Empties it, with the events (the fleet benchmark's store between runs). Inside `atomically`. */
  clearSync(): void {
    this.db.clearSync();
  }

  /**
   * The index as rebuildIndexes checks and fills it from the events themselves (a store written before it, or by a build
   * without it: index-rebuild.ts), with the other cash index in the same read. Once at start-up, before any thread serves.
   */
  kept(progress?: RebuildProgress): KeptIndex<CashEventRecord> {
    return keptIndex(this.db, entryOf, progress);
  }
}
