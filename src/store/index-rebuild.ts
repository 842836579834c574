/** @module Filling an index from the records it indexes, for a store written before the index, while it was off, or by a build that does not keep it. */
import { isDeepStrictEqual } from 'node:util';
import type { Database, Key, RootDatabase } from 'lmdb';
import { entryCount } from './entry-count.js';

/**
 * Told every PROGRESS_EVERY records while an index of a large store is checked or filled, and once before: it takes
 * seconds. `checking`: compared entry by entry (the store was not sealed, index-seal.ts); `filling`: written anew.
 */
export type RebuildProgress = (done: number, total: number, phase: 'checking' | 'filling') => void;

/** 400,000 cash events took 2.2 s to index by terminal (a throwaway script on this machine, shared): a line every 0.5 s or so. */
export const PROGRESS_EVERY = 100_000;

/**
 * What a record puts in its index. The key MUST hold the record's own key (each record its own entry): `indexMatches`
 * counts on it to find an entry no record accounts for by the counts alone.
 */
export type IndexEntry<V, K extends Key, E> = (record: V) => [key: K, value: E];

/**
 * Empties `index` and puts every record of `records` into it (`entryOf`), in one transaction, when it differs from
 * them; returns how many it put (0: nothing to do). `appendOnly`: no build of any version changes or removes a record
 * once written, nor its entry; then every entry of the index is a record's, as it is, and equal counts prove the index
 * whole with nothing read (a build without the index only adds records, which the counts show). Run at start-up, before
 * any thread serves, and only when the store's seal does not vouch for the index (index-seal.ts). Equal counts are not
 * enough: after a build that does not keep the index wrote and removed records, they can agree while the index holds
 * gone records and lacks new ones, so the index is then compared entry by entry (`indexMatches`).
 */
export function rebuildIndex<V, R extends Key, E, K extends Key>(
  root: RootDatabase, index: Database<E, K>, records: Database<V, R>, entryOf: IndexEntry<V, K, E>, progress?: RebuildProgress,
  opts: { appendOnly?: boolean } = {},
): number {
  const total = entryCount(records);
  const told = total >= PROGRESS_EVERY ? progress : undefined;
  if (entryCount(index) === total && (opts.appendOnly === true || indexMatches(index, records, entryOf, total, told))) return 0;
  let written = 0;
  root.transactionSync(() => {
    index.clearSync();
    told?.(0, total, 'filling');
    for (const { value } of records.getRange()) {
      index.putSync(...entryOf(value));
      written++;
      if (written % PROGRESS_EVERY === 0) told?.(written, total, 'filling');
    }
  });
  return written;
}

/**
 * Whether `index` holds exactly the entries of `records`, given that both hold `total`: every record's entry is there
 * with its value, one read each. The other way round needs no second pass: the records' entries are `total` distinct
 * keys (each holds its record's key), so an index of `total` entries holding all of them holds nothing else.
 */
function indexMatches<V, R extends Key, E, K extends Key>(index: Database<E, K>, records: Database<V, R>, entryOf: IndexEntry<V, K, E>, total: number, told: RebuildProgress | undefined): boolean {
  told?.(0, total, 'checking');
  let checked = 0;
  for (const { value } of records.getRange()) {
    const [key, expected] = entryOf(value);
    const held = index.get(key);
    if (held === undefined || !isDeepStrictEqual(held, expected)) return false;
    checked++;
    if (checked % PROGRESS_EVERY === 0) told?.(checked, total, 'checking');
  }
  return true;
}
