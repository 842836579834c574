/** @module The run's results: the issue's targets checked against the measurements, and the short Markdown report (bench/RESULTS.md). */
import path from 'node:path';
import { CHECKED_BY_ITSELF, connectOwnBytes, gcPauses, halfPeakRate, LEAD_IN_MS, SETTLE_MS, startupOwnBytes, type FleetResult, type TargetRun, type TargetWrites } from '../fleet/fleet.js';
import { ROOT } from '../fleet/server-process.js';
import { describeFronts, type FrontPhase } from '../fleet/server-status.js';
import { formatMachine, type Machine } from './machine.js';
import type { PhaseReport } from '../fleet/messages.js';
import type { MicroResult } from './micro-runner.js';
import type { OpensslSpeed } from './openssl-speed.js';

export interface Target {
  name: string;
  goal: string;
  measured: string;
  pass: boolean | null;
}

export interface RunResults {
  command: string;
  startedAt: string;
  minutes: number;
  machine: Machine;
  openssl: OpensslSpeed | null;
  /** RSA-2048 only, measured again after the fleet: how far the host's speed moved during the run. */
  opensslAfter: OpensslSpeed | null;
  micro: MicroResult[];
  fleet: FleetResult | null;
  targets: Target[];
}

const MIB = 2 ** 20;
export const n0 = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => n.toFixed(n < 10 ? 2 : 1);
export const mib = (bytes: number): string => `${n0(bytes / MIB)} MiB`;

/** ", after a 200 ms lead-in at the rate; 5.12 ms counting its 1,050 calls" for an open-loop phase that had one. */
/** "3.71, 5.02, 4.40" : each open-loop round's p99 after the lead-in, in the order they ran. */
const roundP99s = (rounds: readonly PhaseReport[]): string => rounds.map((r) => ms(r.latency.p99Ms)).join(', ');

/**
 * The server's peak over the baseline's, slice j against slice j (they ran in turns), for the slices both ran; null
 * where the baseline's slice answered nothing. Empty for fewer than two: one slice is the pooled ratio itself.
 */
function ratiosBySlice(server: PhaseReport, baseline: PhaseReport): (number | null)[] {
  const n = Math.min(server.slices.length, baseline.slices.length);
  if (n < 2) return [];
  return Array.from({ length: n }, (_, j) => {
    const b = baseline.slices[j]!.callsPerSec;
    return b > 0 ? server.slices[j]!.callsPerSec / b : null;
  });
}

/** "2.95×, 3.04×, 2.99×" (ratiosBySlice), or '' for one slice. */
export function sliceRatios(server: PhaseReport, baseline: PhaseReport): string {
  return ratiosBySlice(server, baseline).map((r) => (r === null ? '—' : `${r.toFixed(2)}×`)).join(', ');
}

/** Student's t at 97.5% for 1–10 degrees of freedom; beyond, the table's last entry errs on the wide side. */
const T_975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];

/**
 * The 95% confidence interval of the mean of the slice-by-slice ratios (server ÷ baseline, slice j against slice j),
 * or null for fewer than two slices or a baseline slice that answered nothing. Each pair ran back to back, so a host
 * that moved during the run moves both halves of a pair; what is left is the noise of a 1–2 s slice, and this says
 * how far the ratio can be trusted.
 */
export function sliceRatioInterval(server: PhaseReport, baseline: PhaseReport): { mean: number; low: number; high: number; n: number } | null {
  const ratios = ratiosBySlice(server, baseline).filter((r): r is number => r !== null);
  const n = ratios.length;
  if (n < 2 || n < Math.min(server.slices.length, baseline.slices.length)) return null;
  const mean = ratios.reduce((a, r) => a + r, 0) / n;
  const sd = Math.sqrt(ratios.reduce((a, r) => a + (r - mean) ** 2, 0) / (n - 1));
  const half = T_975[Math.min(n - 1, T_975.length) - 1]! * (sd / Math.sqrt(n));
  return { mean, low: mean - half, high: mean + half, n };
}

const leadIn = (phase: PhaseReport): string =>
  (phase.leadIn && phase.leadIn.ms > 0 ? `, after a ${phase.leadIn.ms} ms lead-in at the rate; ${ms(phase.latencyAll.p99Ms)} ms counting its ${n0(phase.leadIn.calls)} calls` : '');

/**
 * The p99 target's verdict on the round judged, or null when it cannot be judged: a p99 of fewer than 100 calls is
 * one of the slowest few (a tiny run, or a lead-in as long as the phase), and a rate below half the peak
 * (--steady-rate) asks less than the target does.
 */
export function p99Verdict(round: { latency: { count: number; p99Ms: number }; targetRate: number | null }, halfPeak: number): boolean | null {
  if (round.latency.count < 100 || (round.targetRate ?? 0) < halfPeak) return null;
  return round.latency.p99Ms < 5;
}

/** The issue's scale for start-up and idle memory: "100,000 registered terminals". */
const TARGET_REGISTERED = 100_000;
/** Idle terminals below which two processes' RSS (±10 MiB between starts) says nothing at 1 KiB a terminal. */
const IDLE_TO_JUDGE = 50_000;
const NOT_AT_SCALE = ' (the target is at 100,000 registered: not judged here; `--terminals 100000 --active 10000`)';

export function evaluateTargets(fleet: FleetResult | null, openssl: OpensslSpeed | null): Target[] {
  if (!fleet) return [];
  const { server, baseline, floor, startup, pairing } = fleet;
  const active = Math.min(fleet.options.active, fleet.options.terminals);
  const ratio = baseline.peak.callsPerSec > 0 ? server.peak.callsPerSec / baseline.peak.callsPerSec : 0;
  const verifyUs = openssl?.rsa2048 ? 1e6 / openssl.rsa2048.verify : null;
  // Actor memory is the process's own: pages of the mapped store are the kernel's cache, and a start that reads more
  // of it (one that checks every index reads it whole: +456 MiB at 100,000) holds more of them, whatever it keeps.
  const startOwn = startupOwnBytes(startup);
  const idleBytes = startOwn.registered - startOwn.empty;
  const idleRssBytes = startup.registeredRssBytes - startup.emptyRssBytes;
  const idle = startup.registered - active;
  const atScale = startup.registered >= TARGET_REGISTERED;
  // The highest reading while every active terminal's connection was open: right after the connect is the lowest.
  const activePhases = [server.warmup, server.peak, server.steady, fleet.writes?.server.warmup, fleet.writes?.server.phase].flatMap((phase) => (phase ? [phase] : []));
  const activeRss = Math.max(server.connect.serverRssBytes, ...activePhases.map((phase) => phase.server.rssMaxBytes));
  // What of it the process holds itself; the rest is pages of LMDB's mapped store (and the binaries) the kernel can drop.
  const activeOwnRss = Math.max(connectOwnBytes(server.connect), ...activePhases.map((phase) => phase.server.rssOwnMaxBytes));
  // The server's CPU while the baseline's slices ran is work its own slices left behind: the target counts it.
  const leftBehindUs = server.betweenSlices && server.peak.ok > 0 ? (server.betweenSlices.cpuSec / server.peak.ok) * 1e6 : 0;
  const cpuPerCall = server.peak.server.cpuPerCallUs + leftBehindUs;
  const halfPeak = halfPeakRate(server.peak);
  const fixedRate = fleet.options.steadyRate;
  const bySlice = sliceRatios(server.peak, baseline.peak);
  const interval = sliceRatioInterval(server.peak, baseline.peak);
  return [
    {
      name: 'Signed master calls (RSA-2048) vs the node:https baseline', goal: '≥ 3×',
      measured: `${ratio.toFixed(2)}× (${n0(server.peak.callsPerSec)}/s vs ${n0(baseline.peak.callsPerSec)}/s`
        + (bySlice ? `, measured in turns: ${server.peak.slices.length} slices each, slice by slice ${bySlice}` : '')
        + (interval ? `; the slices' mean ${interval.mean.toFixed(2)}×, 95% interval ${interval.low.toFixed(2)}–${interval.high.toFixed(2)}×` : '')
        + `); the floor server, which checks nothing, reached ${n0(floor.peak.callsPerSec)}/s = ${(floor.peak.callsPerSec / Math.max(1, baseline.peak.callsPerSec)).toFixed(2)}× with the generator at ${floor.peak.generator.cores.toFixed(2)} cores`
        + (fleet.httpsFloor ? `; node:https with no check at all reached ${n0(fleet.httpsFloor.peak.callsPerSec)}/s, so the server is ${(server.peak.callsPerSec / Math.max(1, fleet.httpsFloor.peak.callsPerSec)).toFixed(2)}× a node:https server that checks nothing` : ''),
      pass: ratio >= 3,
    },
    {
      name: 'Server CPU per call vs one RSA-2048 verify (openssl speed, this run)', goal: '≤ 2×',
      measured: (verifyUs === null ? `${n0(cpuPerCall)} µs (no openssl figure)` : `${(cpuPerCall / verifyUs).toFixed(2)}× (${n0(cpuPerCall)} µs vs ${verifyUs.toFixed(1)} µs)`)
        + (leftBehindUs > 0 ? `, counting the ${leftBehindUs.toFixed(1)} µs per call it spent while the baseline's slices ran` : '')
        + `; the floor server costs ${n0(floor.peak.server.cpuPerCallUs)} µs per call with no check at all`,
      pass: verifyUs === null ? null : cpuPerCall <= 2 * verifyUs,
    },
    {
      name: fixedRate === null
        ? `p99 latency at half the peak rate (${n0(server.steady.targetRate ?? 0)}/s)`
        : `p99 latency at the fixed rate of ${n0(fixedRate)}/s (--steady-rate; half the peak: ${n0(halfPeak)}/s)`,
      goal: '< 5 ms',
      measured: (server.steadyRounds.length > 1 ? `${ms(server.steady.latency.p99Ms)} ms, the median of ${server.steadyRounds.length} rounds (each round's p99: ${roundP99s(server.steadyRounds)} ms); in the median round ` : `${ms(server.steady.latency.p99Ms)} ms: `)
        + `${n0(server.steady.latency.count)} calls (achieved ${n0(server.steady.callsPerSec)}/s${leadIn(server.steady)}); the floor server at the same rate: ${ms(floor.steady.latency.p99Ms)} ms`
        + (floor.steadyRounds.length > 1 ? ` (rounds: ${roundP99s(floor.steadyRounds)} ms)` : '')
        + (server.steady.server.waitingCores === null ? '' : `; meanwhile the server's threads waited for a CPU ${server.steady.server.waitingCores.toFixed(2)} cores' worth while running ${server.steady.server.cores.toFixed(2)}`),
      pass: p99Verdict(server.steady, halfPeak),
    },
    {
      name: `Start-up with ${n0(startup.registered)} registered terminals`, goal: '< 5 s at 100,000',
      measured: (startup.registeredChecked ? `${startup.registeredSeconds.toFixed(2)} s, a start that checked every index (${CHECKED_BY_ITSELF})` : `${startup.registeredSeconds.toFixed(2)} s after a clean stop`)
        + (startup.checkedSeconds == null ? '' : ` (a start that first checks every index, as after a crash: ${startup.checkedSeconds.toFixed(2)} s)`) + (atScale ? '' : NOT_AT_SCALE),
      pass: atScale ? startup.registeredSeconds < 5 : null,
    },
    {
      name: `Idle terminals cost no actor memory (the process's own memory after start-up, ${n0(startup.registered)} registered vs empty store)`, goal: '≈ 0 per idle terminal',
      measured: `${idleBytes >= 0 ? '+' : ''}${mib(idleBytes)} (${n0(idleBytes / startup.registered)} B per terminal; RSS with the mapped store's pages ${idleRssBytes >= 0 ? '+' : ''}${mib(idleRssBytes)})`
        + (idle >= IDLE_TO_JUDGE ? `; ${n0(idle)} of them idle` : `; with ${n0(idle)} idle terminals two starts' RSS differ by noise more than by them: judged at 100,000 registered, 10,000 active (\`--terminals 100000\`)`),
      pass: idle >= IDLE_TO_JUDGE ? idleBytes / startup.registered < 1024 : null,
    },
    {
      name: `RSS with ${n0(active)} active keep-alive terminals`, goal: '< 1 GiB',
      measured: `${mib(activeRss)} at most with ${n0(server.connect.openConnections)} connections open, over the connect and every phase after it (${mib(server.connect.serverRssBytes)} right after the connect, ${n0(fleet.memoryPerActiveTerminalBytes)} B of its own memory per active terminal)`
        + (activeOwnRss < activeRss ? `; of it the process's own memory at most ${mib(activeOwnRss)}, the rest pages of mapped files (LMDB's store, the binaries) the kernel can drop` : ''),
      pass: activeRss < 2 ** 30 && server.connect.openConnections >= active * 0.99,
    },
    {
      name: `Pairing ${n0(pairing.terminals)} terminals (request → approve → trusted)${pairing.reused ? ', reused from an earlier run' : ''}`, goal: 'no error',
      measured: `${n0(pairing.terminals - pairing.errors)} paired in ${pairing.pairSeconds.toFixed(0)} s, ${pairing.errors} errors`, pass: pairing.errors === 0,
    },
  ];
}

/** A phase's latency as the tables give it: p50 / p99 / p99.9 in ms. */
const lat = (p: { latency: { p50Ms: number; p99Ms: number; p999Ms: number } }): string => `${ms(p.latency.p50Ms)} / ${ms(p.latency.p99Ms)} / ${ms(p.latency.p999Ms)}`;

/** A phase's failures by kind ('0' for none), then its reconnects and heartbeats when it had any. */
function failed(p: { failures: Record<string, number>; reconnects: number; heartbeats: number }): string {
  const list = Object.entries(p.failures).map(([k, v]) => `${k}×${v}`).join(' ');
  return `${list || '0'}${p.reconnects ? `; ${p.reconnects} reconnects` : ''}${p.heartbeats ? `; ${p.heartbeats} heartbeats` : ''}`;
}

const ratio = (a: number, c: number): string => (c > 0 ? `${(a / c).toFixed(2)}×` : '—');

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** µs of CPU per call at peak above its own floor's: what a target's checks (and its routing) cost, without the HTTP stack under them. */
export function checksCpuUs(target: { peak: PhaseReport }, floor: { peak: PhaseReport }): number {
  return target.peak.server.cpuPerCallUs - floor.peak.server.cpuPerCallUs;
}

function fleetSection(f: FleetResult): string {
  const s = f.server;
  const b = f.baseline;
  const fl = f.floor;
  const hf = f.httpsFloor;
  const latAll = (p: PhaseReport): string => lat({ latency: p.latencyAll });
  const cores = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(2));
  const handed = (fronts: readonly FrontPhase[] | undefined): string => {
    if (!fronts?.length) return 'n/a';
    const [on, all] = fronts.reduce(([h, a], f) => [h + f.handedOn, a + f.answered], [0, 0]);
    return `${n0(on)} of ${n0(all)} (${all > 0 ? ((100 * on) / all).toFixed(2) : '0'}%)`;
  };
  const between = (t: { peak: PhaseReport; betweenSlices?: { cpuSec: number } }): string =>
    (t.betweenSlices ? `${n0(t.betweenSlices.cpuSec * 1000)} (${((100 * t.betweenSlices.cpuSec) / Math.max(1e-9, t.peak.server.cpuSec)).toFixed(1)}%)` : 'n/a (one slice)');
  const slices = (p: PhaseReport): string => p.slices.map((x) => `${n0(x.callsPerSec)} (${n0(x.serverCpuPerCallUs)})`).join(', ');
  const warm = (t: { warmup: PhaseReport | null }): string => (t.warmup ? `${n0(t.warmup.callsPerSec)}, ${n0(t.warmup.server.cpuPerCallUs)}` : 'none');
  const genGc = (t: { peak: PhaseReport; steadyRounds: PhaseReport[] }): string => {
    const rounds = t.steadyRounds.map((r) => r.generator);
    const steady = { gcPauses: rounds.reduce((sum, g) => sum + g.gcPauses, 0), gcPauseMaxMs: Math.max(0, ...rounds.map((g) => g.gcPauseMaxMs)) };
    return `${gcPauses(t.peak.generator)} / ${gcPauses(steady)}`;
  };
  const waits = (t: { peak: PhaseReport; steady: PhaseReport }, who: 'server' | 'generator'): string => `${cores(t.peak[who].waitingCores)} / ${cores(t.steady[who].waitingCores)}`;
  /** A row: its label, the server's, the baseline's and the ratio's cells, then one cell per floor. */
  type Row = [string, string, string, string, (floor: TargetRun) => string];
  const floors = hf ? [fl, hf] : [fl];
  const floorColumns = (rows: Row[]): string[][] => rows.map(([label, server, baseline, ratioCell, floor]) => [label, server, baseline, ratioCell, ...floors.map(floor)]);
  return [
    `## Fleet (${n0(f.options.terminals)} terminals paired, ${n0(Math.min(f.options.active, f.options.terminals))} active RSA-2048; ${n0(f.options.peakCalls)} calls at peak, ${n0(f.options.steadyCalls)} in each of ${s.steadyRounds.length} rounds at half peak, the same to every server)`,
    '',
    table(['', 'server', 'node:https baseline', 'server ÷ baseline', 'floor (uWS + TLS, no checks)', ...(hf ? ['node:https floor (no checks)'] : [])], floorColumns([
      ['peak signed calls/s (closed loop, ' + s.peak.concurrency + ' in flight)', n0(s.peak.callsPerSec), n0(b.peak.callsPerSec), ratio(s.peak.callsPerSec, b.peak.callsPerSec), (t) => n0(t.peak.callsPerSec)],
      [`the peak slice by slice, in the order they ran: calls/s (server µs per call)`, slices(s.peak), slices(b.peak), sliceRatios(s.peak, b.peak), (t) => slices(t.peak)],
      ['CPU while the other\'s peak slices ran, between its own: ms (% of its slices\' CPU; work they left behind, not in their µs per call)', between(s), between(b), '', between],
      ['latency at peak p50 / p99 / p99.9, ms', lat(s.peak), lat(b.peak), '', (t) => lat(t.peak)],
      ['server CPU at peak: cores busy, µs per call', `${s.peak.server.cores.toFixed(2)}, ${n0(s.peak.server.cpuPerCallUs)}`, `${b.peak.server.cores.toFixed(2)}, ${n0(b.peak.server.cpuPerCallUs)}`, ratio(b.peak.server.cpuPerCallUs, s.peak.server.cpuPerCallUs) + ' less CPU', (t) => `${t.peak.server.cores.toFixed(2)}, ${n0(t.peak.server.cpuPerCallUs)}`],
      ...(hf ? [[
        'CPU per call at peak above its own floor (the uWS floor for the server, the node:https floor for the baseline): what the checks cost, µs',
        n0(checksCpuUs(s, fl)), n0(checksCpuUs(b, hf)), ratio(checksCpuUs(b, hf), checksCpuUs(s, fl)) + ' less CPU', () => '',
      ] satisfies Row] : []),
      [f.options.steadyRate === null
        ? 'open-loop rate (half of its own peak; the uWS floor at the server\'s, the node:https floor at the baseline\'s), calls/s achieved'
        : 'open-loop rate (the server\'s and the uWS floor\'s fixed by --steady-rate; the baseline\'s and the node:https floor\'s half the baseline\'s peak), calls/s achieved', `${n0(s.steady.targetRate ?? 0)}, ${n0(s.steady.callsPerSec)}`, `${n0(b.steady.targetRate ?? 0)}, ${n0(b.steady.callsPerSec)}`, '', (t) => `${n0(t.steady.targetRate ?? 0)}, ${n0(t.steady.callsPerSec)}`],
      ['latency at that rate p50 / p99 / p99.9, ms (after the lead-in)', lat(s.steady), lat(b.steady), '', (t) => lat(t.steady)],
      ['the same counting the lead-in\'s calls', latAll(s.steady), latAll(b.steady), '', (t) => latAll(t.steady)],
      [`p99 in each of the ${s.steadyRounds.length} open-loop rounds, ms (the two rows above: the median round)`, roundP99s(s.steadyRounds), roundP99s(b.steadyRounds), '', (t) => roundP99s(t.steadyRounds)],
      ['RSS with every active terminal connected and called once', `${mib(s.connect.serverRssBytes)} (${n0(s.connect.openConnections)} open)`, `${mib(b.connect.serverRssBytes)} (${n0(b.connect.openConnections)} open)`, '', (t) => `${mib(t.connect.serverRssBytes)} (${n0(t.connect.openConnections)} open)`],
      [`warm-up before the peak, not measured (${n0(f.options.warmupCalls)} calls, closed loop): calls/s, server µs per call`, warm(s), warm(b), '', warm],
      ['connect (every terminal called once): seconds, server cores', `${s.connect.seconds.toFixed(1)}, ${s.connect.serverCores.toFixed(2)}`, `${b.connect.seconds.toFixed(1)}, ${b.connect.serverCores.toFixed(2)}`, '', (t) => `${t.connect.seconds.toFixed(1)}, ${t.connect.serverCores.toFixed(2)}`],
      ['server threads ready to run but waiting for a CPU, at peak / open loop, cores\' worth', waits(s, 'server'), waits(b, 'server'), '', (t) => waits(t, 'server')],
      ['load generator CPU at peak, cores', s.peak.generator.cores.toFixed(2), b.peak.generator.cores.toFixed(2), '', (t) => t.peak.generator.cores.toFixed(2)],
      ['load generator waiting for a CPU, at peak / open loop, cores\' worth', waits(s, 'generator'), waits(b, 'generator'), '', (t) => waits(t, 'generator')],
      ['load generator event-loop lag p99 at peak / open loop, ms', `${ms(s.peak.generator.loopDelayP99Ms)} / ${ms(s.steady.generator.loopDelayP99Ms)}`, `${ms(b.peak.generator.loopDelayP99Ms)} / ${ms(b.steady.generator.loopDelayP99Ms)}`, '', (t) => `${ms(t.peak.generator.loopDelayP99Ms)} / ${ms(t.steady.generator.loopDelayP99Ms)}`],
      ['load generator GC pauses at peak / in all open-loop rounds (each holds every reply in flight)', genGc(s), genGc(b), '', genGc],
      ['calls handed to the lease holder on another server thread, at peak / open loop (server.status)', `${handed(s.fronts?.peak)} / ${handed(s.fronts?.steady)}`, '', '', () => ''],
      ['failures at peak / open loop (and reconnects, heartbeats)', `${failed(s.peak)} / ${failed(s.steady)}`, `${failed(b.peak)} / ${failed(b.steady)}`, '', (t) => `${failed(t.peak)} / ${failed(t.steady)}`],
    ])),
    '',
    `- Order: the server and the baseline run side by side, each driven by its own load-generator process, and both fleets stay connected until their open-loop rounds. The baseline's fleet connects, then the server's; each warms up; then their peaks take turns, ${s.peak.slices.length} slice${s.peak.slices.length === 1 ? '' : 's'} each (\`--peak-slices\`), every slice calling each terminal the same number of times, so both peaks are measured in the same minute. Then each target's open-loop rounds run alone, with nothing else awake: the baseline and its generator stop, the server's rounds run, the server stops, and a fresh baseline process connects, warms up and runs its rounds. The floor runs last, alone.`,
    `- Floor: \`bench/floor-uws-server.ts\`, one thread, answers master's route with a fixed 200 without reading a header or verifying anything. It is what Node, uWebSockets.js, TLS, loopback and this generator cost before any of our work. Its peak is bounded by the generator (${fl.peak.generator.cores.toFixed(2)} cores there), and its open-loop phase runs at the server's half-peak rate, so its p99 is the latency the machine and the generator add on their own.`,
    ...(hf ? [`- node:https floor: \`bench/baseline-https-server.ts --checks none\`, the baseline's own process and HTTP handling answering the ping with a fixed 200 and no check, alone after the uWS floor, its open-loop rounds at the baseline's half-peak rate. It is the baseline's share of what the uWS floor is for the server: the row "above its own floor" is each target's CPU per call less its floor's, what its checks cost with the HTTP stack taken out (the baseline's peak ran beside the server's idle fleet, its floor alone).`] : []),
    `- Server threads: ${f.serverThreads}; extra server flags: \`${f.serverArgs.join(' ') || 'none'}\`.`
      + (s.fronts?.peak.length ? ` As the server counts them (\`server.status\`, read between phases), at peak: ${describeFronts(s.fronts.peak)}.` : ''),
    `- Pairing${f.pairing.reused ? ' (REUSED from an earlier run: --reuse-fleet)' : ''}: ${n0(f.pairing.terminals)} terminals created in ${f.pairing.createSeconds.toFixed(1)} s and paired (commit → reveal → operator approves with the code → trusted) in ${f.pairing.pairSeconds.toFixed(1)} s = ${n0(f.pairing.terminalsPerSec)}/s, `
      + `server ${f.pairing.serverCores.toFixed(2)} cores busy (${ms((f.pairing.serverCores * f.pairing.pairSeconds * 1000) / f.pairing.terminals)} ms CPU per terminal), generator ${f.pairing.generatorCores.toFixed(2)} cores; mean ms per step: ${Object.entries(f.pairing.stepMs).map(([k, v]) => `${k} ${n0(v)}`).join(', ')}; ${f.pairing.errors} errors, ${f.pairing.retries} retries after 429/503.`,
    `- Start-up: ${f.startup.emptySeconds.toFixed(2)} s with an empty store (RSS ${mib(f.startup.emptyRssBytes)}), ${f.startup.registeredSeconds.toFixed(2)} s with ${n0(f.startup.registered)} registered terminals (RSS ${mib(f.startup.registeredRssBytes)}), `
      + (f.startup.registeredChecked ? `a start that checked every index: ${CHECKED_BY_ITSELF}` : 'a restart after a clean stop')
      + ` (of each RSS, pages of mapped files: ${mib(f.startup.emptyRssFileBytes)} and ${mib(f.startup.registeredRssFileBytes)})`
      + (f.startup.checkedSeconds == null ? '.' : `; the bench started and stopped the server once before it, as its store had been written since the server's last clean stop (the baseline's cash events), and that start, which checked every index entry by entry first (src/store/index-seal.ts), took ${f.startup.checkedSeconds.toFixed(2)} s: what a start after a crash costs.`),
    `- Memory per active terminal (keep-alive TLS connection + actor + caches): ${n0(f.memoryPerActiveTerminalBytes)} B of the process's own memory (RSS less mapped files' pages), from start-up to every active terminal connected and called once.`,
    `- Calls go round all active terminals in order, each on the terminal's own keep-alive connection. The server closes connections idle for 10 s, so idle ones were held open with unauthenticated 404 heartbeats (${n0(s.connect.heartbeats)} during the server's connect phase; per phase in the failures row): they are not calls, but their CPU is in the server's. The baseline keeps an idle connection for 120 s, so its fleet gets none. Each open-loop round starts ${SETTLE_MS / 1000} s after the phase before it ends, so it measures its rate and not the drain of a backlog; its first ${LEAD_IN_MS} ms (${n0(s.steady.leadIn?.calls ?? 0)} of the server's calls in the median round) are a lead-in at the same rate whose latency is reported apart, because the first calls after the pause are slow for every server, the floor included. A round lasts a second or two, so one stall of the host can decide its p99: the target is judged on the median of ${s.steadyRounds.length} rounds, and every round's p99 is in the table.`,
    `- Warm-up: after the connect (each terminal's first call, on the path of an actor's first message) every server gets the same ${n0(f.options.warmupCalls)} calls in a closed loop before the peak (\`--warmup-calls\`), not measured: the steady path (an active actor, a known key) first runs there, and V8 compiles it while it does. A server runs for days, so its peak is judged on compiled code; the warm-up row shows what the same calls cost before.`,
    `- Load generator: ${f.generator}. Pre-signing took ${f.presign.seconds.toFixed(0)} s (${n0(f.presign.signsPerSec)} signatures/s). Every terminal uses the same requests against both servers (the baseline keeps its own replay window).`,
    `- Identities: active terminals share ${Math.min(f.options.rsaKeys, f.options.active)} distinct RSA-2048 keys, each terminal with its own certificate and TFP (the server parses every certificate into its own key object, so verifying costs the same); idle ones are P-256. Cached in ${path.relative(ROOT, f.options.cacheDir) || '.'}/.`,
  ].join('\n');
}

/** Each target's cash events: what a fleet reporting banknotes gets when every answer waits for the disk. */
function writesSection(writes: NonNullable<FleetResult['writes']>): string {
  const { server: s, baseline: b } = writes;
  const both = (f: (w: TargetWrites) => string): [string, string] => [f(s), f(b)];
  const stored = (w: TargetWrites): string => {
    const answered = w.warmup.ok + w.phase.ok;
    return `${n0(w.stored.thisRun)}${w.stored.thisRun === answered ? ', every answered event' : `: ${n0(answered)} were answered`}`;
  };
  return [
    `## Durable writes: signed cash events (closed loop, ${s.phase.concurrency} in flight, each target alone after its open-loop rounds)`,
    '',
    table(['', 'server', 'node:https baseline', 'server ÷ baseline'], [
      ['cash events answered, calls/s', ...both((w) => `${n0(w.phase.ok)} of ${n0(w.phase.calls)}, ${n0(w.phase.callsPerSec)}/s`), ratio(s.phase.callsPerSec, b.phase.callsPerSec)],
      ['latency p50 / p99 / p99.9, ms', ...both((w) => lat(w.phase)), ''],
      ['server CPU: cores busy, µs per call', ...both((w) => `${w.phase.server.cores.toFixed(2)}, ${n0(w.phase.server.cpuPerCallUs)}`), `${ratio(b.phase.server.cpuPerCallUs, s.phase.server.cpuPerCallUs)} less CPU`],
      ['load generator CPU, cores', ...both((w) => w.phase.generator.cores.toFixed(2)), ''],
      [`warm-up before, not measured (${n0(s.warmup.calls)} events, one per terminal): calls/s, server µs per call`, ...both((w) => `${n0(w.warmup.callsPerSec)}, ${n0(w.warmup.server.cpuPerCallUs)}`), ''],
      ['in the store after the process stopped (warm-up included)', ...both(stored), ''],
      ['failures (and reconnects, heartbeats)', ...both((w) => failed(w.phase)), ''],
    ]),
    '',
    `- The same ${n0(s.phase.calls)} cash events (\`--write-calls\`; eventIds unique to the run, so none is a duplicate) go to each target: a signed POST with a JSON body and Content-Digest, answered only once the event is committed and flushed to disk (PROTOCOL.md). Before them, one event per terminal, not measured, as the pings' warm-up: V8 compiles the write path there. The baseline parses and checks the event by hand and awaits its own LMDB put and flush, in the same store. After each target stops, its events are counted in the store and then removed (${n0(s.stored.removed)} and ${n0(b.stored.removed)}), so the next target and a reused fleet start without them.`,
  ].join('\n');
}

function microSection(results: MicroResult[]): string {
  const parts = ['## Micro benchmarks (tinybench; ratio = ops/s ÷ the openssl figure on this machine; heap B/op = bytes of this thread\'s V8 heap allocated per operation, the garbage its scavenges deal with)'];
  for (const r of results) {
    parts.push('', `**${r.id}** — ${r.question}`, '', table(['task', 'ops/s', 'ns/op', 'heap B/op', 'openssl figure', 'ratio'], r.rows.map((row) => [
      row.name, n0(row.opsPerSec), n0(row.nsPerOp), n0(row.heapBytesPerOp), row.reference ? `${row.reference.label}: ${n0(row.reference.opsPerSec)}/s` : '—',
      row.ratio === null ? '—' : `${row.ratio.toFixed(row.ratio < 10 ? 2 : 0)}×`,
    ])));
    for (const note of r.notes) parts.push(`- ${note}`);
  }
  return parts.join('\n');
}

function opensslLine(o: OpensslSpeed | null): string {
  if (!o) return 'openssl speed: not available.';
  const bits = [
    o.rsa2048 && `RSA-2048 verify ${n0(o.rsa2048.verify)}/s, sign ${n0(o.rsa2048.sign)}/s`,
    o.ecdsap256 && `ECDSA P-256 verify ${n0(o.ecdsap256.verify)}/s`,
    o.ed25519 && `Ed25519 verify ${n0(o.ed25519.verify)}/s`,
    o.sha256 && `SHA-256 ${n0(o.sha256.bytesPerSec / 1e6)} MB/s @${o.sha256.bytes} B`,
    o.hmacSha256 && `HMAC-SHA256 ${n0(o.hmacSha256.bytesPerSec / 1e6)} MB/s @${o.hmacSha256.bytes} B`,
  ].filter(Boolean);
  return `openssl speed (per core, per CPU-second, -seconds ${o.seconds}): ${bits.join('; ')}.`;
}

/** The openssl RSA-2048 verify figure after the fleet against the one before it, or '' when either is missing. */
function hostDrift(r: RunResults): string {
  const before = r.openssl?.rsa2048?.verify;
  const after = r.opensslAfter?.rsa2048?.verify;
  if (!before || !after) return '';
  return ` After the fleet, openssl RSA-2048 verify ${n0(after)}/s, ${((after / before) * 100).toFixed(0)}% of the figure at the start: `
    + 'how far the host\'s speed moved during the run. The server\'s and the baseline\'s peaks ran in turns, so such a move touched both alike; '
    + 'the floor ran after them, alone, so its figures move with it.';
}

export function markdown(r: RunResults): string {
  const mark = (p: boolean | null): string => (p === null ? '?' : p ? 'pass' : 'FAIL');
  return [
    '# Benchmark results',
    '',
    `Written by \`${r.command}\` on ${r.startedAt} (took ${r.minutes.toFixed(1)} min).`,
    '',
    `Machine: ${formatMachine(r.machine)}.`,
    'The machine is small and may be shared: load generator and server compete for the same cores, and other work running at the same time makes every number noisy.',
    '',
    opensslLine(r.openssl) + hostDrift(r),
    ...(r.targets.length ? ['', '## Targets', '', table(['target', 'goal', 'measured', ''], r.targets.map((t) => [t.name, t.goal, t.measured, mark(t.pass)]))] : []),
    ...(r.fleet ? ['', fleetSection(r.fleet)] : []),
    ...(r.fleet?.writes ? ['', writesSection(r.fleet.writes)] : []),
    ...(r.micro.length ? ['', microSection(r.micro)] : []),
    '',
  ].join('\n');
}
