/** @module Runs one micro-benchmark file (one question, tasks named after the alternatives) with tinybench and prints it beside openssl's figure for the same primitive. */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { Bench, type FnReturnedObject } from 'tinybench';
import { describeMachine, formatMachine, type Machine } from './machine.js';
import { measureOpenssl, type OpensslSpeed, type Primitive, type Reference } from './openssl-speed.js';

export interface MicroTask {
  /** Named after the alternative it measures. */
  name: string;
  /** One call does `batch` operations (default 1): sub-microsecond work is timed in batches, not per call. */
  fn: () => unknown;
  batch?: number;
  /** Operations one call of `fn` completes (when `fn` itself runs several at once, e.g. on a pool); default 1. */
  ops?: number;
  async?: boolean;
  /** The openssl figure this task is held against; for non-crypto steps, one RSA-2048 verify. */
  reference?: (speed: OpensslSpeed | null) => Reference | null;
}

export interface MicroSuite {
  /** File name without `.bench.ts`. */
  id: string;
  question: string;
  /** Primitives to ask openssl about when the file runs on its own. */
  openssl: readonly Primitive[];
  setup(): Promise<MicroTask[]> | MicroTask[];
  teardown?(): Promise<void> | void;
  notes?: string[];
}

export interface MicroRow {
  name: string;
  opsPerSec: number;
  nsPerOp: number;
  /** Relative margin of error of the mean, percent. */
  rme: number;
  samples: number;
  reference: Reference | null;
  /** opsPerSec ÷ reference.opsPerSec. */
  ratio: number | null;
  /** Bytes this thread's V8 heap allocated per operation: the garbage its scavenges have to deal with. */
  heapBytesPerOp: number;
}

export interface MicroResult {
  id: string;
  question: string;
  notes: string[];
  rows: MicroRow[];
}

function timed(task: MicroTask, now: () => number): () => FnReturnedObject | Promise<FnReturnedObject> {
  const batch = task.batch ?? 1;
  const perSample = batch * (task.ops ?? 1);
  const { fn } = task;
  if (task.async) {
    return async () => {
      const start = now();
      for (let i = 0; i < batch; i++) await fn();
      const elapsed = now() - start;
      return { overriddenDuration: elapsed / perSample, overriddenIterationCost: elapsed };
    };
  }
  return () => {
    const start = now();
    for (let i = 0; i < batch; i++) fn();
    const elapsed = now() - start;
    return { overriddenDuration: elapsed / perSample, overriddenIterationCost: elapsed };
  };
}

/** How long the allocation count of one task runs, at most (and no longer than its timing), and its fewest and most calls. */
const ALLOCATION_MS = 200;
const ALLOCATION_CALLS = { min: 50, max: 100_000 };

/**
 * Bytes of V8 heap allocated while `calls` calls of `fn` run. The heap only grows between GCs, and v8.GCProfiler
 * reports its size before and after each: the growth from the start to the first GC, between GCs, and from the last
 * GC to the end is what the calls allocated (what a GC frees may have been allocated before the start).
 */
async function heapAllocated(fn: () => unknown, calls: number, async: boolean): Promise<number> {
  const profiler = new v8.GCProfiler();
  profiler.start();
  const start = v8.getHeapStatistics().used_heap_size;
  if (async) {
    for (let i = 0; i < calls; i++) await fn();
  } else {
    for (let i = 0; i < calls; i++) fn();
  }
  const end = v8.getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  let allocated = 0;
  let from = start;
  for (const gc of statistics) {
    allocated += gc.beforeGC.heapStatistics.usedHeapSize - from;
    from = gc.afterGC.heapStatistics.usedHeapSize;
  }
  return allocated + end - from;
}

const nothing = (): void => undefined;

/**
 * Bytes of V8 heap one operation allocates, counted apart from the timing, less what the same loop calling nothing
 * allocates (the profiler's own records, an await's promise). Exact to a few bytes for a plain allocation; blind to
 * Buffers' off-heap memory and to other threads' heaps.
 */
export async function heapBytesPerOp(task: MicroTask, msPerCall: number, budgetMs: number): Promise<number> {
  const calls = Math.round(Math.min(ALLOCATION_CALLS.max, Math.max(ALLOCATION_CALLS.min, budgetMs / msPerCall)));
  const async = task.async === true;
  const measured = await heapAllocated(task.fn, calls, async);
  const loop = await heapAllocated(nothing, calls, async);
  return Math.max(0, measured - loop) / (calls * (task.ops ?? 1));
}

export async function runSuite(suite: MicroSuite, opts: { timeMs: number; openssl: OpensslSpeed | null }): Promise<MicroResult> {
  const tasks = await suite.setup();
  const bench = new Bench({ name: suite.id, time: opts.timeMs, warmupTime: Math.min(250, opts.timeMs / 2) });
  for (const task of tasks) bench.add(task.name, timed(task, () => bench.now()), { async: task.async === true });
  const rows: MicroRow[] = [];
  try {
    await bench.run();
    for (const task of tasks) {
      const result = bench.getTask(task.name)?.result;
      if (!result || (result.state !== 'completed' && result.state !== 'aborted-with-statistics')) {
        const why = result?.state === 'errored' ? result.error.message : result?.state ?? 'missing';
        throw new Error(`${suite.id}: task "${task.name}" did not complete (${why})`);
      }
      const opsPerSec = 1000 / result.period;
      const ref = task.reference?.(opts.openssl) ?? null;
      rows.push({
        name: task.name,
        opsPerSec,
        nsPerOp: result.period * 1e6,
        rme: result.latency.rme,
        samples: result.latency.samplesCount,
        reference: ref,
        ratio: ref ? opsPerSec / ref.opsPerSec : null,
        // After the timing, so that counting cannot slow it; one call's time (period is per operation) sizes the count.
        heapBytesPerOp: await heapBytesPerOp(task, result.period * (task.ops ?? 1), Math.min(ALLOCATION_MS, opts.timeMs)),
      });
    }
  } finally {
    await suite.teardown?.();
  }
  return { id: suite.id, question: suite.question, notes: suite.notes ?? [], rows };
}

const fmt = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3));

export function formatRows(result: MicroResult): string {
  const lines = [`${result.id}: ${result.question}`];
  const header = ['task', 'ops/s', 'ns/op', '±%', 'heap B/op', 'openssl figure', 'ratio'];
  const body = result.rows.map((r) => [
    r.name, fmt(r.opsPerSec), fmt(r.nsPerOp), r.rme.toFixed(1), fmt(r.heapBytesPerOp),
    r.reference ? `${r.reference.label}: ${fmt(r.reference.opsPerSec)}/s` : '—',
    r.ratio === null ? '—' : `${r.ratio.toFixed(r.ratio < 10 ? 2 : 0)}×`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  lines.push(line(header), ...body.map(line));
  for (const note of result.notes) lines.push(`  note: ${note}`);
  return lines.join('\n');
}

/**
 * The entry of every `*.bench.ts`: `node dist/bench/x.bench.js [--time MS] [--openssl FILE] [--json FILE]`.
 * Alone it measures the openssl figures it needs (1 s each); `bench/run.ts` passes the run's shared figures instead.
 */
export async function runMicroCli(suite: MicroSuite): Promise<void> {
  const { values } = parseArgs({
    options: { time: { type: 'string', default: '1000' }, openssl: { type: 'string' }, json: { type: 'string' } },
  });
  const machine: Machine = describeMachine();
  let openssl: OpensslSpeed | null = null;
  if (values.openssl) {
    openssl = JSON.parse(fs.readFileSync(values.openssl, 'utf8')) as OpensslSpeed;
  } else if (suite.openssl.length > 0) {
    openssl = await measureOpenssl(suite.openssl, 1).catch(() => null);
  }
  const result = await runSuite(suite, { timeMs: Number(values.time), openssl });
  process.stdout.write(`${formatRows(result)}\n  machine: ${formatMachine(machine)}\n\n`);
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(result, null, 2));
}
