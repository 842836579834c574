/** @module How long pairing requests are kept once they are over (`--pairing-history-days`): the history operators read, bounded in time. */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { effectiveState } from './records.js';
import type { TimelineEntry } from './pairing-timeline.js';
import type { Store } from './store.js';

/** Requests forgotten per transaction: lmdb's writer, which every terminal's write waits for, is held a few ms at a time. */
const BATCH = 500;

export interface ForgottenHistory {
  requests: number;
  /** Certificates kept for those requests that no pin and no later request of theirs needed. */
  certificates: number;
}

/**
 * Forgets the pairing requests made before `before` that no longer wait (approved, rejected, expired), each with the
 * certificate kept for it unless the terminal has it pinned or a later request of the same certificate holds it. A
 * request made under a longer `--pairing-ttl` that still waits is kept until it is over.
 *
 * Without it the history grew for ever: anyone at the open gate who knows a serial can file requests with throwaway
 * keys, up to MAX_PENDING_PER_SERIAL at a time, each with a certificate of up to 12 KiB. The audit log keeps every
 * operator's decision regardless. Reads the timeline from its oldest end, in batches, so a run reads only what it
 * forgets (and the few still waiting); each batch is re-read inside its transaction, so a request a terminal's actor
 * changed meanwhile is judged as it now stands. `signal` stops it between two batches: a store with years of history
 * to catch up on would otherwise hold a shutdown for as long as that takes.
 */
export async function forgetPairingHistory(store: Store, before: number, now: number, signal?: AbortSignal): Promise<ForgottenHistory> {
  const forgotten: ForgottenHistory = { requests: 0, certificates: 0 };
  let after: TimelineEntry | undefined;
  while (!signal?.aborted) {
    const entries = store.pairingTimeline.oldest(before, BATCH, after);
    if (entries.length === 0) return forgotten;
    after = entries[entries.length - 1];
    await store.atomically(() => {
      for (const entry of entries) {
        const record = store.pairing.get(entry.requestId);
        // An entry whose request is gone (a store an older version wrote) would be read again at every run.
        if (!record) store.pairingTimeline.removeSync(entry);
        if (!record || effectiveState(record, now) === 'pending') continue;
        if (store.forgetPairingSync(record)) forgotten.certificates++;
        forgotten.requests++;
      }
    });
    if (entries.length < BATCH) return forgotten;
    await nextTurn();
  }
  return forgotten;
}
