/**
 * @module Audit entries by when they were made: a date-bounded `audit.list` seeks to its range instead of reading back
 * through the log. Entries are keyed by their sequence, and `at` does not follow it everywhere: an `interrupted` entry
 * is appended at the next start with its intent's earlier time, and a clock set back writes earlier times later.
 */
import type { Database, RootDatabase } from 'lmdb';
import { rebuildIndex, type IndexEntry } from './index-rebuild.js';
import type { AuditRecord } from './records.js';
import { scanInSlices } from './sliced-scan.js';

type Key = [at: number, seq: number];

const entryOf: IndexEntry<Pick<AuditRecord, 'at' | 'seq'>, Key, true> = (entry) => [[entry.at, entry.seq], true];

/** (at, seq) → nothing, written in the same transaction as the entry (Store.appendAudit). */
export class AuditTimes {
  private readonly db: Database<true, Key>;

  constructor(root: RootDatabase) {
    this.db = root.openDB<true, Key>({ name: 'audit-times' });
  }

  putSync(entry: Pick<AuditRecord, 'at' | 'seq'>): void {
    this.db.putSync(...entryOf(entry));
  }

  /**
   * The sequence numbers of the entries made in [since, until), newest first (by time, then sequence), starting below
   * `from` when given (exclusive: where the last page ended), in slices (sliced-scan.ts); `visit` returns false to stop.
   */
  async newestFirst(range: { since?: number; until?: number; from?: Key }, visit: (seq: number) => boolean): Promise<void> {
    // [until] sorts before every [until, seq]: a reverse read from it starts at the last entry made before `until`.
    const bound: Key | [number] | undefined = range.until === undefined ? undefined : [range.until];
    const start = range.from !== undefined && (bound === undefined || range.from[0] < bound[0]) ? range.from : bound;
    await scanInSlices(this.db as Database<true, Key | [number]>, { ...(start !== undefined && { after: start }), reverse: true }, (key) => {
      if (range.since !== undefined && key[0]! < range.since) return false;
      return visit(key[1]!);
    });
  }

  /**
   * Fills the index from the log itself when it differs from it (a store written before it, or by a build without it:
   * index-rebuild.ts); returns how many entries it wrote. Run once at start-up, before any thread serves.
   */
  rebuildFrom(audit: Database<AuditRecord, number>, root: RootDatabase): number {
    // Append-only, in every version (the hash chain would show a change): the counts are proof enough. The log grows
    // for ever, and reading it whole cost every unsealed start 0.3-0.4 s per 100,000 entries for nothing.
    return rebuildIndex(root, this.db, audit, entryOf, undefined, { appendOnly: true });
  }
}
