/** @module The cash events a run wrote to the fleet's store: counted after the server stops (every answered write must be there), then removed, so a reused fleet's store does not grow run after run. */
import { writeKeepingSeal } from '../../src/store/index-seal.js';
import { Store } from '../../src/store/store.js';
import { CASH_EVENT_PREFIX } from './sign.worker.js';

export interface StoredWrites {
  /** Cash events of this run (eventId `e<created>-…`) found in the store. */
  thisRun: number;
  /** All cash events removed, this run's and any an interrupted earlier run left. */
  removed: number;
}

/** Counts this run's cash events in the store at `dataDir`, then empties the table. Only with no server running on it. */
export async function takeCashEvents(dataDir: string, created: number): Promise<StoredWrites> {
  const store = Store.open(dataDir);
  try {
    const prefix = `${CASH_EVENT_PREFIX}${created}-`;
    let thisRun = 0;
    let removed = 0;
    for (const { value } of store.cashEvents.getRange()) {
      removed++;
      if (value.eventId.startsWith(prefix)) thisRun++;
    }
    // With both indexes, as the server removes events: the store stays sealed (index-seal.ts), so the next target's start
    // is a restart after a clean stop, not one that checks every index first.
    await writeKeepingSeal(store, () => {
      store.cashEvents.clearSync();
      store.cashEventTimes.clearSync();
      store.cashEventsBySerial.clearSync();
    });
    return { thisRun, removed };
  } finally {
    await store.close();
  }
}
