/** @module Filling an index from the records it indexes, for a store written before the index (or while it was off). */
import type { Database, Key, RootDatabase } from 'lmdb';
import { entryCount } from './entry-count.js';

/** Told every PROGRESS_EVERY records while an index is filled, and once before: a large store takes seconds. */
export type RebuildProgress = (done: number, total: number) => void;

/** 400,000 cash events took 2.2 s to index by terminal (a throwaway script on this machine, shared): a line every 0.5 s or so. */
export const PROGRESS_EVERY = 100_000;

/**
 * Empties `index` and puts every record of `records` into it with `put`, in one transaction, when their counts differ;
 * returns how many it put (0: nothing to do). Run at start-up, before any thread serves.
 */
export function rebuildIndex<V, K extends Key, R extends Key>(
  root: RootDatabase, index: Database<unknown, K>, records: Database<V, R>, put: (record: V) => void, progress?: RebuildProgress,
): number {
  const total = entryCount(records);
  if (entryCount(index) === total) return 0;
  let written = 0;
  root.transactionSync(() => {
    index.clearSync();
    if (total >= PROGRESS_EVERY) progress?.(0, total);
    for (const { value } of records.getRange()) {
      put(value);
      written++;
      if (written % PROGRESS_EVERY === 0) progress?.(written, total);
    }
  });
  return written;
}
