/** @module Filling an index from the records it indexes, for a store written before the index (or while it was off). */
import type { Database, Key, RootDatabase } from 'lmdb';
import { entryCount } from './entry-count.js';

/**
 * Empties `index` and puts every record of `records` into it with `put`, in one transaction, when their counts differ;
 * returns how many it put (0: nothing to do). Run at start-up, before any thread serves.
 */
export function rebuildIndex<V, K extends Key, R extends Key>(root: RootDatabase, index: Database<unknown, K>, records: Database<V, R>, put: (record: V) => void): number {
  if (entryCount(index) === entryCount(records)) return 0;
  let written = 0;
  root.transactionSync(() => {
    index.clearSync();
    for (const { value } of records.getRange()) {
      put(value);
      written++;
    }
  });
  return written;
}
