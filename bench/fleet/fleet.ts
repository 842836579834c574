/** @module The end-to-end fleet benchmark: pair N terminals through the real flow, restart the server (start-up, idle memory), then signed RSA-2048 master calls against the server and the node:https baseline side by side (their peaks in turns) with the same requests, then each one's durable writes (signed cash events), and the floor alone. */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Progress } from '../lib/progress.js';
import { cpuBetween, ownBytes, sampleProcess } from '../lib/proc-stats.js';
import { prepareFleet, settle, startAfterCleanStop, startOnEmptyStore, type FleetPairing } from './fleet-setup.js';
import { ensureIdentities, type GenerationReport, type IdentityPlan } from './identities.js';
import { UWS_HEARTBEAT_AFTER_MS } from './fleet-connections.js';
import { GeneratorProcess } from './generator-process.js';
import { takeCashEvents, type StoredWrites } from './cash-events.js';
import type { ConnectReport, PhaseReport, PhaseSpec, PresignReport } from './messages.js';
import type { ServerStatus } from '../../src/protocol/types.js';
import { BASELINE, FLOOR, ROOT, SERVER_CLI, baselineNodeArgs, serverNodeArgs, serverOptions, startProcess, type RunningProcess } from './server-process.js';
import { StatusReader, describeFronts, ensureObserver, frontsBetween, type FrontPhase } from './server-status.js';

export interface FleetOptions {
  terminals: number;
  active: number;
  rsaKeys: number;
  /**
   * Signed calls of a closed-loop phase after the connect and before the peak, not measured (0: none). The connect
   * phase calls each terminal once, on the path of an actor's first message; the steady path (an active actor, a
   * known key) first runs here, and V8 compiles it while it does.
   */
  warmupCalls: number;
  /** Signed calls of the peak phase and of the half-peak phase, spread evenly over the active terminals; both servers get the same requests. */
  peakCalls: number;
  steadyCalls: number;
  /** Open-loop rounds of `steadyCalls` each at the half-peak rate; the median round's p99 is the one judged. */
  steadyRounds: number;
  /**
   * Signed cash events for the server and then the baseline, each after its open-loop rounds, closed loop, after one
   * per terminal not measured (0: none): the durable write path, which answers only once the event is on disk.
   */
  writeCalls: number;
  /**
   * The server's open-loop rate, calls/s, instead of half its peak (null: half its peak). Two builds compared at one
   * rate: a faster build's half peak is a higher rate, and a higher rate has a longer tail of its own.
   */
  steadyRate: number | null;
  /** Longest duration of each measured phase, seconds (a phase normally ends when its calls are used). */
  seconds: number;
  /** The server's and the baseline's peaks alternate in this many slices each (at most one per call a terminal makes in the peak). */
  peakSlices: number;
  /** Calls in flight in the peak phase. */
  concurrency: number;
  /** Server threads to ask for; null: the server's default. */
  threads: number | null;
  pairConcurrency: number;
  /** Use the fleet an earlier run paired with the same plan (its pairing figures are reported as reused). */
  reuseFleet: boolean;
  cacheDir: string;
}

/** A target's cash events: one per terminal not measured, then the measured ones, and how many the store held after. */
export interface TargetWrites {
  warmup: PhaseReport;
  phase: PhaseReport;
  stored: StoredWrites;
}

export interface TargetRun {
  /** Every active terminal connected and called once; RSS read while all were held open. */
  connect: ConnectReport;
  /** The unmeasured closed-loop phase before the peak (`warmupCalls`); null when there was none. */
  warmup: PhaseReport | null;
  peak: PhaseReport;
  /** The open-loop round whose p99 (after the lead-in) is the median of the rounds: the one the p99 target is judged on. */
  steady: PhaseReport;
  /** Every open-loop round, in order: one round of a second or two can be decided by a single stall of the host. */
  steadyRounds: PhaseReport[];
  /** The server's own account of each phase per front thread (server.status); absent for the baseline and the floor. */
  fronts?: { peak: FrontPhase[]; steady: FrontPhase[] };
  /**
   * A peak run in turns with another target's: the process's CPU while the other's slices ran, between its own. Work a
   * slice left behind (GC, LMDB flushes) lands there, where the peak's µs per call does not count it. Absent for a peak run whole.
   */
  betweenSlices?: { seconds: number; cpuSec: number };
}

export interface FleetResult {
  options: FleetOptions;
  serverArgs: string[];
  serverThreads: string;
  identities: GenerationReport;
  pairing: FleetPairing;
  startup: {
    emptySeconds: number; emptyRssBytes: number; registeredSeconds: number; registeredRssBytes: number; registered: number;
    /** Of each RSS, mapped files' pages (ProcSample.rssFileBytes): LMDB's store, which a start that checks its indexes reads whole. */
    emptyRssFileBytes: number; registeredRssFileBytes: number;
    /** The start before the measured one when the store was not sealed (it checked every index: a start after a crash); null: it was. */
    checkedSeconds: number | null;
    /** Whether the measured start itself checked every index (it found no seal of a clean stop): then it is not the start it means to be. */
    registeredChecked: boolean;
  };
  presign: PresignReport;
  server: TargetRun;
  baseline: TargetRun;
  /** uWebSockets.js over the same TLS answering a fixed 200 without any check: its half-peak phase runs at the server's half-peak rate. */
  floor: TargetRun;
  /**
   * The baseline's own floor: the same node:https server with `--checks none`, answering a fixed 200; its half-peak
   * phase runs at the baseline's half-peak rate. What the baseline's checks cost is its CPU per call less this one's.
   * Absent in results written before session 27.
   */
  httpsFloor?: TargetRun;
  /**
   * Each target's cash events: one per terminal not measured (`warmup`), then `writeCalls` measured (`phase`); and how
   * many of both the store held once that target stopped. Null when none ran.
   */
  writes: { server: TargetWrites; baseline: TargetWrites } | null;
  /** Bytes of the server's own memory (RSS less mapped files' pages) per active terminal: (connected − after start-up) ÷ active terminals. */
  memoryPerActiveTerminalBytes: number;
  generator: string;
}


/** `count` distinct free loopback ports: every listener stays open until all are chosen, or the OS could hand out one twice. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/**
 * A pause between the peak and the open-loop phase, the same for every server: the open-loop phase measures latency
 * at its rate, not the drain of the peak's backlog (a timeline of one run had 115 of the first 222 calls over 5 ms).
 */
export const SETTLE_MS = 2_000;

/**
 * The open-loop phase's first calls meet a machine waking from that pause: in one timeline the floor's p99 was 8.34 ms
 * over the whole phase and 2.34 ms without its first 200 ms (the server's 4.99 and 4.64). Every server gets the same
 * lead-in at the phase's rate; its calls are reported apart (`latencyAll`), not dropped.
 */
export const LEAD_IN_MS = 200;

/** The server's log line of a start that found no seal of a clean stop and checked every index (src/main.ts, logStoreUpgrade). */
const CHECKED_INDEXES_LOG = "checked the store's indexes entry by entry";
/** Why a measured start can check: the stop before it did not seal the store, and that server's log says why. */
export const CHECKED_BY_ITSELF = "it found no seal of a clean stop: the stop before it left none, and that server's log says why (BENCH_SERVER_OUTPUT=FILE keeps it)";

/** Work held back for want of a CPU, for a progress line: see CpuUse in bench/lib/proc-stats.ts. */
const waiting = (cores: number | null): string => (cores === null ? '' : ` (+${cores.toFixed(2)} waiting for a CPU)`);

/** The median round by p99 after the lead-in; of an even number, the slower of the middle two. */
export function medianRound<T extends { latency: { p99Ms: number } }>(rounds: readonly T[]): T {
  if (rounds.length === 0) throw new Error('no open-loop round ran');
  const sorted = [...rounds].sort((a, b) => a.latency.p99Ms - b.latency.p99Ms);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Seconds between the `created` of a terminal's first and last pre-signed call, at most. */
export const CREATED_SPAN_SEC = 200;

/**
 * The signed `created` of each of a terminal's `calls` calls, pre-signed at `nowSec`. A terminal signs with its own
 * clock, so its later calls carry later times, and so the server's nonce ring (keyed by `created` first) gets keys in
 * time order, as from a real fleet. One `created` for every call of the run (until session 21) put each flush's nonces at
 * random places among all the run's (some 150,000 in one key range): about 5–35 ms of LMDB writer CPU every half
 * second, which no real fleet causes (bench/JOURNAL.md, session 21). Calls k and k+1 are a second apart (closer when
 * there are more than CREATED_SPAN_SEC of them); all are dated ahead so the whole run stays inside the server's
 * ±300 s window: the last is `nowSec` + 280, the first at most 200 s before it.
 */
export function createdTimes(calls: number, nowSec: number): number[] {
  const last = nowSec + 280;
  const span = Math.min(calls - 1, CREATED_SPAN_SEC);
  return Array.from({ length: calls }, (_, k) => last - span + (calls > 1 ? Math.floor((k * span) / (calls - 1)) : 0));
}

/** The open-loop rate a peak leads to: half of it, at least 1 call/s. */
export const halfPeakRate = (peak: PhaseReport): number => Math.max(1, Math.floor(peak.callsPerSec / 2));

/** The process's own memory (ownBytes) at the two measured starts: on the empty store and with every terminal registered. */
export const startupOwnBytes = (startup: FleetResult['startup']): { empty: number; registered: number } => ({
  empty: ownBytes({ rssBytes: startup.emptyRssBytes, rssFileBytes: startup.emptyRssFileBytes }),
  registered: ownBytes({ rssBytes: startup.registeredRssBytes, rssFileBytes: startup.registeredRssFileBytes }),
});

/** The process's own memory (ownBytes) once every active terminal had connected. */
export const connectOwnBytes = (connect: ConnectReport): number => ownBytes({ rssBytes: connect.serverRssBytes, rssFileBytes: connect.serverRssFileBytes });

/** One measured process and the load-generator process that drives it. */
interface Target {
  label: string;
  gen: GeneratorProcess;
  proc: RunningProcess;
  port: number;
  /** How long one of its connections may idle before a heartbeat: a little under the target's idle timeout. */
  heartbeatAfterMs: number;
  /** The server's own account of its phases (server.status); only the server has one. */
  status?: StatusReader;
}

/** The per-terminal request ranges of each phase: [from, to) of every terminal's pre-signed calls. */
interface Ranges {
  warmup: [number, number] | null;
  peak: [number, number];
  steady: [number, number][];
  /** The cash events, after every ping, the same for both targets: one per terminal first, not measured, then the rest. */
  writeWarmup: [number, number] | null;
  writes: [number, number] | null;
}

/**
 * node:https closes a keep-alive connection after `keepAliveTimeout`, 120 s in the baseline, so its fleet needs no
 * heartbeat while the server takes its turn; each would cost the baseline CPU inside the server's measured phases.
 */
const BASELINE_HEARTBEAT_AFTER_MS = 100_000;

const describeFailures = (failures: Record<string, number>): string => Object.entries(failures).map(([k, v]) => `${k}×${v}`).join(' ') || 'none';

/** Every active terminal connects and calls once; the connections stay open until the target's disconnect. */
async function connectFleet(t: Target, progress: Progress): Promise<ConnectReport> {
  const connect = await t.gen.run<ConnectReport>({ type: 'connect', host: '127.0.0.1', port: t.port, concurrency: 200, serverPid: t.proc.pid, heartbeatAfterMs: t.heartbeatAfterMs });
  progress.done(`${t.label}: ${connect.connections} terminals connected and called once in ${connect.seconds.toFixed(1)} s (server ${connect.serverCores.toFixed(2)} cores, generator ${connect.generatorCores.toFixed(2)} cores; `
    + `failed: ${describeFailures(connect.callFailures)}); ${connect.openConnections} open (${connect.heartbeats} heartbeats), server RSS ${(connect.serverRssBytes / 2 ** 20).toFixed(0)} MiB`);
  return connect;
}

/** The generator's own GC pauses in a phase, as its progress line and RESULTS.md give them. */
export function gcPauses(g: { gcPauses: number; gcPauseMaxMs: number }): string {
  return g.gcPauses === 0 ? 'no GC pause' : `${g.gcPauses} GC pause${g.gcPauses === 1 ? '' : 's'}, longest ${g.gcPauseMaxMs.toFixed(1)} ms`;
}

/** One load phase (or one more slice of it, with `continues`) on the target's generator, and its progress line. */
async function load(t: Target, spec: Omit<PhaseSpec, 'serverPid'>, progress: Progress): Promise<PhaseReport> {
  const report = await t.gen.run<PhaseReport>({ type: 'load', phase: { ...spec, serverPid: t.proc.pid } });
  const slice = report.slices.at(-1)!;
  const prefix = report.slices.length > 1
    ? `${spec.name}, slice ${report.slices.length}: ${slice.ok.toLocaleString('en-US')} ok in ${slice.seconds.toFixed(2)} s = ${slice.callsPerSec.toFixed(0)}/s, server ${slice.serverCpuPerCallUs.toFixed(0)} µs/call; so far `
    : `${spec.name}: `;
  progress.done(`${prefix}${report.ok.toLocaleString('en-US')} ok in ${report.seconds.toFixed(1)} s = ${report.callsPerSec.toFixed(0)}/s, `
    + `p50 ${report.latency.p50Ms.toFixed(2)} p99 ${report.latency.p99Ms.toFixed(2)} p99.9 ${report.latency.p999Ms.toFixed(2)} ms`
    + (report.leadIn ? ` after a ${report.leadIn.ms} ms lead-in of ${report.leadIn.calls} calls (p99 ${report.latencyAll.p99Ms.toFixed(2)} ms with it), ` : ', ')
    + `server ${report.server.cores.toFixed(2)} cores${waiting(report.server.waitingCores)} ${report.server.cpuPerCallUs.toFixed(0)} µs/call, `
    + `generator ${report.generator.cores.toFixed(2)} cores${waiting(report.generator.waitingCores)} (loop delay p99 ${report.generator.loopDelayP99Ms.toFixed(1)} ms, ${gcPauses(report.generator)}), `
    + `failed: ${describeFailures(report.failures)}, ${report.reconnects} reconnects, ${report.heartbeats} heartbeats, ended by ${report.endedBy}`);
  return report;
}

const closedLoop = (opts: FleetOptions, freshUntil: number) => ({ mode: 'closed' as const, maxSeconds: opts.seconds, freshUntil, concurrency: opts.concurrency });

async function warmUp(t: Target, opts: FleetOptions, ranges: Ranges, freshUntil: number, progress: Progress): Promise<PhaseReport | null> {
  if (!ranges.warmup) return null;
  return load(t, { ...closedLoop(opts, freshUntil), name: `${t.label} warm-up (not measured)`, requests: ranges.warmup }, progress);
}

/** `range` cut into `count` contiguous parts of as even a length as whole calls allow (fewer when it is shorter). */
export function sliceRange([from, to]: [number, number], count: number): [number, number][] {
  const n = Math.max(1, Math.min(count, to - from));
  return Array.from({ length: n }, (_, j): [number, number] => [from + Math.round((j * (to - from)) / n), from + Math.round(((j + 1) * (to - from)) / n)]);
}

/**
 * The peaks of several targets in turns: slice 1 of each, then slice 2 of each, and so on. Every slice calls each
 * terminal the same number of times, so a slice lasts a second or two and neither fleet idles long enough to need a
 * heartbeat; a host that speeds up or slows down during the run moves every target's peak alike.
 */
async function alternatePeaks(targets: Target[], opts: FleetOptions, ranges: Ranges, freshUntil: number, progress: Progress): Promise<{ peaks: PhaseReport[]; fronts: (FrontPhase[] | undefined)[]; betweenSlices: TargetRun['betweenSlices'][] }> {
  const slices = sliceRange(ranges.peak, opts.peakSlices);
  const before = await Promise.all(targets.map((t) => t.status?.read()));
  const cpuBefore = targets.map((t) => sampleProcess(t.proc.pid));
  const peaks: PhaseReport[] = [];
  for (const [j, requests] of slices.entries()) {
    for (const [i, t] of targets.entries()) {
      peaks[i] = await load(t, { ...closedLoop(opts, freshUntil), name: `${t.label} peak`, requests, continues: j > 0 }, progress);
    }
  }
  const betweenSlices = targets.map((t, i) => {
    const whole = cpuBetween(cpuBefore[i]!, sampleProcess(t.proc.pid));
    const between = { seconds: whole.wallSec - peaks[i]!.seconds, cpuSec: Math.max(0, whole.cpuSec - peaks[i]!.server.cpuSec) };
    progress.done(`${t.label}, while the other target's peak slices ran: ${(between.cpuSec * 1000).toFixed(0)} ms of CPU in ${between.seconds.toFixed(1)} s, `
      + `${((100 * between.cpuSec) / Math.max(1e-9, peaks[i]!.server.cpuSec)).toFixed(1)}% of its slices' CPU (work they left behind, not in their µs per call)`);
    return between;
  });
  const after = await Promise.all(targets.map((t) => t.status?.read()));
  const fronts = targets.map((t, i) => (t.status ? account(progress, `${t.label} peak`, before[i], after[i]) : undefined));
  return { peaks, fronts, betweenSlices };
}

/** Per front thread, what the server counted between two reads of its status; empty when either read is missing. */
function account(progress: Progress, name: string, before: ServerStatus | undefined, after: ServerStatus | undefined): FrontPhase[] {
  if (!before || !after) return [];
  const fronts = frontsBetween(before, after);
  progress.done(`${name}, as the server counts it: ${describeFronts(fronts)}`);
  return fronts;
}

/** The open-loop rounds at `rate`, each after the pause; the median round is the one judged. */
async function openLoopRounds(t: Target, opts: FleetOptions, ranges: Ranges, freshUntil: number, rate: number, rateName: string, progress: Progress): Promise<{ steady: PhaseReport; steadyRounds: PhaseReport[]; fronts?: FrontPhase[] }> {
  const rounds: { report: PhaseReport; before: ServerStatus | undefined; after: ServerStatus | undefined }[] = [];
  let status = await t.status?.read();
  for (const [i, requests] of ranges.steady.entries()) {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const name = `${t.label} at ${rateName} (${rate}/s)${ranges.steady.length > 1 ? `, round ${i + 1} of ${ranges.steady.length}` : ''}`;
    const report = await load(t, { name, mode: 'open', rate, leadInMs: LEAD_IN_MS, maxSeconds: opts.seconds, freshUntil, concurrency: opts.concurrency, requests }, progress);
    const after = await t.status?.read();
    rounds.push({ report, before: status, after });
    status = after;
  }
  const steadyRounds = rounds.map((r) => r.report);
  const steady = medianRound(steadyRounds);
  const median = steadyRounds.indexOf(steady);
  if (rounds.length > 1) {
    progress.done(`${t.label} at ${rateName}: p99 ${steadyRounds.map((r) => r.latency.p99Ms.toFixed(2)).join(', ')} ms in ${rounds.length} rounds; the median is round ${median + 1}`);
  }
  if (!t.status) return { steady, steadyRounds };
  return { steady, steadyRounds, fronts: account(progress, `${t.label} at ${rateName}, round ${median + 1}`, rounds[median]!.before, rounds[median]!.after) };
}

/**
 * A target's cash events, after the pause, in a closed loop: each is answered once it is durable, so this is the
 * rate at which the store's commits and flushes keep up with a fleet reporting banknotes. One event per terminal
 * first, not measured, as the pings' warm-up: V8 compiles the write path there.
 */
async function writePhases(t: Target, opts: FleetOptions, ranges: Ranges, freshUntil: number, progress: Progress): Promise<Omit<TargetWrites, 'stored'> | null> {
  if (!ranges.writes || !ranges.writeWarmup) return null;
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const warmup = await load(t, { ...closedLoop(opts, freshUntil), name: `${t.label} cash events, warm-up (not measured)`, requests: ranges.writeWarmup }, progress);
  const phase = await load(t, { ...closedLoop(opts, freshUntil), name: `${t.label} cash events (durable writes)`, requests: ranges.writes }, progress);
  return { warmup, phase };
}

/** One target on its own: connect, warm-up, the peak whole, then the open-loop rounds at `steadyRate` (named `rateName` in the progress lines). */
async function driveAlone(t: Target, opts: FleetOptions, ranges: Ranges, freshUntil: number, steadyRate: number, rateName: string, progress: Progress): Promise<TargetRun> {
  const connect = await connectFleet(t, progress);
  const warmup = await warmUp(t, opts, ranges, freshUntil, progress);
  const peak = await load(t, { ...closedLoop(opts, freshUntil), name: `${t.label} peak`, requests: ranges.peak }, progress);
  const { steady, steadyRounds } = await openLoopRounds(t, opts, ranges, freshUntil, steadyRate, rateName, progress);
  await t.gen.run({ type: 'disconnect' });
  return { connect, warmup, peak, steady, steadyRounds };
}

/**
 * The server and the baseline side by side for the peak, each with its own generator process (one process cannot hold
 * both fleets' 20,000 connections under this machine's limit of 20,000 open files). Both fleets connect and warm up,
 * then the peaks alternate in slices. The open-loop rounds judge latency, not a ratio, and any other process awake
 * beside them (an idle Node process still collects its garbage) would be in their tail: so the baseline and its
 * generator stop, the server's rounds run alone, then its cash events (`writePhases`), the server stops and its events
 * are counted and removed (`takeWrites`), and a fresh baseline (`restartBaseline`) connects, warms up, runs its
 * rounds and then the same cash events alone.
 */
async function driveSideBySide(server: Target, baseline: Target, restartBaseline: () => Promise<Target>, takeWrites: () => Promise<StoredWrites>, opts: FleetOptions, ranges: Ranges, freshUntil: number, progress: Progress): Promise<{ server: TargetRun; baseline: TargetRun; writes: FleetResult['writes'] }> {
  // The baseline's fleet connects first: it may idle for as long as the server's takes, the server's may not.
  const baselineConnect = await connectFleet(baseline, progress);
  const serverConnect = await connectFleet(server, progress);
  const baselineWarmup = await warmUp(baseline, opts, ranges, freshUntil, progress);
  const serverWarmup = await warmUp(server, opts, ranges, freshUntil, progress);
  const { peaks: [serverPeak, baselinePeak], fronts: [serverPeakFronts], betweenSlices: [serverBetween, baselineBetween] } = await alternatePeaks([server, baseline], opts, ranges, freshUntil, progress);
  await baseline.gen.run({ type: 'disconnect' });
  await baseline.proc.stop();
  baseline.gen.stop();

  const serverRounds = await openLoopRounds(server, opts, ranges, freshUntil, opts.steadyRate ?? halfPeakRate(serverPeak!), opts.steadyRate === null ? 'half peak' : 'the fixed rate', progress);
  const serverWrites = await writePhases(server, opts, ranges, freshUntil, progress);
  await server.gen.run({ type: 'disconnect' });
  await server.proc.stop();
  // The baseline gets the very same events: the server's are counted and removed first, so its count is its own.
  const serverStored = serverWrites ? await takeWrites() : null;

  // A new process has an empty replay window, so it takes the same requests from the connect's on, as the first did.
  const again = await restartBaseline();
  progress.done('baseline: started again, alone, for its open-loop rounds, with a generator of its own');
  await connectFleet(again, progress);
  await warmUp(again, opts, ranges, freshUntil, progress);
  const baselineRounds = await openLoopRounds(again, opts, ranges, freshUntil, halfPeakRate(baselinePeak!), 'half peak', progress);
  const baselineWrites = await writePhases(again, opts, ranges, freshUntil, progress);
  await again.gen.run({ type: 'disconnect' });
  await again.proc.stop();
  again.gen.stop();
  const baselineStored = baselineWrites ? await takeWrites() : null;
  return {
    writes: serverWrites && serverStored && baselineWrites && baselineStored
      ? { server: { ...serverWrites, stored: serverStored }, baseline: { ...baselineWrites, stored: baselineStored } }
      : null,
    server: {
      connect: serverConnect, warmup: serverWarmup, peak: serverPeak!, steady: serverRounds.steady, steadyRounds: serverRounds.steadyRounds,
      ...(server.status ? { fronts: { peak: serverPeakFronts ?? [], steady: serverRounds.fronts ?? [] } } : {}),
      ...(serverBetween ? { betweenSlices: serverBetween } : {}),
    },
    baseline: {
      connect: baselineConnect, warmup: baselineWarmup, peak: baselinePeak!, steady: baselineRounds.steady, steadyRounds: baselineRounds.steadyRounds,
      ...(baselineBetween ? { betweenSlices: baselineBetween } : {}),
    },
  };
}

export async function runFleet(opts: FleetOptions): Promise<FleetResult> {
  const progress = new Progress();
  const active = Math.min(opts.active, opts.terminals);
  const plan: IdentityPlan = { cacheDir: path.join(opts.cacheDir, 'identities'), rsa: active, ec: opts.terminals - active, rsaKeys: opts.rsaKeys };
  const identities = await ensureIdentities(plan, os.cpus().length, (t) => progress.update(t));
  progress.done(`identities: ${plan.rsa} RSA-2048 (${Math.min(plan.rsaKeys, plan.rsa)} distinct keys) + ${plan.ec} P-256 terminals ready`
    + (identities.seconds > 0 ? ` (generated in ${identities.seconds.toFixed(0)} s, cached in ${path.relative(ROOT, plan.cacheDir)})` : ' (from cache)'));

  const [gate, master, admin, baselinePort, floorPort, httpsFloorPort] = await freePorts(6) as [number, number, number, number, number, number];
  const ports = { gate, master, admin };
  const supported = await serverOptions();
  const extra: string[] = [];
  if (supported.has('threads')) extra.push('--threads', String(opts.threads ?? os.cpus().length));
  // Pairing a fleet from one machine is far above the gate's internet-facing global budget; each terminal has its own address.
  if (supported.has('gate-global-rate')) extra.push('--gate-global-rate', '1000000');
  const serverArgs = (dataDir: string): string[] => [
    '--data-dir', dataDir, '--host', '127.0.0.1', '--gate-port', String(ports.gate), '--master-port', String(ports.master), '--admin-port', String(ports.admin), ...extra,
  ];

  const gen = GeneratorProcess.start((t) => progress.update(t));
  /** The baseline's generators (a fresh one with each baseline process). */
  const generators: GeneratorProcess[] = [];
  const running: RunningProcess[] = [];
  const start = async (script: string, args: string[], nodeArgs?: string[]): Promise<RunningProcess> => {
    const proc = await startProcess(script, args, nodeArgs);
    running.push(proc);
    return proc;
  };
  // In memory where the system has a tmpfs: 100 MB written to a disk would be flushed by the kernel some 30 s later, inside the measured phases.
  const requestsDir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'cas-bench-presigned-'));
  const removeRequests = (): void => fs.rmSync(requestsDir, { recursive: true, force: true });
  // An interrupted run stops what it started and removes the file (a tmpfs would keep it in memory until reboot),
  // then dies of the signal. The generators exit by themselves when this process goes.
  const onSignal = (signal: NodeJS.Signals): void => {
    for (const p of running) p.terminate();
    removeRequests();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const fleet = await prepareFleet({ plan, cacheDir: opts.cacheDir, reuse: opts.reuseFleet, pairConcurrency: opts.pairConcurrency, serverArgs, ports, gen, progress });
    await ensureObserver(fleet.dataDir);
    const checkedSeconds = await startAfterCleanStop(fleet.dataDir, serverArgs, serverNodeArgs());
    const empty = await startOnEmptyStore(fleet.dataDir, serverArgs, serverNodeArgs());
    const proc = await start(SERVER_CLI, serverArgs(fleet.dataDir), serverNodeArgs());
    await settle();
    const registered = sampleProcess(proc.pid);
    const startup: FleetResult['startup'] = {
      emptySeconds: empty.seconds, emptyRssBytes: empty.rssBytes, emptyRssFileBytes: empty.rssFileBytes,
      registeredSeconds: proc.startupSeconds, registeredRssBytes: registered.rssBytes, registeredRssFileBytes: registered.rssFileBytes, registered: opts.terminals,
      checkedSeconds, registeredChecked: proc.startLines.some((line) => line.includes(CHECKED_INDEXES_LOG)),
    };
    progress.done(`start-up with ${opts.terminals} registered terminals: ${startup.registeredSeconds.toFixed(2)} s, RSS ${(startup.registeredRssBytes / 2 ** 20).toFixed(0)} MiB (empty store: ${(startup.emptyRssBytes / 2 ** 20).toFixed(0)} MiB)`
      + (checkedSeconds === null ? '' : `; the start before it, on a store written since the server's last clean stop, checked every index first: ${checkedSeconds.toFixed(2)} s`)
      + (startup.registeredChecked ? `; this start checked every index too (${CHECKED_BY_ITSELF}): its seconds and RSS are a checked start's` : ''));

    // Per terminal: the connect's call, then its share of the warm-up, of the peak and of each half-peak round.
    const warmupEnd = 1 + Math.ceil(opts.warmupCalls / active);
    const peakEnd = warmupEnd + Math.ceil(opts.peakCalls / active);
    const perRound = Math.ceil(opts.steadyCalls / active);
    const perTerminal = peakEnd + opts.steadyRounds * perRound;
    // One more per terminal, first, for the writes' warm-up.
    const writesPerTerminal = opts.writeCalls > 0 ? 1 + Math.ceil(opts.writeCalls / active) : 0;
    const ranges: Ranges = {
      writeWarmup: writesPerTerminal > 0 ? [perTerminal, perTerminal + 1] : null,
      writes: writesPerTerminal > 0 ? [perTerminal + 1, perTerminal + writesPerTerminal] : null,
      warmup: warmupEnd > 1 ? [1, warmupEnd] : null,
      peak: [warmupEnd, peakEnd],
      steady: Array.from({ length: opts.steadyRounds }, (_, i): [number, number] => [peakEnd + i * perRound, peakEnd + (i + 1) * perRound]),
    };
    const createdOf = createdTimes(perTerminal + writesPerTerminal, Math.floor(Date.now() / 1000));
    const created = createdOf[0]!;
    const requestsFile = path.join(requestsDir, 'requests.bin');
    const presign = await gen.run<PresignReport>({ type: 'presign', plan, perTerminal, writesPerTerminal, created: createdOf, signThreads: os.cpus().length, saveTo: requestsFile });
    progress.done(`pre-signed ${presign.requests.toLocaleString('en-US')} master calls (${(active * writesPerTerminal).toLocaleString('en-US')} of them cash events) in ${presign.seconds.toFixed(1)} s (${presign.signsPerSec.toFixed(0)}/s on ${presign.threads} threads), before any measured phase`);
    const freshUntil = created + 300;
    const baselineTarget = async (): Promise<Target> => {
      const baselineGen = GeneratorProcess.start((t) => progress.update(t));
      generators.push(baselineGen);
      await baselineGen.run({ type: 'load-requests', file: requestsFile });
      const baselineProc = await start(BASELINE, ['--data-dir', fleet.dataDir, '--port', String(baselinePort)], baselineNodeArgs());
      await settle();
      return { label: 'baseline', gen: baselineGen, proc: baselineProc, port: baselinePort, heartbeatAfterMs: BASELINE_HEARTBEAT_AFTER_MS };
    };
    const baselineFirst = await baselineTarget();
    const status = await StatusReader.connect(ports.admin, String(proc.ready.sfp));
    const takeWrites = async (): Promise<StoredWrites> => {
      const stored = await takeCashEvents(fleet.dataDir, created);
      progress.done(`cash events: ${stored.thisRun.toLocaleString('en-US')} in the store after the process stopped; ${stored.removed.toLocaleString('en-US')} removed, so the next target and a reused fleet start without them`);
      return stored;
    };
    const { server, baseline, writes } = await driveSideBySide(
      { label: 'server', gen, proc, port: ports.master, heartbeatAfterMs: UWS_HEARTBEAT_AFTER_MS, status },
      baselineFirst, baselineTarget, takeWrites,
      opts, ranges, freshUntil, progress,
    ).finally(() => status.close());
    removeRequests();

    // Last, alone, and at the server's half-peak rate: what the generator, Node, uWS and TLS cost on this machine before any of our work.
    const floorProc = await start(FLOOR, ['--data-dir', fleet.dataDir, '--port', String(floorPort)]);
    await settle();
    const floorTarget: Target = { label: 'floor', gen, proc: floorProc, port: floorPort, heartbeatAfterMs: UWS_HEARTBEAT_AFTER_MS };
    const floor = await driveAlone(floorTarget, opts, ranges, freshUntil, server.steady.targetRate ?? halfPeakRate(server.peak), opts.steadyRate === null ? "the server's half peak" : 'the fixed rate', progress);
    await floorProc.stop();

    // The baseline's floor, alone, at the baseline's half-peak rate, with the baseline's Node flags: the node:https
    // share of the baseline's CPU per call, so that its checks' share is the difference.
    const httpsFloorProc = await start(BASELINE, ['--data-dir', fleet.dataDir, '--port', String(httpsFloorPort), '--checks', 'none'], baselineNodeArgs());
    await settle();
    const httpsFloorTarget: Target = { label: 'node:https floor', gen, proc: httpsFloorProc, port: httpsFloorPort, heartbeatAfterMs: BASELINE_HEARTBEAT_AFTER_MS };
    const httpsFloor = await driveAlone(httpsFloorTarget, opts, ranges, freshUntil, halfPeakRate(baseline.peak), "the baseline's half peak", progress);
    await httpsFloorProc.stop();

    return {
      options: opts, serverArgs: extra, serverThreads: supported.has('threads') ? String(opts.threads ?? os.cpus().length) : '1 (this build has no --threads)',
      identities, pairing: fleet.pairing, startup, presign, server, baseline, floor, httpsFloor, writes,
      memoryPerActiveTerminalBytes: (connectOwnBytes(server.connect) - startupOwnBytes(startup).registered) / active,
      generator: `separate processes, one per measured process; ${presign.requests.toLocaleString('en-US')} RSA-2048 calls pre-signed on ${presign.threads} worker threads before the measured phases, the same requests for every target; `
        + 'each one event loop writing pre-built requests on raw keep-alive TLS sockets (one per active terminal, each from its own 127.x address)',
    };
  } catch (error) {
    const last = running.at(-1);
    if (last) process.stderr.write(`last output of the process started last:\n${last.tail()}\n`);
    throw error;
  } finally {
    for (const p of running) await p.stop();
    gen.stop();
    for (const g of generators) g.stop();
    removeRequests();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
