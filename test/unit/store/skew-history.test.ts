/** @module Unit tests: which earlier runs' clock-skew windows a start keeps, on a real LMDB store. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../src/store/store.js';
import { openTempStore, type TempStore } from '../../helpers/actor-store.js';
import { SkewHistory, refusingPastWindow, type PastWindow } from '../../../src/store/skew-history.js';

let temp: TempStore;
let store: Store;
const T = 1_800_000_000;

beforeEach(() => {
  temp = openTempStore('skew-history-test');
  store = temp.store;
});

afterEach(async () => {
  await temp.close();
});

const start = (nowSec: number, skew: number, restored = false) => new SkewHistory(store.settings).startRun(nowSec, skew, { restored });
const withinPastWindows = (createdSec: number, nowSec: number, windows: PastWindow[]) => refusingPastWindow(createdSec, nowSec, windows) === null;

describe('SkewHistory', () => {
  it('binds nothing on a new store, on the same skew, or on a smaller one', () => {
    expect(start(T, 300)).toEqual([]);
    expect(start(T + 10, 300)).toEqual([]);
    expect(start(T + 20, 120)).toEqual([]);
  });

  it('keeps the last run\'s window for what it may have seen, until none of that can be fresh', () => {
    start(T, 300);
    const windows = start(T + 1_000, 600);
    expect(windows).toEqual([{ createdBefore: T + 1_301, skewSec: 300 }]);
    // Seen by the last run (created before it stopped, or up to its skew ahead): held to 300 s in the past.
    expect(withinPastWindows(T + 1_000 - 299, T + 1_000, windows)).toBe(true);
    expect(withinPastWindows(T + 1_000 - 301, T + 1_000, windows)).toBe(false);
    expect(withinPastWindows(T + 1_300, T + 1_700, windows)).toBe(false);
    // Created after the last run could have accepted it: the new skew only.
    expect(withinPastWindows(T + 1_301, T + 1_800, windows)).toBe(true);
    // Still binding at a restart while such a request can be fresh, gone after.
    expect(start(T + 1_301 + 600, 600)).toEqual(windows);
    expect(start(T + 1_301 + 601, 600)).toEqual([]);
  });

  it('stacks the windows of successive raises, and drops those the skew no longer exceeds', () => {
    start(T, 300);
    start(T + 10, 600);
    expect(start(T + 20, 900)).toEqual([{ createdBefore: T + 311, skewSec: 300 }, { createdBefore: T + 621, skewSec: 600 }]);
    expect(start(T + 30, 450)).toEqual([{ createdBefore: T + 311, skewSec: 300 }]);
  });

  it('on a restored backup refuses every request created up to the start, for as long as one could be fresh', () => {
    start(T - 5_000, 300);
    const windows = start(T, 300, true);
    expect(windows).toEqual([{ createdBefore: T, skewSec: 0, restored: true }]);
    // Whatever the old server may have taken before the start, however fresh it still is.
    expect(refusingPastWindow(T - 1, T - 1, windows)).toEqual(windows[0]);
    expect(withinPastWindows(T - 1, T + 100, windows)).toBe(false);
    // A terminal signing from the start on is served at once.
    expect(withinPastWindows(T, T, windows)).toBe(true);
    expect(withinPastWindows(T + 1, T + 2, windows)).toBe(true);
    // A restart within the clock skew keeps the window; after it, nothing created before the start can be fresh.
    expect(start(T + 300, 300)).toEqual(windows);
    expect(start(T + 301, 300)).toEqual([]);
  });
});
