/**
 * @module Cash events in the order they were received: what `--cash-event-days` forgets, read from the oldest end. The
 * events are keyed by (serial, eventId) for their idempotency, so without it a retention run read every event.
 */
import type { Database, RootDatabase } from 'lmdb';
import { keptIndex, type IndexEntry, type KeptIndex, type RebuildProgress } from './index-rebuild.js';
import type { CashEventRecord } from './records.js';

type Key = [receivedAt: number, serial: string, eventId: string];

export type CashEventTime = Pick<CashEventRecord, 'receivedAt' | 'serial' | 'eventId'>;

const entryOf: IndexEntry<CashEventTime, Key, true> = (event) => [[event.receivedAt, event.serial, event.eventId], true];

/** (receivedAt, serial, eventId) → nothing, written in the same transaction as the event (Store.putCashEventSync). */
export class CashEventTimes {
  private readonly db: Database<true, Key>;

  constructor(root: RootDatabase) {
    this.db = root.openDB<true, Key>({ name: 'cash-event-times' });
  }

  putSync(event: CashEventTime): void {
    this.db.putSync(...entryOf(event));
  }

  removeSync(event: CashEventTime): void {
    this.db.removeSync([event.receivedAt, event.serial, event.eventId]);
  }

  /** Up to `limit` events received before `before`, oldest first: one short read per batch of a retention run. */
  oldest(before: number, limit: number): CashEventTime[] {
    const events: CashEventTime[] = [];
    for (const key of this.db.getKeys({ end: [before], limit })) {
      const [receivedAt, serial, eventId] = key;
      events.push({ receivedAt, serial, eventId });
    }
    return events;
  }

  /**
   * Up to `limit` events received in [since, until), oldest first, starting after `after` (exclusive) when given: one
   * short read per page of an export (admin/cash-ops.ts), whatever the store holds outside the range.
   */
  between(since: number, until: number, after: CashEventTime | null, limit: number): CashEventTime[] {
    const start: Key = after === null ? ([since] as unknown as Key) : [after.receivedAt, after.serial, after.eventId];
    const events: CashEventTime[] = [];
    for (const key of this.db.getKeys({ start, end: [until] as unknown as Key, limit: limit + 1 })) {
      const [receivedAt, serial, eventId] = key;
      if (after !== null && receivedAt === after.receivedAt && serial === after.serial && eventId === after.eventId) continue;
      if (events.length === limit) break;
      events.push({ receivedAt, serial, eventId });
    }
    return events;
  }

  /** Empties it, with the events (the fleet benchmark's store between runs). Inside `atomically`. */
  clearSync(): void {
    this.db.clearSync();
  }

  /**
   * The index as rebuildIndexes checks and fills it from the events themselves (a store written before it, while it was
   * off, or by a build without it: index-rebuild.ts), with the other cash index in the same read. Once at start-up,
   * before any thread serves.
   */
  kept(progress?: RebuildProgress): KeptIndex<CashEventRecord> {
    return keptIndex(this.db, entryOf, progress);
  }
}
