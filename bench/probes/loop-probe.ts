/**
 * @module A probe for the measured server, preloaded into every thread of it:
 *
 *   BENCH_SERVER_NODE_ARGS='--import ./dist/bench/probes/loop-probe.js' BENCH_SERVER_OUTPUT=/tmp/probe.log npm run bench -- --skip-micro
 *
 * Every 5 s each thread writes one line to stderr: its GC pauses by kind (count, total, p50, max) and how late its
 * event loop ran (p50, p99, max). A call that arrives during a pause waits for all of it, so these two lines explain
 * most of a p99. Measurement only; never loaded in production.
 */
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { isMainThread, threadId } from 'node:worker_threads';

const PERIOD_MS = 5_000;
/** The loop-delay histogram samples on a timer of this period and records whole periods, so it is subtracted. */
const RESOLUTION_MS = 2;

const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};

const label = isMainThread ? 'main' : `thread ${threadId}`;

/** LOOP_PROBE_PAUSES_MS=N: also print every GC pause of N ms or more, with its wall-clock time (epoch ms). */
const printPausesFrom = Number(process.env.LOOP_PROBE_PAUSES_MS ?? Infinity);

let pauses = new Map<string, number[]>();
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = KINDS[((entry as unknown as { detail: { kind: number } }).detail).kind] ?? 'other';
    if (entry.duration >= printPausesFrom) {
      process.stderr.write(`[probe ${label}] gc ${kind} at epoch ms ${(performance.timeOrigin + entry.startTime).toFixed(1)} took ${entry.duration.toFixed(1)} ms\n`);
    }
    let durations = pauses.get(kind);
    if (!durations) pauses.set(kind, (durations = []));
    durations.push(entry.duration);
  }
}).observe({ entryTypes: ['gc'] });

const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
loop.enable();

const ms = (ns: number): string => Math.max(0, ns / 1e6 - RESOLUTION_MS).toFixed(1);

setInterval(() => {
  const gc = [...pauses].map(([kind, durations]) => {
    durations.sort((a, b) => a - b);
    const total = durations.reduce((sum, d) => sum + d, 0);
    return `${kind} ${durations.length}× ${total.toFixed(0)} ms (p50 ${durations[(durations.length - 1) >> 1]!.toFixed(1)}, max ${durations[durations.length - 1]!.toFixed(1)})`;
  });
  process.stderr.write(
    `[probe ${label}] loop late p50 ${ms(loop.percentile(50))} p99 ${ms(loop.percentile(99))} max ${ms(loop.max)} ms; gc ${gc.join('; ') || 'none'}\n`,
  );
  pauses = new Map();
  loop.reset();
}, PERIOD_MS).unref();
