/** @module Latency samples of one load phase, kept whole (a phase has at most a few hundred thousand calls) so percentiles are exact. */

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export class LatencyRecorder {
  private samples: Float64Array;
  private n = 0;

  constructor(capacity: number) {
    this.samples = new Float64Array(Math.max(16, capacity));
  }

  record(ms: number): void {
    if (this.n === this.samples.length) {
      const bigger = new Float64Array(this.samples.length * 2);
      bigger.set(this.samples);
      this.samples = bigger;
    }
    this.samples[this.n++] = ms;
  }

  /** What was recorded, in order. */
  values(): Float64Array {
    return this.samples.subarray(0, this.n);
  }

  get count(): number {
    return this.n;
  }

  /** Nearest-rank percentiles of what was recorded so far. */
  summary(): LatencySummary {
    if (this.n === 0) return { count: 0, meanMs: 0, p50Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
    const sorted = this.samples.slice(0, this.n).sort();
    const at = (q: number): number => sorted[Math.min(this.n - 1, Math.ceil(q * this.n) - 1)]!;
    let sum = 0;
    for (const v of sorted) sum += v;
    return { count: this.n, meanMs: sum / this.n, p50Ms: at(0.5), p99Ms: at(0.99), p999Ms: at(0.999), maxMs: sorted[this.n - 1]! };
  }
}
