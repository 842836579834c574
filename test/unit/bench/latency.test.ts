/** @module Unit tests: the load generator's latency percentiles (bench/fleet/latency.ts), of one recorder and of parts summarised together. */
import { describe, expect, it } from 'vitest';
import { LatencyRecorder } from '../../../bench/fleet/latency.js';

describe('latency percentiles', () => {
  it('are nearest-rank over what was recorded, and all zero over nothing', () => {
    const r = new LatencyRecorder(4);
    for (let ms = 1; ms <= 1_000; ms++) r.record(ms);
    expect(r.summary()).toEqual({ count: 1_000, meanMs: 500.5, p50Ms: 500, p99Ms: 990, p999Ms: 999, maxMs: 1_000 });
    expect(new LatencyRecorder(1).summary()).toEqual({ count: 0, meanMs: 0, p50Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 });
  });

  it('of parts together are those of one recorder holding every call', () => {
    const whole = new LatencyRecorder(16);
    const odd = new LatencyRecorder(16);
    const even = new LatencyRecorder(16);
    for (let k = 0; k < 2_001; k++) {
      const ms = ((k * 7_919) % 2_003) / 10;
      whole.record(ms);
      (k % 2 === 0 ? even : odd).record(ms);
    }
    expect(LatencyRecorder.summaryOf(odd, even)).toEqual(whole.summary());
    expect(LatencyRecorder.summaryOf(odd, new LatencyRecorder(1))).toEqual(odd.summary());
    // Summarising reads the parts without changing them.
    expect(odd.values()).toHaveLength(1_000);
    expect(odd.values()[0]).toBe(191);
  });
});
