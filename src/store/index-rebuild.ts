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
 * What a record puts in its index. The key MUST hold the record's own key (each record its own entry): `wholeIndexes`
 * counts on it to find an entry no record accounts for by the counts alone.
 */
export type IndexEntry<V, K extends Key, E> = (record: V) => [key: K, value: E];

/** An index of records of type V, whatever its own key and value types: what rebuildIndexes needs of it (keptIndex). */
export interface KeptIndex<V> {
  count(): number;
  /** Whether the record's entry is there, with its value. */
  holds(record: V): boolean;
  clearSync(): void;
  putSync(record: V): void;
  progress?: RebuildProgress;
}

export function keptIndex<V, K extends Key, E>(index: Database<E, K>, entryOf: IndexEntry<V, K, E>, progress?: RebuildProgress): KeptIndex<V> {
  return {
    count: () => entryCount(index),
    holds: (record) => {
      const [key, expected] = entryOf(record);
      const held = index.get(key);
      return held !== undefined && isDeepStrictEqual(held, expected);
    },
    clearSync: () => index.clearSync(),
    putSync: (record) => index.putSync(...entryOf(record)),
    progress,
  };
}

/**
 * Empties `index` and puts every record of `records` into it (`entryOf`), in one transaction, when it differs from
 * them; returns how many it put (0: nothing to do). `appendOnly`: no build of any version changes or removes a record
 * once written, nor its entry; then every entry of the index is a record's, as it is, and equal counts prove the index
 * whole with nothing read (a build without the index only adds records, which the counts show). Run at start-up, before
 * any thread serves, and only when the store's seal does not vouch for the index (index-seal.ts). Equal counts are not
 * enough: after a build that does not keep the index wrote and removed records, they can agree while the index holds
 * gone records and lacks new ones, so the index is then compared entry by entry (`wholeIndexes`).
 */
export function rebuildIndex<V, R extends Key, E, K extends Key>(
  root: RootDatabase, index: Database<E, K>, records: Database<V, R>, entryOf: IndexEntry<V, K, E>, progress?: RebuildProgress,
  opts: { appendOnly?: boolean } = {},
): number {
  const kept = keptIndex(index, entryOf, progress);
  return rebuildIndexes(root, records, [kept], opts).get(kept)!;
}

/**
 * rebuildIndex for several indexes of the same records, with one read of the records for all their checks: the cash
 * events' two indexes at an unsealed start, where each read of 2,000,000 events takes seconds. An index that differs is
 * filled in a read of its own, as rebuildIndex fills it. Returns how many entries each was given.
 */
export function rebuildIndexes<V, R extends Key>(root: RootDatabase, records: Database<V, R>, indexes: readonly KeptIndex<V>[], opts: { appendOnly?: boolean } = {}): Map<KeptIndex<V>, number> {
  const total = entryCount(records);
  const large = total >= PROGRESS_EVERY;
  const counted = indexes.filter((index) => index.count() === total);
  const whole = opts.appendOnly === true ? new Set(counted) : wholeIndexes(counted, records, total, large);
  return new Map(indexes.map((index) => [index, whole.has(index) ? 0 : fill(root, index, records, total, large ? index.progress : undefined)]));
}

function fill<V, R extends Key>(root: RootDatabase, index: KeptIndex<V>, records: Database<V, R>, total: number, told: RebuildProgress | undefined): number {
  let written = 0;
  root.transactionSync(() => {
    index.clearSync();
    told?.(0, total, 'filling');
    for (const { value } of records.getRange()) {
      index.putSync(value);
      written++;
      if (written % PROGRESS_EVERY === 0) told?.(written, total, 'filling');
    }
  });
  return written;
}

/**
 * Which of `indexes` hold exactly the entries of `records`, given that each holds `total`: every record's entry is there
 * with its value, one read of the records for all of them. The other way round needs no second pass: the records'
 * entries are `total` distinct keys (each holds its record's key), so an index of `total` entries holding all of them
 * holds nothing else. An index found wrong is left out of the rest of the read; the read ends when none is left.
 */
function wholeIndexes<V, R extends Key>(indexes: readonly KeptIndex<V>[], records: Database<V, R>, total: number, large: boolean): Set<KeptIndex<V>> {
  const whole = [...indexes];
  if (whole.length === 0) return new Set();
  const told = (done: number): void => {
    if (large) for (const index of whole) index.progress?.(done, total, 'checking');
  };
  told(0);
  let checked = 0;
  for (const { value } of records.getRange()) {
    for (let i = whole.length - 1; i >= 0; i--) if (!whole[i]!.holds(value)) whole.splice(i, 1);
    if (whole.length === 0) break;
    checked++;
    if (checked % PROGRESS_EVERY === 0) told(checked);
  }
  return new Set(whole);
}
