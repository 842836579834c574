/** @module The load phases: connect (every terminal connects and calls once, the fleet held open while the server's RSS is read), closed loop (the warm-up and the peak, whole or in slices) and open loop (latency at a fixed rate). */
// Calls go round the terminals in order, each on the terminal's own connection, so it always meets the same server thread.
import fs from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { inLanes } from '../lib/lanes.js';
import { cpuBetween, ownBytes, sampleProcess, sampleSelf, type CpuUse, type ProcSample } from '../lib/proc-stats.js';
import type { FleetConnections } from './fleet-connections.js';
import { LatencyRecorder } from './latency.js';
import type { ConnectReport, PhaseReport, PhaseSlice, PhaseSpec } from './messages.js';

/** Resolution of the generator's own loop-delay probe: the histogram records whole timer intervals, so this is subtracted. */
const LOOP_PROBE_MS = 10;

/**
 * BENCH_LATENCY_TIMELINE=<file>: every call of every measured phase is appended there as one line, `phase, ms since
 * the phase (or its slice) started when the call was due (or sent), latency ms`, to see whether a p99 is one stall or many.
 */
const timelineFile = process.env.BENCH_LATENCY_TIMELINE;

/** After the generator's full GC, before a measured slice: V8's helper threads finish sweeping meanwhile. */
const GC_SETTLE_MS = 50;

/**
 * Collects the generator's garbage just before a measured slice, so that none of its GC pauses falls inside it: a
 * slice of 10,000 calls allocates well under its 64 MiB young generation, and a pause during one stalls every reply in
 * flight, which the server's p99 then carried (bench/JOURNAL.md, session 19). A full GC rather than a scavenge: one
 * that only emptied the young generation left an old-generation collection under way, which finished in the next
 * round as two pauses of 4.9 and 8.2 ms. The server is never collected for: it is what is measured. A no-op without
 * --expose-gc (generator-process.ts passes it).
 */
async function collectOwnGarbage(): Promise<number | null> {
  if (!globalThis.gc) return null;
  const started = performance.now();
  // No argument: on Node 20, gc({ type: 'major' }) runs a scavenge.
  globalThis.gc();
  const ms = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, GC_SETTLE_MS));
  return ms;
}

/** FIFO of terminal indices: the terminal idle longest calls next, so every terminal (actor, cache entry) stays in use. */
class Ring {
  private readonly items: Int32Array;
  private head = 0;
  private tail = 0;
  length = 0;

  constructor(capacity: number) {
    this.items = new Int32Array(capacity);
  }

  push(v: number): void {
    this.items[this.tail] = v;
    this.tail = (this.tail + 1) % this.items.length;
    this.length++;
  }

  shift(): number | undefined {
    if (this.length === 0) return undefined;
    const v = this.items[this.head]!;
    this.head = (this.head + 1) % this.items.length;
    this.length--;
    return v;
  }
}

const until = (predicate: () => boolean, maxMs: number): Promise<void> => new Promise((resolve) => {
  const deadline = performance.now() + maxMs;
  const timer = setInterval(() => {
    if (predicate() || performance.now() > deadline) {
      clearInterval(timer);
      resolve();
    }
  }, 20);
});

/** Connects every terminal (its own address), sends its first call (request 0), holds all connections open, reads the server's RSS. */
export async function connectAndCallOnce(fleet: FleetConnections, opts: { concurrency: number; serverPid: number }, progress: (text: string) => void): Promise<ConnectReport> {
  const started = performance.now();
  const serverStart = sampleProcess(opts.serverPid);
  const selfStart = sampleSelf();
  const latency = new LatencyRecorder(fleet.size);
  const failures: Record<string, number> = {};
  let done = 0;
  let failed = 0;
  const holder = setInterval(() => {
    progress(`connect: ${done}/${fleet.size} terminals connected and called once, ${fleet.openCount} open, ${fleet.heartbeats} heartbeats`);
  }, 1000);
  try {
    await inLanes(fleet.size, opts.concurrency, async (i) => {
      try {
        const conn = await fleet.connect(i);
        const sent = performance.now();
        const reply = await conn.request(fleet.requests[i]![0]!);
        latency.record(performance.now() - sent);
        if (reply.status < 200 || reply.status >= 300) failures[String(reply.status)] = (failures[String(reply.status)] ?? 0) + 1;
      } catch (error) {
        failed++;
        const kind = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : 'error');
        failures[kind] = (failures[kind] ?? 0) + 1;
      }
      done++;
    });
    // Nothing of the first calls may still be in flight when the RSS is read.
    await until(() => fleet.busyCount === 0, 10_000);
  } finally {
    clearInterval(holder);
  }
  const serverEnd = sampleProcess(opts.serverPid);
  return {
    connections: fleet.size - failed, seconds: (performance.now() - started) / 1000, failed,
    serverCores: cpuBetween(serverStart, serverEnd).cores, generatorCores: cpuBetween(selfStart, sampleSelf()).cores,
    callFailures: failures, callLatency: latency.summary(), heartbeats: fleet.heartbeats,
    openConnections: fleet.openCount, serverRssBytes: serverEnd.rssBytes, serverRssFileBytes: serverEnd.rssFileBytes,
  };
}

/** A CPU figure summed over slices: seconds on a CPU and seconds waiting for one (null when a sample had no schedstat). */
interface CpuTotal {
  cpuSec: number;
  waitSec: number | null;
  wallSec: number;
}

const addCpu = (total: CpuTotal, use: CpuUse): void => {
  total.cpuSec += use.cpuSec;
  total.waitSec = total.waitSec === null || use.waitingCores === null ? null : total.waitSec + use.waitingCores * use.wallSec;
  total.wallSec += use.wallSec;
};

const coresOf = (t: CpuTotal): { cores: number; waitingCores: number | null } => ({
  cores: t.wallSec > 0 ? t.cpuSec / t.wallSec : 0,
  waitingCores: t.waitSec === null || t.wallSec <= 0 ? null : t.waitSec / t.wallSec,
});

/** Everything one phase has measured so far, over all its slices. */
class PhaseTotals {
  /** Calls after the open loop's lead-in, and the lead-in's own: every call is in one of them (LatencyRecorder.summaryOf). */
  readonly latency: LatencyRecorder;
  readonly leadIn: LatencyRecorder;
  readonly failures: Record<string, number> = {};
  readonly slices: PhaseSlice[] = [];
  readonly server: CpuTotal = { cpuSec: 0, waitSec: 0, wallSec: 0 };
  readonly generator: CpuTotal = { cpuSec: 0, waitSec: 0, wallSec: 0 };
  ok = 0;
  calls = 0;
  seconds = 0;
  reconnects = 0;
  heartbeats = 0;
  rssStartBytes = -1;
  rssEndBytes = 0;
  rssMaxBytes = 0;
  rssOwnMaxBytes = 0;
  endedBy: PhaseReport['endedBy'] = 'time';

  constructor(readonly spec: PhaseSpec, readonly concurrency: number, capacity: number) {
    this.latency = new LatencyRecorder(capacity);
    this.leadIn = new LatencyRecorder(capacity);
  }

  fail(kind: string, count = 1): void {
    this.failures[kind] = (this.failures[kind] ?? 0) + count;
  }

  report(): PhaseReport {
    const { spec } = this;
    const leadInMs = spec.mode === 'open' ? spec.leadInMs ?? 0 : 0;
    const server = coresOf(this.server);
    const generator = coresOf(this.generator);
    return {
      name: spec.name, mode: spec.mode, seconds: this.seconds, calls: this.calls, ok: this.ok, failures: { ...this.failures },
      reconnects: this.reconnects, heartbeats: this.heartbeats,
      callsPerSec: this.seconds > 0 ? this.ok / this.seconds : 0, concurrency: this.concurrency, targetRate: spec.mode === 'open' ? spec.rate ?? null : null,
      latency: this.latency.summary(), latencyAll: LatencyRecorder.summaryOf(this.latency, this.leadIn), leadIn: spec.mode === 'open' ? { ms: leadInMs, calls: this.leadIn.count } : null,
      endedBy: this.endedBy, slices: [...this.slices],
      server: {
        cpuSec: this.server.cpuSec, cores: server.cores, waitingCores: server.waitingCores, cpuPerCallUs: this.ok > 0 ? (this.server.cpuSec / this.ok) * 1e6 : 0,
        rssStartBytes: this.rssStartBytes, rssEndBytes: this.rssEndBytes, rssMaxBytes: this.rssMaxBytes,
        rssOwnMaxBytes: this.rssOwnMaxBytes,
      },
      generator: {
        cpuSec: this.generator.cpuSec, cores: generator.cores, waitingCores: generator.waitingCores,
        loopDelayP99Ms: Math.max(0, ...this.slices.map((x) => x.generatorLoopDelayP99Ms)),
        gcPauses: this.slices.reduce((sum, x) => sum + x.generatorGcPauses, 0),
        gcPauseMaxMs: Math.max(0, ...this.slices.map((x) => x.generatorGcPauseMaxMs)),
      },
    };
  }
}

/** The phase the last `runPhase` ran, which a spec with `continues` adds its slice to. */
let current: PhaseTotals | null = null;

/**
 * Runs a phase, or with `spec.continues` one more slice of the phase just run (same name), and reports the phase as a
 * whole so far. A slice uses `spec.requests`; the phase's figures are sums over its slices, its latencies all of their calls.
 */
export async function runPhase(fleet: FleetConnections, spec: PhaseSpec, progress: (text: string) => void): Promise<PhaseReport> {
  const [from, to] = spec.requests;
  const n = fleet.size;
  if (spec.continues && current?.spec.name !== spec.name) throw new Error(`"${spec.name}" continues a phase that did not run just before on this generator`);
  // Room for every slice of the phase; the recorders grow if a later slice is larger.
  const totals = spec.continues && current ? current : new PhaseTotals(spec, Math.min(spec.concurrency, n), n * (to - from));
  current = totals;
  const waiting = new Ring(n);
  const cursor = new Int32Array(n).fill(from);
  for (let i = 0; i < n; i++) waiting.push(i);
  const { latency, leadIn } = totals;
  const leadInMs = spec.mode === 'open' ? spec.leadInMs ?? 0 : 0;
  const timeline = timelineFile ? new LatencyRecorder(2 * n * (to - from)) : null;
  const fail = (kind: string): void => totals.fail(kind);
  let ok = 0;
  let calls = 0;
  let endedBy: PhaseReport['endedBy'] = 'time';
  const reconnectsBefore = fleet.reconnects;
  const heartbeatsBefore = fleet.heartbeats;
  const concurrency = Math.min(spec.concurrency, n);

  // The generator's own GC pauses are counted (a stall here shows as server latency), and with a timeline they go
  // there too, with the phase's start.
  const timelineExtras: string[] = [];
  let gcPauses = 0;
  let gcPauseMaxMs = 0;
  const countPauses = (entries: readonly PerformanceEntry[]): void => {
    for (const e of entries) {
      gcPauses++;
      gcPauseMaxMs = Math.max(gcPauseMaxMs, e.duration);
      if (timeline) timelineExtras.push(`${spec.name} generator gc\t${(e.startTime - start).toFixed(2)}\t${e.duration.toFixed(3)}`);
    }
  };
  const gcObserver = new PerformanceObserver((list) => countPauses(list.getEntries()));
  const collectedMs = await collectOwnGarbage();
  // Everything that takes time comes before `start`: the open loop's calls are due from `start` on, and 2–3 ms of
  // sampling /proc after it made the first 30–60 calls of every open-loop phase late before they were sent.
  const serverStart = sampleProcess(spec.serverPid);
  const selfStart = sampleSelf();
  if (totals.rssStartBytes < 0) totals.rssStartBytes = serverStart.rssBytes;
  let rssMax = serverStart.rssBytes;
  let rssOwnMax = ownBytes(serverStart);
  // The generator's own event-loop lag: late sends would show as server latency, so readers need to see it. One
  // histogram per slice: re-enabled after a pause, Node's would count the whole pause as one late tick.
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_PROBE_MS });
  loopDelay.enable();
  gcObserver.observe({ entryTypes: ['gc'] });
  const start = performance.now();
  // Wall-clock start, to line the timeline up with the server's own probe lines (probes/loop-probe.ts).
  timelineExtras.push(`${spec.name} started at epoch ms\t${(performance.timeOrigin + start).toFixed(1)}\t0`);
  const deadline = start + spec.maxSeconds * 1000;
  // A margin before the server would see the pre-signed `created` as stale.
  const freshDeadline = spec.freshUntil * 1000 - 2_000;

  /** Sends terminal t's next request; latency counts from `since` (open loop: when the call was due) or from sending. */
  const call = async (t: number, since: number | null): Promise<void> => {
    const index = cursor[t]!;
    cursor[t] = index + 1;
    calls++;
    try {
      const conn = await fleet.ready(t);
      const sent = performance.now();
      const reply = await conn.request(fleet.requests[t]![index]!);
      const ms = performance.now() - (since ?? sent);
      (since !== null && since - start < leadInMs ? leadIn : latency).record(ms);
      if (timeline) {
        timeline.record((since ?? sent) - start);
        timeline.record(ms);
      }
      if (reply.status >= 200 && reply.status < 300) ok++;
      else fail(String(reply.status));
    } catch (error) {
      fail((error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : 'error'));
    }
    if (cursor[t]! < to) waiting.push(t);
  };
  const stopReason = (): PhaseReport['endedBy'] | null => {
    if (Date.now() > freshDeadline) return 'signature-window';
    if (performance.now() >= deadline) return 'time';
    return null;
  };

  let last = { at: start, calls: 0, server: serverStart, self: selfStart };
  const ticker = setInterval(() => {
    const now = performance.now();
    const server: ProcSample = sampleProcess(spec.serverPid);
    const self = sampleSelf();
    rssMax = Math.max(rssMax, server.rssBytes);
    rssOwnMax = Math.max(rssOwnMax, ownBytes(server));
    const rate = ((calls - last.calls) * 1000) / (now - last.at);
    const failed = Object.values(totals.failures).reduce((a, b) => a + b, 0);
    progress(`${spec.name}: ${((now - start) / 1000).toFixed(0)}/${spec.maxSeconds} s, ${calls.toLocaleString('en-US')} calls, ${rate.toFixed(0)}/s, `
      + `server ${cpuBetween(last.server, server).cores.toFixed(2)} cores ${(server.rssBytes / 2 ** 20).toFixed(0)} MiB, generator ${cpuBetween(last.self, self).cores.toFixed(2)} cores, ${failed} failed`);
    last = { at: now, calls, server, self };
  }, 1000);

  try {
    if (spec.mode === 'closed') {
      const lane = async (): Promise<void> => {
        for (;;) {
          const stop = stopReason();
          if (stop) {
            endedBy = stop;
            return;
          }
          const t = waiting.shift();
          if (t === undefined) {
            endedBy = 'requests-used';
            return;
          }
          await call(t, null);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, lane));
    } else {
      const rate = spec.rate ?? 1;
      const available = n * (to - from);
      const due: number[] = [];
      let dueHead = 0;
      let scheduled = 0;
      let inFlight = 0;
      await new Promise<void>((resolve) => {
        const dispatch = (): void => {
          while (dueHead < due.length && waiting.length > 0) {
            const t = waiting.shift()!;
            inFlight++;
            void call(t, due[dueHead++]!).then(() => {
              inFlight--;
              dispatch();
            });
          }
        };
        // Calls are due at start + k/rate whether or not earlier ones have answered: latency counts from when a call was due.
        // Call k goes out at the first tick at or after its time; the first tick runs now, not a timer period later.
        const tick = (): void => {
          const stop = stopReason();
          if (stop === null && scheduled >= available) {
            endedBy = 'requests-used';
          } else if (stop === null) {
            const target = Math.min(available, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
            for (; scheduled < target; scheduled++) due.push(start + (scheduled * 1000) / rate);
            dispatch();
            return;
          } else {
            endedBy = stop;
          }
          clearInterval(timer);
          void until(() => inFlight === 0 && (dueHead === due.length || waiting.length === 0), 10_000).then(resolve);
        };
        const timer = setInterval(tick, 1);
        tick();
      });
      if (dueHead < due.length) totals.fail('not-sent (no terminal free)', due.length - dueHead);
    }
  } finally {
    clearInterval(ticker);
    loopDelay.disable();
    // Entries are delivered a turn late: a pause at the very end would be missed without this.
    countPauses(gcObserver.takeRecords());
    gcObserver.disconnect();
  }

  const end = performance.now();
  if (timeline && timelineFile) {
    const pairs = timeline.values();
    const lines: string[] = [];
    for (let i = 0; i + 1 < pairs.length; i += 2) lines.push(`${spec.name}\t${pairs[i]!.toFixed(2)}\t${pairs[i + 1]!.toFixed(3)}`);
    fs.appendFileSync(timelineFile, [...lines, ...timelineExtras].join('\n') + '\n');
  }
  const serverEnd = sampleProcess(spec.serverPid);
  const server = cpuBetween(serverStart, serverEnd);
  const seconds = (end - start) / 1000;
  addCpu(totals.server, server);
  addCpu(totals.generator, cpuBetween(selfStart, sampleSelf()));
  totals.ok += ok;
  totals.calls += calls;
  totals.seconds += seconds;
  totals.reconnects += fleet.reconnects - reconnectsBefore;
  totals.heartbeats += fleet.heartbeats - heartbeatsBefore;
  totals.rssEndBytes = serverEnd.rssBytes;
  totals.rssMaxBytes = Math.max(totals.rssMaxBytes, rssMax, serverEnd.rssBytes);
  totals.rssOwnMaxBytes = Math.max(totals.rssOwnMaxBytes, rssOwnMax, ownBytes(serverEnd));
  totals.endedBy = endedBy;
  totals.slices.push({ startedAtMs: performance.timeOrigin + start, seconds, ok, callsPerSec: seconds > 0 ? ok / seconds : 0, serverCpuPerCallUs: ok > 0 ? (server.cpuSec / ok) * 1e6 : 0,
    generatorLoopDelayP99Ms: Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_PROBE_MS), generatorGcPauses: gcPauses, generatorGcPauseMaxMs: gcPauseMaxMs,
    generatorCollectedMs: collectedMs,
  });
  return totals.report();
}
