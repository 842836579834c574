/** @module The pairing requests that wait for an operator (pending, with a code): what the page lists at login and what marks a terminal `pending`, without reading the week of history around them. */
import type { Database, RootDatabase } from 'lmdb';
import { effectiveState } from './records.js';
import type { PairingRecord } from './records.js';
import type { PairingTimeline } from './pairing-timeline.js';
import { MAX_PAIRING_TTL_SEC } from './pairing-timeline.js';
import type { Settings } from './settings.js';

const waitsForOperator = (record: PairingRecord): boolean => record.state === 'pending' && record.stage === 'approval';

/**
 * requestId → serial, exactly while the request waits for an operator: kept beside every write of a request
 * (Store.putPairingSync, removePairingSync), and filled from the stretch of the timeline where pending requests can be
 * once per store, when it is opened without the marker that says it was filled (store-upgrade.ts). Reading the pending
 * requests from the timeline instead read every request of the last 7 days: 95–138 ms at each page's login after a day that paired 10,000 terminals.
 */
export class AwaitingOperator {
  private readonly db: Database<string, string>;

  /**
   * `settings` holds the marker 'pairing-awaiting-filled', set by the transaction that first fills the index: a store
   * without it needs that.
   */
  constructor(root: RootDatabase, private readonly settings: Settings) {
    this.db = root.openDB<string, string>({ name: 'pairing-awaiting' });
  }

  /** Whether the index was ever filled in this store (by `rebuild`): until then it may miss requests that wait. */
  filled(): boolean {
    return this.settings.get('pairing-awaiting-filled') !== undefined;
  }

  /** Beside every write of a request, in the same transaction. */
  trackSync(record: PairingRecord): void {
    if (waitsForOperator(record)) this.db.putSync(record.requestId, record.serial);
    else this.db.removeSync(record.requestId);
  }

  forgetSync(record: PairingRecord): void {
    this.db.removeSync(record.requestId);
  }

  /**
   * The requests that wait for an operator now, newest first. One that expired meanwhile (expiry writes nothing) is
   * left out, and dropped from the index in a write of its own that nobody waits for.
   */
  waiting(pairing: Database<PairingRecord, string>, now: number): PairingRecord[] {
    const waiting: PairingRecord[] = [];
    for (const { key: requestId } of this.db.getRange()) {
      const record = pairing.get(requestId);
      if (record && waitsForOperator(record) && effectiveState(record, now) === 'pending') waiting.push(record);
      else void this.db.remove(requestId).catch(() => undefined); // left in, it is only skipped again at the next read
    }
    return waiting.sort((a, b) => b.requestedAt - a.requestedAt || (a.requestId < b.requestId ? 1 : -1));
  }

  /**
   * Refills the index from the requests of the last MAX_PAIRING_TTL_SEC, and marks it filled in the same transaction;
   * returns how many wait. Before any thread serves.
   */
  rebuild(timeline: PairingTimeline, pairing: Database<PairingRecord, string>, root: RootDatabase, now: number): number {
    let waiting = 0;
    root.transactionSync(() => {
      for (const key of [...this.db.getKeys()]) this.db.removeSync(key);
      for (const entry of timeline.recent(now - MAX_PAIRING_TTL_SEC * 1000)) {
        // The timeline is checked or rebuilt before this runs (store-upgrade.ts), so its summary is the request's own
        // state: a request it shows decided or expired is not read. At 100,000 requests of the last week that read was
        // half a second of every start the store's seal did not vouch for.
        if (entry.summary && (entry.summary.state !== 'pending' || entry.summary.stage !== 'approval' || entry.summary.expiresAt <= now)) continue;
        const record = pairing.get(entry.requestId);
        if (!record || !waitsForOperator(record) || effectiveState(record, now) !== 'pending') continue;
        this.trackSync(record);
        waiting++;
      }
      this.settings.putSync('pairing-awaiting-filled', { filledAt: now });
    });
    return waiting;
  }
}
