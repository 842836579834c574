/** @module The p99 target's verdict: judged on enough calls, and only at a rate at least half the peak. */
import { describe, expect, it } from 'vitest';
import { p99Verdict } from '../../../bench/lib/report.js';

const round = (p99Ms: number, targetRate: number | null, count = 8_000) => ({ latency: { count, p99Ms }, targetRate });

describe('p99Verdict', () => {
  it('passes under 5 ms and fails at 5 ms or more, at half the peak', () => {
    expect(p99Verdict(round(4.99, 9_000), 9_000)).toBe(true);
    expect(p99Verdict(round(5, 9_000), 9_000)).toBe(false);
  });

  it('judges a fixed rate above half the peak, and not one below it', () => {
    expect(p99Verdict(round(4.2, 9_500), 9_000)).toBe(true);
    expect(p99Verdict(round(6.1, 9_500), 9_000)).toBe(false);
    expect(p99Verdict(round(4.2, 8_999), 9_000)).toBeNull();
    expect(p99Verdict(round(4.2, null), 9_000)).toBeNull();
  });

  it('does not judge a p99 of fewer than 100 calls', () => {
    expect(p99Verdict(round(1.0, 9_000, 99), 9_000)).toBeNull();
    expect(p99Verdict(round(1.0, 9_000, 100), 9_000)).toBe(true);
  });
});
