/** @module Long reads in slices: a search that matches nothing reads a whole table, and the thread doing it also serves every operator and watches the front threads. */
import type { Database, Key } from 'lmdb';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Entries read between turns of the event loop: about 5 ms of decoding terminal records. */
export const SLICE = 2000;

const sameKey = (a: Key, b: Key): boolean =>
  Array.isArray(a) && Array.isArray(b) ? a.length === b.length && a.every((part, i) => part === b[i]) : a === b;

/**
 * Calls `visit` for each entry after `after` (exclusive) in key order, or reverse order, until it returns false or the
 * table ends. Each slice is its own short read, begun where the last ended, so no read transaction spans a turn of
 * the event loop; an entry written meanwhile is seen or not depending on where it falls, as in any paged listing.
 */
export async function scanInSlices<V, K extends Key>(
  db: Database<V, K>, opts: { after?: K; reverse?: boolean }, visit: (key: K, value: V) => boolean,
): Promise<void> {
  let after = opts.after;
  for (;;) {
    let read = 0;
    let last: K | undefined;
    const range = db.getRange({ ...(after !== undefined && { start: after }), reverse: opts.reverse ?? false, limit: SLICE + 1 });
    for (const { key, value } of range) {
      if (after !== undefined && sameKey(key, after)) continue;
      read++;
      last = key;
      if (!visit(key, value)) return;
      if (read === SLICE) break;
    }
    if (read < SLICE || last === undefined) return;
    after = last;
    await nextTurn();
  }
}
