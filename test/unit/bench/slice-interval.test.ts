/** @module Unit tests: the 95% interval of the peak's slice-by-slice ratio, which says how far the 3× verdict can be trusted. */
import { describe, expect, it } from 'vitest';
import { sliceRatioInterval, sliceRatios } from '../../../bench/lib/report.js';
import type { PhaseReport } from '../../../bench/fleet/messages.js';

/** A peak whose slices ran at these rates (the interval reads nothing else). */
const peak = (...rates: number[]): PhaseReport => ({ slices: rates.map((callsPerSec) => ({ callsPerSec })) }) as unknown as PhaseReport;

describe('sliceRatioInterval', () => {
  it('is the mean of the ratios slice j against slice j, with Student\'s t for n − 1 degrees of freedom', () => {
    // Ratios 2 and 4: mean 3, standard deviation √2, so the half-width is t(1) · √2 / √2 = 12.706.
    const two = sliceRatioInterval(peak(200, 400), peak(100, 100))!;
    expect(two.mean).toBeCloseTo(3, 12);
    expect(two.low).toBeCloseTo(3 - 12.706, 9);
    expect(two.high).toBeCloseTo(3 + 12.706, 9);
    // Six slices, ratios 2.9, 3.1 three times each: sd √(0.06 / 5), t(5) = 2.571.
    const six = sliceRatioInterval(peak(290, 310, 290, 310, 290, 310), peak(100, 100, 100, 100, 100, 100))!;
    const half = 2.571 * Math.sqrt(0.06 / 5) / Math.sqrt(6);
    expect(six.mean).toBeCloseTo(3, 12);
    expect(six.high - six.mean).toBeCloseTo(half, 9);
    expect(six.n).toBe(6);
  });

  it('narrows to the mean when every slice agrees', () => {
    expect(sliceRatioInterval(peak(300, 300, 300), peak(100, 100, 100))).toEqual({ mean: 3, low: 3, high: 3, n: 3 });
  });

  it('has no interval for one slice, and pairs only the slices both sides ran', () => {
    expect(sliceRatioInterval(peak(300), peak(100))).toBeNull();
    expect(sliceRatioInterval(peak(300, 300, 900), peak(100, 100))!.n).toBe(2);
  });

  it('has none when a baseline slice answered nothing (before, it divided by 1e-9), and the slice shows as —', () => {
    expect(sliceRatioInterval(peak(300, 300, 300), peak(100, 0, 100))).toBeNull();
    expect(sliceRatios(peak(300, 300, 300), peak(100, 0, 150))).toBe('3.00×, —, 2.00×');
    expect(sliceRatios(peak(300), peak(100))).toBe('');
  });
});
