/** @module What an endurance run (bench/endurance.ts) found: its samples read for trends and bounds, and written as JSON and Markdown. */
import type { EnduranceLoadReport, EnduranceSample } from '../fleet/messages.js';
import { formatMachine, type Machine } from './machine.js';
import { mib, n0 } from './report.js';

/** One sample: the generator's figures for the interval, and the server's as read at its end. */
export interface EnduranceRow extends EnduranceSample {
  serverCores: number;
  rssBytes: number;
  /** RSS less mapped files' pages (ProcSample.rssFileBytes): what the process holds itself. */
  rssOwnBytes: number;
  /** Terminal actors in memory, summed over the front threads; null when server.status did not answer. */
  actors: number | null;
  /** V8 heap in use, summed over the front threads; null as above. */
  heapUsedBytes: number | null;
  /** Addresses the per-address rate limits track, and terminal keys kept parsed, summed over the front threads; null as above. */
  trackedAddresses: number | null;
  cachedKeys: number | null;
  /** The longest a front thread's event loop was late in about the minute before the read (FrontReport.lagMaxMs), the most of any front; null as above. */
  serverLagMaxMs: number | null;
}

export interface EnduranceSettings {
  terminals: number;
  rate: number;
  waveSize: number;
  waveSeconds: number;
  seconds: number;
  sampleSeconds: number;
  actorIdleSec: number;
  threads: number;
  signThreads: number;
}

export interface EnduranceResults {
  when: string;
  machine: Machine;
  command: string;
  settings: EnduranceSettings;
  load: EnduranceLoadReport;
  rows: EnduranceRow[];
  analysis: EnduranceAnalysis;
}

export interface EnduranceAnalysis {
  /** Samples before this many seconds are the warm-up: actors and connections have not yet reached their steady count. */
  warmupSec: number;
  /**
   * The most actors a steady run can hold: a wave's terminals while it calls, and those of the waves before it whose
   * actors are not idle long enough to be evicted yet (the idle time, plus the sweep's period of half of it).
   */
  actorBound: number;
  actorsMax: number | null;
  /** The most addresses the rate limits tracked and terminal keys the fronts kept parsed, summed over the fronts; null when not read. */
  trackedAddressesMax: number | null;
  cachedKeysMax: number | null;
  /**
   * The process's own memory after the warm-up: over how many seconds, first, last, lowest and highest sample, and the
   * least-squares trend (null over less than TREND_MIN_SEC: a heap's breathing would read as a trend), and the trend
   * of its second half alone (null when that half is shorter than TREND_MIN_SEC): memory that fills caches and then
   * stays grows in the first half only, a leak in both alike.
   */
  ownMemory: {
    samples: number; seconds: number; firstBytes: number; lastBytes: number; minBytes: number; maxBytes: number;
    trendBytesPerHour: number | null; lastHalfTrendBytesPerHour: number | null;
  } | null;
  /**
   * The highest p99 of a sample interval after the warm-up, and when, with who was held up then: the server's threads
   * (their longest lag) and the generator's loop. A stall of the server alone is the server's; both at once, the host.
   */
  worstP99: { ms: number; elapsedSec: number; serverLagMaxMs: number | null; generatorLoopDelayMaxMs: number; generatorGcPauseMaxMs: number } | null;
}

/** The shortest stretch after the warm-up whose memory trend is reported. */
export const TREND_MIN_SEC = 300;

/** Least-squares slope of y over x; null with fewer than three points or no spread in x. */
export function slope(points: readonly { x: number; y: number }[]): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : null;
}

export function analyse(settings: EnduranceSettings, rows: readonly EnduranceRow[]): EnduranceAnalysis {
  const sweepSec = Math.max(1, settings.actorIdleSec / 2);
  const wavesAlive = 1 + Math.ceil((settings.actorIdleSec + sweepSec) / settings.waveSeconds);
  const actorBound = Math.min(settings.terminals, settings.waveSize * wavesAlive);
  const warmupSec = settings.actorIdleSec + sweepSec + 2 * settings.waveSeconds;
  const steady = rows.filter((r) => r.elapsedSec >= warmupSec);
  const highest = (of: (row: EnduranceRow) => number | null): number | null => {
    const values = rows.flatMap((r) => { const v = of(r); return v === null ? [] : [v]; });
    return values.length > 0 ? Math.max(...values) : null;
  };
  const own = steady.map((r) => r.rssOwnBytes);
  const seconds = steady.length > 0 ? steady.at(-1)!.elapsedSec - steady[0]!.elapsedSec : 0;
  const trendOf = (stretch: readonly EnduranceRow[], sec: number): number | null =>
    (sec >= TREND_MIN_SEC ? slope(stretch.map((r) => ({ x: r.elapsedSec / 3600, y: r.rssOwnBytes }))) : null);
  const halfway = steady.length > 0 ? steady[0]!.elapsedSec + seconds / 2 : 0;
  const lastHalf = steady.filter((r) => r.elapsedSec >= halfway);
  const worst = steady.filter((r) => r.latency.count > 0).reduce<EnduranceRow | null>((w, r) => (w === null || r.latency.p99Ms > w.latency.p99Ms ? r : w), null);
  return {
    warmupSec, actorBound, actorsMax: highest((r) => r.actors),
    trackedAddressesMax: highest((r) => r.trackedAddresses), cachedKeysMax: highest((r) => r.cachedKeys),
    ownMemory: own.length === 0 ? null : {
      samples: own.length, seconds, firstBytes: own[0]!, lastBytes: own.at(-1)!, minBytes: Math.min(...own), maxBytes: Math.max(...own),
      trendBytesPerHour: trendOf(steady, seconds), lastHalfTrendBytesPerHour: trendOf(lastHalf, seconds / 2),
    },
    worstP99: worst ? { ms: worst.latency.p99Ms, elapsedSec: worst.elapsedSec, serverLagMaxMs: worst.serverLagMaxMs, generatorLoopDelayMaxMs: worst.generatorLoopDelayMaxMs, generatorGcPauseMaxMs: worst.generatorGcPauseMaxMs } : null,
  };
}

const MIB = 2 ** 20;
/** As bench/lib/report.ts writes them, but ms always to 0.01: the samples' latencies are compared row by row. */
const ms = (v: number): string => v.toFixed(2);
const failuresText = (f: Record<string, number>): string => Object.entries(f).map(([k, v]) => `${k}×${v}`).join(' ') || '0';
/** A figure server.status gave, or a dash where it did not answer. */
const orDash = (value: number | null, show: (v: number) => string): string => (value === null ? '–' : show(value));
const mibPerHour = (bytesPerHour: number): string => `${bytesPerHour >= 0 ? '+' : ''}${n0(bytesPerHour / MIB)} MiB an hour`;

/** The verdict lines: what the run shows, each with the figures it rests on. */
export function summaryLines(r: EnduranceResults): string[] {
  const { settings: s, load, analysis: a } = r;
  const failed = load.calls - load.ok;
  const lines = [
    `- Calls: ${n0(load.ok)} of ${n0(load.calls)} answered 2xx (${failed === 0 ? 'none failed' : `${n0(failed)} not: ${failuresText(load.failures)}`}), `
      + `${n0(load.terminals)} distinct terminals in ${load.waves} waves; latency p50 ${ms(load.latency.p50Ms)} / p99 ${ms(load.latency.p99Ms)} / p99.9 ${ms(load.latency.p999Ms)} / max ${ms(load.latency.maxMs)} ms`
      + `; each terminal's first call of its wave (${n0(load.firstCalls.count)} calls: its actor activated again, its key parsed when not kept) p50 ${ms(load.firstCalls.p50Ms)} / p99 ${ms(load.firstCalls.p99Ms)} / max ${ms(load.firstCalls.maxMs)} ms, `
      + `the others p50 ${ms(load.laterCalls.p50Ms)} / p99 ${ms(load.laterCalls.p99Ms)} / max ${ms(load.laterCalls.maxMs)} ms`
      + (a.worstP99 ? `; the worst ${s.sampleSeconds} s after the warm-up had a p99 of ${ms(a.worstP99.ms)} ms (at ${n0(a.worstP99.elapsedSec)} s; `
        + `the longest a server thread's loop was late then ${orDash(a.worstP99.serverLagMaxMs, (v) => `${n0(v)} ms`)}, the generator's ${ms(a.worstP99.generatorLoopDelayMaxMs)} ms, its longest GC pause ${ms(a.worstP99.generatorGcPauseMaxMs)} ms)` : '')
      + (load.skipped > 0 ? `; ${n0(load.skipped)} calls due found no connection of their wave free (each busy, closed by the server, or out of signed calls) and were not sent` : ''),
    a.actorsMax === null
      ? '- Actors: server.status did not answer; not measured.'
      : `- Actors follow activity: at most **${n0(a.actorsMax)}** in memory, of the ${n0(load.terminals)} distinct terminals that called over the run `
        + `(bound: ${n0(a.actorBound)}, a wave of ${n0(s.waveSize)} and the waves before it within the actor idle time of ${s.actorIdleSec} s and its sweep) — `
        + (a.actorsMax <= a.actorBound ? 'within it' : '**above it: actors of past waves were not evicted**')
        + (a.trackedAddressesMax === null || a.cachedKeysMax === null ? '' : `; the fronts tracked at most ${n0(a.trackedAddressesMax)} addresses in their rate limits (forgotten a minute after they are full again) `
          + `and kept at most ${n0(a.cachedKeysMax)} terminal keys parsed (an entry leaves ten minutes after its last use)`),
    a.ownMemory === null
      ? `- The process's own memory: no sample after the warm-up (${n0(a.warmupSec)} s); run longer.`
      : `- The process's own memory (RSS less mapped files' pages) over the ${n0(a.ownMemory.seconds)} s after the warm-up (${n0(a.warmupSec)} s; ${a.ownMemory.samples} samples): `
        + `${mib(a.ownMemory.firstBytes)} → ${mib(a.ownMemory.lastBytes)} (lowest ${mib(a.ownMemory.minBytes)}, highest ${mib(a.ownMemory.maxBytes)})`
        + (a.ownMemory.trendBytesPerHour === null
          ? `; no trend over less than ${TREND_MIN_SEC} s: a heap breathes by tens of MiB between collections`
          : `, least-squares trend ${mibPerHour(a.ownMemory.trendBytesPerHour)}`
            + (a.ownMemory.lastHalfTrendBytesPerHour === null ? '' : `, over its second half alone ${mibPerHour(a.ownMemory.lastHalfTrendBytesPerHour)}`)
            + ' (a heap breathes by tens of MiB between collections: the longer the run, the more the trend says; memory that fills caches grows in the first half, a leak in both)')
        + '.',
    `- Load generator: ${n0(load.signed)} calls signed live (one signing thread ${n0(load.signsPerSec)}/s while it worked), each wave signed during the wave before it; `
      + `each wave's ${n0(s.waveSize)} TLS connections opened during the wave before it on the other of two runner threads, spread over ${load.preconnectSec} s, a handshake taking ${ms(load.handshakeMs)} ms on average.`,
  ];
  return lines;
}

export function enduranceMarkdown(r: EnduranceResults): string {
  const s = r.settings;
  const head = [
    '# Endurance run',
    '',
    `${r.when}. Machine: ${formatMachine(r.machine)}.`,
    '',
    `Command: \`${r.command}\``,
    '',
    `${n0(s.rate)} signed master calls a second (open loop) for ${n0(s.seconds)} s, from waves of ${n0(s.waveSize)} terminals that each connect, call for ${s.waveSeconds} s and disconnect, `
      + `one wave after another through a fleet of ${n0(s.terminals)} paired terminals; the server with ${s.threads} threads and \`--actor-idle ${s.actorIdleSec}\`; a sample every ${s.sampleSeconds} s.`,
    '',
    ...summaryLines(r),
    '',
    '| s | wave | calls/s | p50 / p99 / max, ms | p99 of first calls / the others, ms | failed | server cores (longest lag of a thread, ms) | RSS (own; V8 heaps of the fronts) | actors (addresses tracked; keys kept) | generator cores (loop delay p99 / max; longest GC pause, ms) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const rows = r.rows.map((x) => `| ${n0(x.elapsedSec)} | ${x.wave + 1} | ${n0(x.seconds > 0 ? x.ok / x.seconds : 0)} | ${ms(x.latency.p50Ms)} / ${ms(x.latency.p99Ms)} / ${ms(x.latency.maxMs)} | `
    + `${x.firstCalls.count > 0 ? ms(x.firstCalls.p99Ms) : '–'} / ${ms(x.laterCalls.p99Ms)} | ${failuresText(x.failures)} | ${x.serverCores.toFixed(2)} (${orDash(x.serverLagMaxMs, n0)}) | ${mib(x.rssBytes)} (${mib(x.rssOwnBytes)}; ${orDash(x.heapUsedBytes, mib)}) | ${orDash(x.actors, n0)} (${orDash(x.trackedAddresses, n0)}; ${orDash(x.cachedKeys, n0)}) | ${x.generatorCores.toFixed(2)} (${ms(x.generatorLoopDelayP99Ms)} / ${ms(x.generatorLoopDelayMaxMs)}; ${ms(x.generatorGcPauseMaxMs)}) |`);
  return [...head, ...rows, ''].join('\n');
}
