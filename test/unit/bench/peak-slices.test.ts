/** @module How the peak's per-terminal calls are cut into the slices the server and the baseline take turns with. */
import { describe, expect, it } from 'vitest';
import { sliceRange } from '../../../bench/fleet/fleet.js';

describe('sliceRange', () => {
  it('cuts a range into contiguous slices that cover it exactly, as even as whole calls allow', () => {
    expect(sliceRange([4, 7], 3)).toEqual([[4, 5], [5, 6], [6, 7]]);
    expect(sliceRange([10, 60], 3)).toEqual([[10, 27], [27, 43], [43, 60]]);
    expect(sliceRange([0, 5], 2)).toEqual([[0, 3], [3, 5]]);
  });

  it('never makes an empty slice: more slices than calls gives one call each', () => {
    expect(sliceRange([4, 6], 5)).toEqual([[4, 5], [5, 6]]);
  });

  it('keeps one slice when asked for one', () => {
    expect(sliceRange([4, 7], 1)).toEqual([[4, 7]]);
  });
});
