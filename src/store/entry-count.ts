/**
 * @module How many entries a table holds, and whether it holds any from a key on: no scan, whatever the fleet.
 * Not lmdb-js's `getKeysCount({ limit: 1 })`, which reads like a one-key check and is not: the count ignores `limit`
 * and walks every key. The pruner asked it of each nonce slot every minute; on a server's main thread a slot of a
 * 100,000-terminal store took 95 ms to count, and the first prune after a start, with five slots of an earlier run
 * due, held the main thread for 708 ms (bench/JOURNAL.md, session 42).
 */
import type { Database } from 'lmdb';

/** lmdb-js types getStats() as {}; at run time it is mdb_stat's fields, `entryCount` among them. */
export function entryCount(db: { getStats(): object }): number {
  return (db.getStats() as { entryCount: number }).entryCount;
}

/** True when `db` holds a key at or after `start`: reads at most one key, however many follow. */
export function holdsKeyFrom<K extends string | number>(db: Database<unknown, K>, start: K): boolean {
  for (const _key of db.getKeys({ start, limit: 1 })) return true;
  return false;
}
