/** @module The serials tried at the gate that nobody created, kept for operators (`unknown.list`) within a bound: anyone who reaches the open gate can make them. */
import { entryCount } from './entry-count.js';
import type { Store } from './store.js';

/** How many unknown serials operators can list: the most recently tried. */
export const MAX_UNKNOWN_SERIALS = 1000;

/** One at a time per thread (module state is per thread): under a flood every new serial asks. */
let forgetting = false;

/**
 * Forgets the unknown serials tried longest ago once there are a tenth more than MAX_UNKNOWN_SERIALS; returns how many.
 * Anyone can try serials while the gate is open (200 a second by default): kept without a bound, they would fill the
 * disk and every operator's list. Reads and sorts the table (about 1,100 entries) once per hundred new serials.
 */
export async function forgetOldUnknownSerials(store: Store): Promise<number> {
  if (forgetting || entryCount(store.unknownSerials) <= MAX_UNKNOWN_SERIALS * 1.1) return 0;
  forgetting = true;
  try {
    const entries = [...store.unknownSerials.getRange().map(({ value }) => value)].sort((a, b) => a.lastAttemptAt - b.lastAttemptAt);
    const forget = entries.slice(0, Math.max(0, entries.length - MAX_UNKNOWN_SERIALS));
    await store.atomically(() => {
      for (const { serial } of forget) store.unknownSerials.removeSync(serial);
    });
    return forget.length;
  } finally {
    forgetting = false;
  }
}
