/** @module How many entries a table holds, from its B-tree's own count: no scan, whatever the fleet. */

/** lmdb-js types getStats() as {}; at run time it is mdb_stat's fields, `entryCount` among them. */
export function entryCount(db: { getStats(): object }): number {
  return (db.getStats() as { entryCount: number }).entryCount;
}
