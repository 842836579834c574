/** @module What a phase's CPU and waiting read as from two samples of a process's threads (bench/lib/proc-stats.ts). */
import { describe, expect, it } from 'vitest';
import { cpuBetween, type ProcSample } from '../../../bench/lib/proc-stats.js';

const sample = (atMs: number, threads: [string, number, number][] | null, cpuSec = 0): ProcSample => ({
  atMs, cpuSec, rssBytes: 0, rssFileBytes: 0, peakRssBytes: 0,
  threads: threads && new Map(threads.map(([tid, runNs, waitNs]) => [tid, { runNs, waitNs }])),
});

describe('cpuBetween', () => {
  it('reads cores busy and cores waiting from the same threads at both ends', () => {
    const use = cpuBetween(sample(0, [['1', 0, 0], ['2', 0, 0]]), sample(1000, [['1', 5e8, 1e8], ['2', 2.5e8, 2e8]]));
    expect(use.wallSec).toBe(1);
    expect(use.cores).toBeCloseTo(0.75);
    expect(use.waitingCores).toBeCloseTo(0.3);
  });

  it('counts no thread as waiting longer than the window: the kernel books a wait when the thread gets a CPU', () => {
    // A 20 ms window in which one thread got a CPU after 2 s in a run queue.
    const use = cpuBetween(sample(0, [['1', 0, 0], ['2', 0, 0]]), sample(20, [['1', 1e7, 2e9], ['2', 0, 5e6]]));
    expect(use.waitingCores).toBeCloseTo((20e6 + 5e6) / 20e6);
  });

  it('falls back to utime + stime when a thread came or went, and has no waiting figure without schedstat', () => {
    const changed = cpuBetween(sample(0, [['1', 0, 0]], 1), sample(1000, [['1', 1e8, 0], ['2', 1e8, 0]], 1.5));
    expect(changed.cores).toBeCloseTo(0.5);
    expect(cpuBetween(sample(0, null), sample(1000, null)).waitingCores).toBeNull();
  });
});
