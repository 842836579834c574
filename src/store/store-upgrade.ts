/** @module What a store written by an older version needs before any thread serves: its nonces moved into the ring, and the indexes added since filled in. */
import { entryCount } from './entry-count.js';
import type { RebuildProgress } from './index-rebuild.js';
import { foldSerial, keyText, type Store } from './store.js';

export interface StoreUpgrade {
  /** Live nonces moved from the table kept before the nonce ring. */
  nonces: number;
  /** Terminals added to the case-folded serial index. */
  foldedSerials: number;
  /** Terminals given a search entry. */
  searchEntries: number;
  /** Pairing requests placed in the timeline. */
  timeline: number;
  /** Requests found waiting for an operator when that index was filled (once per store, or with the timeline). */
  awaiting: number;
  /** Cash events placed in their time index. */
  cashEventTimes: number;
  /** Cash events placed among their terminal's, by time. */
  cashEventsBySerial: number;
  /** Audit entries placed in their time index. */
  auditTimes: number;
}

/** Told while an index of a large store is filled (index-rebuild.ts): which index, and how far it is. */
export type UpgradeProgress = (index: 'cashEventTimes' | 'cashEventsBySerial', done: number, total: number) => void;

/**
 * Run once at start-up, before any thread serves: an upgrade must not reopen replay windows, nor let an operator create
 * a serial that differs from an existing one only in case. Each step does nothing on a store that needs none of it.
 * `progress` hears of the steps that can take seconds: the cash events are the store's bulk.
 */
export function upgradeStore(store: Store, nowSec: number, clockSkewSec: number, progress?: UpgradeProgress): StoreUpgrade {
  const told = (index: Parameters<UpgradeProgress>[0]): RebuildProgress | undefined => progress && ((done, total) => progress(index, done, total));
  const timeline = store.pairingTimeline.rebuildFrom(store.pairing, store.root);
  return {
    nonces: migrateNonces(store, nowSec, clockSkewSec),
    foldedSerials: indexFoldedSerials(store),
    searchEntries: store.terminalSearch.rebuildFrom(store.terminals, store.root),
    timeline,
    // Filled on its own marker, not with the timeline: the two came 19 commits apart, and a store written by a build in
    // between had a full timeline and an empty index, which nothing filled (requests waiting were missing from
    // pairing.list). A store that needed its timeline needs this too (a copy restored without its settings, say).
    // Not at every start: it reads each request of the last 7 days, and after a week that paired 10,000 terminals
    // those pages of the store added 31-59 MiB to the server's RSS at start-up (bench/RESULTS.md, idle terminals).
    awaiting: timeline > 0 || !store.awaitingOperator.filled()
      ? store.awaitingOperator.rebuild(store.pairingTimeline, store.pairing, store.root, nowSec * 1000)
      : 0,
    // Only while kept: written only then, the index is behind whenever --cash-event-days was off, and is caught up here.
    cashEventTimes: store.indexesCashEventTimes ? store.cashEventTimes.rebuildFrom(store.cashEvents, store.root, told('cashEventTimes')) : 0,
    cashEventsBySerial: store.cashEventsBySerial.rebuildFrom(store.cashEvents, store.root, told('cashEventsBySerial')),
    auditTimes: store.auditTimes.rebuildFrom(store.audit, store.root),
  };
}

/**
 * Moves the live nonces of a store written before the nonce ring into it and empties the old table; returns how many
 * it moved. The old table kept only the expiry, created + skew + 1: `created` is recovered with the skew configured now.
 */
export function migrateNonces(store: Store, nowSec: number, clockSkewSec: number): number {
  if (store.legacyNonces.getKeysCount({ limit: 1 }) === 0) return 0;
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
 * Fills `foldedSerials` for terminals created before it (or written by tools straight into the store); returns how many
 * it added. The first of two serials that differ only in case keeps the place.
 */
export function indexFoldedSerials(store: Store): number {
  if (entryCount(store.foldedSerials) >= entryCount(store.terminals)) return 0;
  let added = 0;
  store.root.transactionSync(() => {
    for (const serial of store.terminals.getKeys()) {
      const folded = foldSerial(serial);
      if (store.foldedSerials.get(folded) !== undefined) continue;
      store.foldedSerials.putSync(folded, serial);
      added++;
    }
  });
  return added;
}
