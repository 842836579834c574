/** @module Pairing requests in the order they were made: newest-first pages for operators, and the recent stretch that holds every pending request. */
import type { Database, RootDatabase } from 'lmdb';
import { AppError } from '../errors.js';
import type { PairingStage, PairingState } from '../protocol/types.js';
import type { PairingRecord } from './records.js';
import { scanInSlices } from './sliced-scan.js';
import { rebuildIndex, type IndexEntry } from './index-rebuild.js';

/**
 * The longest a pairing request can stay pending (`--pairing-ttl` is bounded by it): every request still pending was
 * made less than this long ago, so filling the index of those waiting (awaiting-operator.ts) reads only that stretch
 * of the timeline, whatever the history.
 */
export const MAX_PAIRING_TTL_SEC = 7 * 24 * 3600;

export interface TimelineEntry {
  requestedAt: number;
  requestId: string;
  serial: string;
  /**
   * The request as of its last write: its state (a `pending` past `expiresAt` reads as expired) and stage, so that a
   * listing of one state reads only the requests it shows. Absent in entries a store from before wrote (the serial only).
   */
  summary?: { state: PairingState; stage: PairingStage; expiresAt: number };
}

/** What an entry holds: the serial alone as stores from before wrote it, or the serial and the request's summary. */
type Value = string | [serial: string, state: PairingState, stage: PairingStage, expiresAt: number];

function entryOf([requestedAt, requestId]: Key, value: Value): TimelineEntry {
  if (typeof value === 'string') return { requestedAt, requestId, serial: value };
  const [serial, state, stage, expiresAt] = value;
  return { requestedAt, requestId, serial, summary: { state, stage, expiresAt } };
}

/** Where a newest-first page ended: the next page starts just before it. Opaque to clients. */
export type TimelineCursor = string;

type Key = [number, string];

const timelineEntry: IndexEntry<PairingRecord, Key, Value> = (record) => [[record.requestedAt, record.requestId], [record.serial, record.state, record.stage, record.expiresAt]];

const CURSOR = /^(\d{1,15})~(pr_[A-Za-z0-9_-]{1,64})$/;

export function timelineCursor(entry: Pick<TimelineEntry, 'requestedAt' | 'requestId'>): TimelineCursor {
  return `${entry.requestedAt}~${entry.requestId}`;
}

export function parseCursor(cursor: TimelineCursor): [requestedAt: number, requestId: string] {
  const match = CURSOR.exec(cursor);
  if (!match) throw new AppError('invalid_field', 'before: not a cursor this server gave (pass the previous page\'s next as it is)');
  return [Number(match[1]), match[2]!];
}

/**
 * (requestedAt, requestId) → serial and summary, written in the same transaction as every write of the request itself
 * (`putSync`/`removeSync` beside `pairing.putSync`/`removeSync`). Requests are keyed by a random id, so without it every listing read and
 * sorted the whole history: 4.3 MB and 200 ms for 10,000 paired terminals, ten times that for 100,000.
 */
export class PairingTimeline {
  private readonly db: Database<Value, Key>;

  constructor(root: RootDatabase) {
    this.db = root.openDB<Value, Key>({ name: 'pairing-timeline' });
  }

  /** Beside every write of a request (its key never changes: `requestedAt` is set once). */
  putSync(record: PairingRecord): void {
    this.db.putSync(...timelineEntry(record));
  }

  removeSync(record: Pick<PairingRecord, 'requestedAt' | 'requestId'>): void {
    this.db.removeSync([record.requestedAt, record.requestId]);
  }

  /** Newest first, from just before `before` (the whole history without it), in slices (sliced-scan.ts); `visit` returns false to stop. */
  async newestFirst(before: TimelineCursor | undefined, visit: (entry: TimelineEntry) => boolean): Promise<void> {
    const after = before === undefined ? undefined : parseCursor(before);
    await scanInSlices(this.db, { ...(after && { after }), reverse: true }, (key, value) => visit(entryOf(key, value)));
  }

  /**
   * Up to `limit` entries, oldest first, made before `before` and after the entry `after` (exclusive) when given: one
   * short read, for the history's retention (pairing-history.ts).
   */
  oldest(before: number, limit: number, after?: TimelineEntry): TimelineEntry[] {
    const entries: TimelineEntry[] = [];
    const start: Key | undefined = after && [after.requestedAt, after.requestId];
    const range = this.db.getRange({ ...(start && { start }), limit: limit + 1 });
    for (const { key, value } of range) {
      const [requestedAt, requestId] = key;
      if (after && requestedAt === after.requestedAt && requestId === after.requestId) continue;
      if (entries.length === limit || requestedAt >= before) break;
      entries.push(entryOf(key, value));
    }
    return entries;
  }

  /** Newest first back to the requests made at `since`, in one read: at start-up, before any thread serves. */
  *recent(since: number): IterableIterator<TimelineEntry> {
    for (const { key, value } of this.db.getRange({ reverse: true })) {
      if (key[0] < since) return;
      yield entryOf(key, value);
    }
  }

  /**
   * Fills the timeline from the requests themselves when it differs from them (a store written before it, or by a build
   * without it: index-rebuild.ts); returns how many entries it wrote. Run once at start-up, before any thread serves.
   * Entries a store from before wrote (the serial only) differ, and are written again with their summary.
   */
  rebuildFrom(pairing: Database<PairingRecord, string>, root: RootDatabase): number {
    return rebuildIndex(root, this.db, pairing, timelineEntry);
  }
}
