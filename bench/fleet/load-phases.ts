/** @module The load phases: connect (every terminal connects and calls once, the fleet held open while the server's RSS is read), closed loop (the warm-up and the peak) and open loop (latency at a fixed rate). */
// Calls go round the terminals in order, each on the terminal's own connection, so it always meets the same server thread.
import fs from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { cpuBetween, sampleProcess, sampleSelf, type ProcSample } from '../lib/proc-stats.js';
import type { FleetConnections } from './fleet-connections.js';
import { LatencyRecorder } from './latency.js';
import type { ConnectReport, PhaseReport, PhaseSpec } from './messages.js';

/** Heartbeat a connection idle this long: the server's 10 s idle timeout is checked every 4 s, so it may fire after 8 s. */
const HEARTBEAT_AFTER_MS = 6_500;
/** Connection upkeep runs this often, each time on a share of the fleet, covering all of it every second (see FleetConnections.maintain). */
const MAINTAIN_EVERY_MS = 100;
const MAINTAIN_ROUND_MS = 1_000;
/** Resolution of the generator's own loop-delay probe: the histogram records whole timer intervals, so this is subtracted. */
const LOOP_PROBE_MS = 10;

/**
 * BENCH_LATENCY_TIMELINE=<file>: every call of every measured phase is appended there as one line, `phase, ms since
 * the phase started when the call was due (or sent), latency ms`, to see whether a p99 is one stall or many.
 */
const timelineFile = process.env.BENCH_LATENCY_TIMELINE;

/** Keeps the fleet's connections open and unstuck until stopped. */
function startUpkeep(fleet: FleetConnections): NodeJS.Timeout {
  return setInterval(() => fleet.maintain(performance.now(), HEARTBEAT_AFTER_MS, MAINTAIN_ROUND_MS), MAINTAIN_EVERY_MS);
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
  let next = 0;
  let done = 0;
  let failed = 0;
  const upkeep = startUpkeep(fleet);
  const holder = setInterval(() => {
    progress(`connect: ${done}/${fleet.size} terminals connected and called once, ${fleet.openCount} open, ${fleet.heartbeats} heartbeats`);
  }, 1000);
  try {
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, fleet.size) }, async () => {
      while (next < fleet.size) {
        const i = next++;
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
      }
    }));
    // Nothing of the first calls may still be in flight when the RSS is read.
    await until(() => fleet.busyCount === 0, 10_000);
  } finally {
    clearInterval(holder);
    clearInterval(upkeep);
  }
  const serverEnd = sampleProcess(opts.serverPid);
  return {
    connections: fleet.size - failed, seconds: (performance.now() - started) / 1000, failed,
    serverCores: cpuBetween(serverStart, serverEnd).cores, generatorCores: cpuBetween(selfStart, sampleSelf()).cores,
    callFailures: failures, callLatency: latency.summary(), heartbeats: fleet.heartbeats,
    openConnections: fleet.openCount, serverRssBytes: serverEnd.rssBytes,
  };
}

export async function runPhase(fleet: FleetConnections, spec: PhaseSpec, progress: (text: string) => void): Promise<PhaseReport> {
  const [from, to] = spec.requests;
  const n = fleet.size;
  const waiting = new Ring(n);
  const cursor = new Int32Array(n).fill(from);
  for (let i = 0; i < n; i++) waiting.push(i);
  const latency = new LatencyRecorder(n * (to - from));
  const latencyAll = new LatencyRecorder(n * (to - from));
  const leadInMs = spec.mode === 'open' ? spec.leadInMs ?? 0 : 0;
  let leadInCalls = 0;
  const timeline = timelineFile ? new LatencyRecorder(2 * n * (to - from)) : null;
  const failures: Record<string, number> = {};
  const fail = (kind: string): void => {
    failures[kind] = (failures[kind] ?? 0) + 1;
  };
  let ok = 0;
  let calls = 0;
  let endedBy: PhaseReport['endedBy'] = 'time';
  const reconnectsBefore = fleet.reconnects;
  const heartbeatsBefore = fleet.heartbeats;
  const concurrency = Math.min(spec.concurrency, n);

  // The generator's own GC pauses go to the timeline too (a stall here shows as server latency), and the phase's start.
  const timelineExtras: string[] = [];
  const gcObserver = timeline ? new PerformanceObserver((list) => {
    for (const e of list.getEntries()) timelineExtras.push(`${spec.name} generator gc\t${(e.startTime - start).toFixed(2)}\t${e.duration.toFixed(3)}`);
  }) : null;
  // Everything that takes time comes before `start`: the open loop's calls are due from `start` on, and 2–3 ms of
  // sampling /proc after it made the first 30–60 calls of every open-loop phase late before they were sent.
  const serverStart = sampleProcess(spec.serverPid);
  const selfStart = sampleSelf();
  let rssMax = serverStart.rssBytes;
  // The generator's own event-loop lag: late sends would show as server latency, so readers need to see it.
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_PROBE_MS });
  loopDelay.enable();
  gcObserver?.observe({ entryTypes: ['gc'] });
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
      latencyAll.record(ms);
      if (since !== null && since - start < leadInMs) leadInCalls++;
      else latency.record(ms);
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
  const upkeep = startUpkeep(fleet);
  const ticker = setInterval(() => {
    const now = performance.now();
    const server: ProcSample = sampleProcess(spec.serverPid);
    const self = sampleSelf();
    rssMax = Math.max(rssMax, server.rssBytes);
    const rate = ((calls - last.calls) * 1000) / (now - last.at);
    const failed = Object.values(failures).reduce((a, b) => a + b, 0);
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
      if (dueHead < due.length) failures['not-sent (no terminal free)'] = due.length - dueHead;
    }
  } finally {
    clearInterval(ticker);
    clearInterval(upkeep);
    loopDelay.disable();
  }

  const end = performance.now();
  if (timeline && timelineFile) {
    const pairs = timeline.values();
    const lines: string[] = [];
    for (let i = 0; i + 1 < pairs.length; i += 2) lines.push(`${spec.name}\t${pairs[i]!.toFixed(2)}\t${pairs[i + 1]!.toFixed(3)}`);
    gcObserver?.disconnect();
    fs.appendFileSync(timelineFile, [...lines, ...timelineExtras].join('\n') + '\n');
  }
  const serverEnd = sampleProcess(spec.serverPid);
  const server = cpuBetween(serverStart, serverEnd);
  const self = cpuBetween(selfStart, sampleSelf());
  const seconds = (end - start) / 1000;
  return {
    name: spec.name, mode: spec.mode, seconds, calls, ok, failures, reconnects: fleet.reconnects - reconnectsBefore, heartbeats: fleet.heartbeats - heartbeatsBefore,
    callsPerSec: ok / seconds, concurrency, targetRate: spec.mode === 'open' ? spec.rate ?? null : null,
    latency: latency.summary(), latencyAll: latencyAll.summary(), leadIn: spec.mode === 'open' ? { ms: leadInMs, calls: leadInCalls } : null, endedBy,
    server: {
      cpuSec: server.cpuSec, cores: server.cores, waitingCores: server.waitingCores, cpuPerCallUs: ok > 0 ? (server.cpuSec / ok) * 1e6 : 0,
      rssStartBytes: serverStart.rssBytes, rssEndBytes: serverEnd.rssBytes, rssMaxBytes: Math.max(rssMax, serverEnd.rssBytes),
    },
    generator: { cpuSec: self.cpuSec, cores: self.cores, waitingCores: self.waitingCores, loopDelayP99Ms: Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_PROBE_MS) },
  };
}
