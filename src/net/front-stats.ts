/**
 * @module What a front thread counts of its own work, for the operators' `server.status`. Counting is a few integer
 * increments per call; how busy the loop was comes from a sample every few seconds, not from the calls.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { FrontReport, ServiceCounts } from '../protocol/types.js';

/** The window `busy` covers: long enough to smooth one slow turn of the loop, short enough to show a burst. */
export const BUSY_WINDOW_MS = 5_000;

export const noCounts = (): ServiceCounts => ({ answered: 0, refused: 0, failed: 0 });

/** Counts one answer by its status class. */
export function tally(counts: ServiceCounts, status: number): void {
  if (status >= 500) counts.failed++;
  else if (status >= 400) counts.refused++;
  else counts.answered++;
}

export class FrontStats {
  readonly master = noCounts();
  readonly gate = noCounts();
  handedOn = 0;
  received = 0;
  private mark: EventLoopUtilization = performance.eventLoopUtilization();
  private busy = 0;
  private readonly sampler: NodeJS.Timeout;

  constructor() {
    this.sampler = setInterval(() => {
      const now = performance.eventLoopUtilization();
      this.busy = performance.eventLoopUtilization(now, this.mark).utilization;
      this.mark = now;
    }, BUSY_WINDOW_MS);
    this.sampler.unref();
  }

  /** The counts with what only the caller knows (what it holds in memory, requests in flight), as plain data for the main thread. */
  report(held: Pick<FrontReport, 'actors' | 'trackedAddresses' | 'cachedKeys'>, inFlight: FrontReport['inFlight']): FrontReport {
    return {
      ...held, inFlight, master: { ...this.master }, gate: { ...this.gate }, handedOn: this.handedOn, received: this.received,
      busy: Math.round(this.busy * 1000) / 1000, heapUsedBytes: getHeapStatistics().used_heap_size,
    };
  }

  close(): void {
    clearInterval(this.sampler);
  }
}
