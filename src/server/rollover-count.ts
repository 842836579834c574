/**
 * @module How many paired terminals have been seen since the announcement began, and how many are paired: the two
 * numbers of a rollover's progress, read in slices (sliced-scan.ts) because at fleet scale the read is long.
 */
import { scanInSlices } from '../store/sliced-scan.js';
import type { Store } from '../store/store.js';

export interface RolloverCount {
  /** Paired terminals whose last-seen time is the announcement's start or later: they follow the switch. */
  seen: number;
  paired: number;
}

/**
 * Reads the terminals' search entries, which say whether each is paired (terminal-search.ts), and the last-seen time of
 * each paired one. A last-seen time alone is no answer: the table keeps one for a terminal unpaired since (the terminals
 * list shows it, for finding the machine), and an unpaired terminal has no pairing for the switch to keep: pairing it
 * again is someone's work at the terminal whatever its pin. A deleted terminal's time goes with it (Store.deleteTerminalSync),
 * unless a write-behind put committed after the delete: one from before the terminal was created is not counted.
 * `stop()` true ends the read at the next entry.
 */
export async function countRollover(store: Store, announcedSince: number, stop: () => boolean): Promise<RolloverCount> {
  const count: RolloverCount = { seen: 0, paired: 0 };
  await scanInSlices(store.terminalSearch.db, {}, (serial, [, , paired]) => {
    if (stop()) return false;
    if (!paired) return true;
    count.paired++;
    const seen = store.lastSeen.get(serial);
    // A time from before the terminal was created is a deleted namesake's (Store.lastSeenAt). The record is read only
    // for a terminal the count would take as seen.
    if (seen !== undefined && seen >= announcedSince && store.seenAsCreated(serial, seen)) count.seen++;
    return true;
  });
  return count;
}
