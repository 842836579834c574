/**
 * @module How long cash events are kept (`--cash-event-days`, 0: for ever): a fleet of 100,000 terminals reporting 50
 * events a day adds about 1.9 GB a day to the store (which operators read and export: admin/cash-ops.ts). A terminal
 * never resends an event it saw acknowledged, so the days kept only need to outlast its retries for the answer to stay
 * `duplicate`.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Store } from './store.js';

/** Events forgotten per transaction: lmdb's writer, which every terminal's write waits for, is held a few ms at a time. */
const BATCH = 500;

/** Forgets the cash events received before `before`, oldest first, in batches; `signal` stops it between two. */
export async function forgetCashEvents(store: Store, before: number, signal?: AbortSignal): Promise<number> {
  let forgotten = 0;
  while (!signal?.aborted) {
    const events = store.cashEventTimes.oldest(before, BATCH);
    if (events.length === 0) return forgotten;
    await store.atomically(() => {
      for (const event of events) store.removeCashEventSync(event);
    });
    forgotten += events.length;
    if (events.length < BATCH) return forgotten;
    await nextTurn();
  }
  return forgotten;
}
