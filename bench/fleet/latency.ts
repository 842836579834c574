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
    return LatencyRecorder.summaryOf(this);
  }

  /** The same over several recorders' calls together: a whole split into parts need not record each call twice. */
  static summaryOf(...parts: readonly LatencyRecorder[]): LatencySummary {
    const n = parts.reduce((total, part) => total + part.n, 0);
    if (n === 0) return { count: 0, meanMs: 0, p50Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
    const sorted = new Float64Array(n);
    let filled = 0;
    for (const part of parts) {
      sorted.set(part.values(), filled);
      filled += part.n;
    }
    sorted.sort();
    const at = (q: number): number => sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]!;
    let sum = 0;
    for (const v of sorted) sum += v;
    return { count: n, meanMs: sum / n, p50Ms: at(0.5), p99Ms: at(0.99), p999Ms: at(0.999), maxMs: sorted[n - 1]! };
  }
}
