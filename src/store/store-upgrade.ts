/** @module What a store written by an older version needs before any thread serves: its nonces moved into the ring, and the indexes added since filled in or, unsealed, checked. */
import { entryCount } from './entry-count.js';
import { breakSeal, KEPT_INDEXES, type SealedIndex } from './index-seal.js';
import { rebuildIndexes, type KeptIndex, type RebuildProgress } from './index-rebuild.js';
import type { CashEventRecord } from './records.js';
import { foldSerial, keyText, type Store } from './store.js';

export interface StoreUpgrade {
  /**
   * Whether indexes were checked entry by entry: the store had no intact seal of a clean stop naming each index this
   * version keeps (index-seal.ts). False: the seal vouched for them, and only what it did not vouch for was looked at.
   */
  verified: boolean;
  /** Live nonces moved from the table kept before the nonce ring. */
  nonces: number;
  /** Terminals added to the case-folded serial index, and entries of gone terminals removed from it. */
  foldedSerials: number;
  /** Terminals given a search entry. */
  searchEntries: number;
  /** Pairing requests placed in the timeline. */
  timeline: number;
  /** Requests found waiting for an operator when that index was filled (once per store, with the timeline, or unsealed). */
  awaiting: number;
  /** Cash events placed in their time index. */
  cashEventTimes: number;
  /** Cash events placed among their terminal's, by time. */
  cashEventsBySerial: number;
  /** Audit entries placed in their time index. */
  auditTimes: number;
}

/** Told while an index of a large store is checked or filled (index-rebuild.ts): which index, how far, and which of the two. */
export type UpgradeProgress = (index: 'cashEventTimes' | 'cashEventsBySerial', done: number, total: number, phase: Parameters<RebuildProgress>[2]) => void;

/**
 * Run once at start-up, before any thread serves: an upgrade must not reopen replay windows, nor let an operator create
 * a serial that differs from an existing one only in case. Each step does nothing on a store that needs none of it.
 * `progress` hears of the steps that can take seconds: the cash events are the store's bulk.
 *
 * Without an intact seal every index is checked entry by entry: a build that does not keep one (an older version
 * after a downgrade) may have written and removed records while the counts stayed equal (index-seal.ts). With it, the
 * indexes it vouches for are not read at all.
 */
export function upgradeStore(store: Store, nowSec: number, clockSkewSec: number, progress?: UpgradeProgress): StoreUpgrade {
  // MUST come first: every other step may write, and the seal is compared with the store's last write.
  const seal = breakSeal(store);
  const vouched = (index: SealedIndex): boolean => seal?.indexes.has(index) ?? false;
  const told = (index: Parameters<UpgradeProgress>[0]): RebuildProgress | undefined => progress && ((done, total, phase) => progress(index, done, total, phase));
  const timeline = vouched('pairingTimeline') ? 0 : store.pairingTimeline.rebuildFrom(store.pairing, store.root);
  // Only while kept: written only then, the index is behind whenever --cash-event-days was off, and is caught up here;
  // checked whole when the sealing run did not keep it, however the counts stand.
  const byTime = store.indexesCashEventTimes && !vouched('cashEventTimes') ? store.cashEventTimes.kept(told('cashEventTimes')) : null;
  const bySerial = vouched('cashEventsBySerial') ? null : store.cashEventsBySerial.kept(told('cashEventsBySerial'));
  // Both checked in one read of the events: each read of 2,000,000 took ~2.5 s of an unsealed start.
  const cash = rebuildIndexes(store.root, store.cashEvents, [byTime, bySerial].filter((index) => index !== null));
  const filled = (index: KeptIndex<CashEventRecord> | null): number => (index === null ? 0 : cash.get(index)!);
  return {
    verified: KEPT_INDEXES.some((index) => !vouched(index)),
    nonces: migrateNonces(store, nowSec, clockSkewSec),
    foldedSerials: vouched('foldedSerials') ? 0 : indexFoldedSerials(store),
    searchEntries: vouched('terminalSearch') ? 0 : store.terminalSearch.rebuildFrom(store.terminals, store.root),
    timeline,
    // Filled on its own marker, not with the timeline: the two came 19 commits apart, and a store written by a build in
    // between had a full timeline and an empty index, which nothing filled (requests waiting were missing from
    // pairing.list). A store that needed its timeline needs this too (a copy restored without its settings, say), and
    // so does an unsealed one: a build without this index may have written requests since.
    // Not at every start: it reads each request of the last 7 days, and after a week that paired 10,000 terminals
    // those pages of the store added 31-59 MiB to the server's RSS at start-up (bench/RESULTS.md, idle terminals).
    awaiting: timeline > 0 || !vouched('awaitingOperator') || !store.awaitingOperator.filled()
      ? store.awaitingOperator.rebuild(store.pairingTimeline, store.pairing, store.root, nowSec * 1000)
      : 0,
    cashEventTimes: filled(byTime),
    cashEventsBySerial: filled(bySerial),
    auditTimes: vouched('auditTimes') ? 0 : store.auditTimes.rebuildFrom(store.audit, store.root),
  };
}

/**
 * Moves the live nonces of a store written before the nonce ring into it and empties the old table; returns how many
 * it moved. The old table kept only the expiry, created + skew + 1: `created` is recovered with the skew configured now.
 */
export function migrateNonces(store: Store, nowSec: number, clockSkewSec: number): number {
  if (entryCount(store.legacyNonces) === 0) return 0;
  let moved = 0;
  store.root.transactionSync(() => {
    for (const { key: stored, value } of store.legacyNonces.getRange()) {
      if (value < nowSec) continue;
      const key = keyText(stored);
      const sep = key.indexOf('\u0000');
      store.nonces.putSerialKeyedSync(key.slice(0, sep), key.slice(sep + 1), value - clockSkewSec - 1, value);
      moved++;
    }
    store.legacyNonces.clearSync();
  });
  return moved;
}

/**
 * Brings `foldedSerials` in line with the terminals: adds the serials of terminals created before it (or written by
 * tools or another build straight into the store), and removes entries whose terminal is gone (deleted by a build
 * without it: they would refuse that serial's creation for ever). Returns how many entries it changed. The first of two
 * serials that differ only in case keeps the place, so there may be fewer entries than terminals: counts prove nothing.
 */
export function indexFoldedSerials(store: Store): number {
  const stale = new Set<string>();
  for (const { key: folded, value: serial } of store.foldedSerials.getRange()) {
    // doesExist: the record is not decoded, which at 100,000 terminals was most of this loop's time.
    if (foldSerial(serial) !== folded || !store.terminals.doesExist(serial)) stale.add(folded);
  }
  const missing: string[] = [];
  if (stale.size > 0 || entryCount(store.foldedSerials) < entryCount(store.terminals)) {
    const placed = new Set<string>();
    for (const serial of store.terminals.getKeys()) {
      const folded = foldSerial(serial);
      if (placed.has(folded) || (!stale.has(folded) && store.foldedSerials.get(folded) !== undefined)) continue;
      placed.add(folded);
      missing.push(serial);
    }
  }
  if (stale.size === 0 && missing.length === 0) return 0;
  store.root.transactionSync(() => {
    for (const folded of stale) store.foldedSerials.removeSync(folded);
    for (const serial of missing) store.foldedSerials.putSync(foldSerial(serial), serial);
  });
  return new Set([...stale, ...missing.map(foldSerial)]).size;
}
