/**
 * @module What a front thread counts of its own work, for the operators' `server.status`. Counting is a few integer
 * increments per call; how busy the loop was comes from a sample every few seconds, not from the calls.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { FrontReport, ServiceCounts } from '../protocol/types.js';

/** The window `busy` covers: long enough to smooth one slow turn of the loop, short enough to show a burst. */
export const BUSY_WINDOW_MS = 5_000;
/**
 * How often a timer probes the loop for `lagMaxMs`: a lag shorter than this may go unseen. A stall that matters to a
 * terminal's call is tens of ms; 50 wakeups a second cost the thread nothing it would notice.
 */
const LAG_PROBE_MS = 20;
/** The windows `lagMaxMs` keeps: a minute, so a reader once a minute (a scrape, the status log) sees every stall. */
const LAG_WINDOWS = 12;

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
  // Busy says how much of a window the loop worked, not whether a call waited behind one long piece of it: a thread
  // 30% busy may still have held every call for half a second (a full GC, a blocked write, the host pausing it).
  // A timer of our own rather than perf_hooks' monitorEventLoopDelay: resetting that histogram for the next window
  // also forgets when its timer last fired, so a stall that ended just as the window turned would not be counted.
  private lagProbeAt = performance.now();
  private windowLagMs = 0;
  private readonly lagMaxes: number[] = [];
  private readonly sampler: NodeJS.Timeout;
  private readonly lagProbe: NodeJS.Timeout;

  constructor() {
    this.lagProbe = setInterval(() => {
      const now = performance.now();
      this.windowLagMs = Math.max(this.windowLagMs, now - this.lagProbeAt - LAG_PROBE_MS);
      this.lagProbeAt = now;
    }, LAG_PROBE_MS);
    this.lagProbe.unref();
    this.sampler = setInterval(() => {
      const now = performance.eventLoopUtilization();
      this.busy = performance.eventLoopUtilization(now, this.mark).utilization;
      this.mark = now;
      this.lagMaxes.push(this.windowLagMs);
      if (this.lagMaxes.length > LAG_WINDOWS) this.lagMaxes.shift();
      this.windowLagMs = 0;
    }, BUSY_WINDOW_MS);
    this.sampler.unref();
  }

  /** The counts with what only the caller knows (what it holds in memory, requests in flight), as plain data for the main thread. */
  report(held: Pick<FrontReport, 'actors' | 'trackedAddresses' | 'cachedKeys'>, inFlight: FrontReport['inFlight']): FrontReport {
    return {
      ...held, inFlight, master: { ...this.master }, gate: { ...this.gate }, handedOn: this.handedOn, received: this.received,
      busy: Math.round(this.busy * 1000) / 1000, lagMaxMs: Math.round(Math.max(this.windowLagMs, ...this.lagMaxes)),
      heapUsedBytes: getHeapStatistics().used_heap_size,
    };
  }

  close(): void {
    clearInterval(this.sampler);
    clearInterval(this.lagProbe);
  }
}
