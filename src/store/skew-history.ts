/**
 * @module Raising `--clock-skew` across a restart must not reopen the replay window. A nonce is recorded until
 * created + skew + 1 s with the skew of the run that saw it, and the pruner empties its slot behind that; a run with
 * a larger skew would take such a request, sent again, as new. So each start records its skew in the store, and a
 * start with a larger one than the last run's keeps the last run's window, on the past side, for every request that
 * run could have seen, until none of them can be fresh any more. The record outlives a second restart: the window
 * binds for as long as it must, whatever happens between.
 */
import type { Settings } from './settings.js';

/** Requests created before `createdBefore` are fresh only up to `skewSec` in the past (and the current skew ahead). */
export interface PastWindow {
  createdBefore: number;
  skewSec: number;
  /**
   * The first start on a copy from `pairing-server backup` (skewSec 0): the copy holds none of the nonces the old server
   * recorded after it was made, so nothing created before this start is taken, however fresh.
   */
  restored?: true;
}

export interface SkewRecord {
  /** The skew of the run that wrote the record (the last run that started). */
  skewSec: number;
  /** Windows of earlier runs that still bind. */
  windows: PastWindow[];
}

export class SkewHistory {
  /** Under the key 'clock-skew' of the store's settings (Store.settings). */
  constructor(private readonly settings: Settings) {}

  /**
   * Records this run's skew and returns the windows its freshness check MUST apply. MUST run once at start, before
   * any request is admitted. A store from before this record is taken to have run with today's skew: its window is
   * not known, and guessing a smaller one would refuse every terminal whose clock the larger skew was set for.
   */
  startRun(nowSec: number, clockSkewSec: number, opts: { restored?: boolean } = {}): PastWindow[] {
    const last = this.settings.get('clock-skew');
    // A window binds while a request created before its bound can be fresh now, and only if it is narrower.
    const windows = (last?.windows ?? []).filter((w) => w.skewSec < clockSkewSec && w.createdBefore + clockSkewSec >= nowSec);
    if (last && last.skewSec < clockSkewSec) {
      // The last run may have seen requests created up to its skew ahead of now; their nonces are kept by its skew.
      windows.push({ createdBefore: nowSec + last.skewSec + 1, skewSec: last.skewSec });
    }
    // Before this second: the old server stopped before this start, so what it took was created before it, unless a
    // terminal clock ahead signed it ahead (the wait ADMIN-OPS asks for covers that). A terminal signing now is served.
    if (opts.restored) windows.push({ createdBefore: nowSec, skewSec: 0, restored: true });
    this.settings.putSync('clock-skew', { skewSec: clockSkewSec, windows });
    return windows;
  }
}

/** The window that refuses a request created at `createdSec`, as older than a run that may have seen it allows; else null. */
export function refusingPastWindow(createdSec: number, nowSec: number, windows: readonly PastWindow[]): PastWindow | null {
  for (const w of windows) {
    // A restored copy's window refuses whatever was created before it, however fresh.
    if (createdSec < w.createdBefore && (w.restored === true || nowSec - createdSec > w.skewSec)) return w;
  }
  return null;
}
