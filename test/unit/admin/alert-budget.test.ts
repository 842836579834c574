/** @module The budget of alerts a second that anyone can cause: the rest are counted and reported, not pushed. */
import { describe, expect, it } from 'vitest';
import { AlertBudget } from '../../../src/admin/alert-budget.js';

describe('AlertBudget', () => {
  it('lets the first N of each second through and reports how many it held back', () => {
    const reports: number[] = [];
    const budget = new AlertBudget(3, (count) => reports.push(count));
    const passed = (now: number, n: number) => Array.from({ length: n }, () => budget.take(now)).filter(Boolean).length;
    expect(passed(0, 10)).toBe(3);
    expect(passed(999, 2)).toBe(0);
    expect(reports).toEqual([]);
    // The next second: its own three, and the nine held back in the last one reported once.
    expect(passed(1000, 4)).toBe(3);
    expect(reports).toEqual([9]);
    // A quiet second reports nothing.
    expect(passed(5000, 1)).toBe(1);
    expect(reports).toEqual([9, 1]);
    expect(passed(6500, 1)).toBe(1);
    expect(reports).toEqual([9, 1]);
  });
});
