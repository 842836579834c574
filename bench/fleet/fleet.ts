/** @module The end-to-end fleet benchmark: pair N terminals through the real flow, restart the server (start-up, idle memory), then signed RSA-2048 master calls against the server and the node:https baseline with the same requests. */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Progress } from '../lib/progress.js';
import { sampleProcess } from '../lib/proc-stats.js';
import { prepareFleet, settle, type FleetPairing } from './fleet-setup.js';
import { ensureIdentities, type GenerationReport, type IdentityPlan } from './identities.js';
import { GeneratorProcess } from './generator-process.js';
import type { ConnectReport, PhaseReport, PhaseSpec, PresignReport } from './messages.js';
import type { ServerStatus } from '../../src/protocol/types.js';
import { BASELINE, FLOOR, ROOT, SERVER_CLI, serverNodeArgs, serverOptions, startProcess, type RunningProcess } from './server-process.js';
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
  /** Longest duration of each measured phase, seconds (a phase normally ends when its calls are used). */
  seconds: number;
  /** Calls in flight in the peak phase. */
  concurrency: number;
  /** Server threads to ask for; null: the server's default. */
  threads: number | null;
  pairConcurrency: number;
  /** Use the fleet an earlier run paired with the same plan (its pairing figures are reported as reused). */
  reuseFleet: boolean;
  cacheDir: string;
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
}

export interface FleetResult {
  options: FleetOptions;
  serverArgs: string[];
  serverThreads: string;
  identities: GenerationReport;
  pairing: FleetPairing;
  startup: { emptySeconds: number; emptyRssBytes: number; registeredSeconds: number; registeredRssBytes: number; registered: number };
  presign: PresignReport;
  server: TargetRun;
  baseline: TargetRun;
  /** uWebSockets.js over the same TLS answering a fixed 200 without any check: its half-peak phase runs at the server's half-peak rate. */
  floor: TargetRun;
  /** Bytes of server RSS per active terminal: (active − idle RSS) ÷ active terminals. */
  memoryPerActiveTerminalBytes: number;
  generator: string;
}


/** `count` distinct free loopback ports: every listener stays open until all are chosen, or the OS could hand out one twice. */
async function freePorts(count: number): Promise<number[]> {
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

/** Work held back for want of a CPU, for a progress line: see CpuUse in bench/lib/proc-stats.ts. */
const waiting = (cores: number | null): string => (cores === null ? '' : ` (+${cores.toFixed(2)} waiting for a CPU)`);

/** The median round by p99 after the lead-in; of an even number, the slower of the middle two. */
export function medianRound<T extends { latency: { p99Ms: number } }>(rounds: readonly T[]): T {
  if (rounds.length === 0) throw new Error('no open-loop round ran');
  const sorted = [...rounds].sort((a, b) => a.latency.p99Ms - b.latency.p99Ms);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Connect (every terminal calls once), the warm-up, then the peak and the open-loop rounds (at half its own peak, or at
 * `steadyRate`) against one server.
 */
async function drive(gen: GeneratorProcess, proc: RunningProcess, port: number, opts: FleetOptions, ranges: { warmup: [number, number] | null; peak: [number, number]; steady: [number, number][] }, freshUntil: number, progress: Progress, label: string, steadyRate?: number, status?: StatusReader): Promise<TargetRun> {
  const connect = await gen.run<ConnectReport>({ type: 'connect', host: '127.0.0.1', port, concurrency: 200, serverPid: proc.pid });
  const connectFailed = Object.entries(connect.callFailures).map(([k, v]) => `${k}×${v}`).join(' ') || 'none';
  progress.done(`${label}: ${connect.connections} terminals connected and called once in ${connect.seconds.toFixed(1)} s (server ${connect.serverCores.toFixed(2)} cores, generator ${connect.generatorCores.toFixed(2)} cores; `
    + `failed: ${connectFailed}); ${connect.openConnections} open (${connect.heartbeats} heartbeats), server RSS ${(connect.serverRssBytes / 2 ** 20).toFixed(0)} MiB`);
  const base = { serverPid: proc.pid, freshUntil, concurrency: opts.concurrency };
  const phase = async (spec: PhaseSpec): Promise<PhaseReport> => {
    const report = await gen.run<PhaseReport>({ type: 'load', phase: spec });
    const failed = Object.entries(report.failures).map(([k, v]) => `${k}×${v}`).join(' ') || 'none';
    progress.done(`${spec.name}: ${report.ok.toLocaleString('en-US')} ok in ${report.seconds.toFixed(1)} s = ${report.callsPerSec.toFixed(0)}/s, `
      + `p50 ${report.latency.p50Ms.toFixed(2)} p99 ${report.latency.p99Ms.toFixed(2)} p99.9 ${report.latency.p999Ms.toFixed(2)} ms`
      + (report.leadIn ? ` after a ${report.leadIn.ms} ms lead-in of ${report.leadIn.calls} calls (p99 ${report.latencyAll.p99Ms.toFixed(2)} ms with it), ` : ', ')
      + `server ${report.server.cores.toFixed(2)} cores${waiting(report.server.waitingCores)} ${report.server.cpuPerCallUs.toFixed(0)} µs/call, `
      + `generator ${report.generator.cores.toFixed(2)} cores${waiting(report.generator.waitingCores)} (loop delay p99 ${report.generator.loopDelayP99Ms.toFixed(1)} ms), `
      + `failed: ${failed}, ${report.reconnects} reconnects, ${report.heartbeats} heartbeats, ended by ${report.endedBy}`);
    return report;
  };
  const account = (name: string, before: ServerStatus | undefined, after: ServerStatus | undefined): FrontPhase[] => {
    if (!before || !after) return [];
    const fronts = frontsBetween(before, after);
    progress.done(`${name}, as the server counts it: ${describeFronts(fronts)}`);
    return fronts;
  };
  const warmup = ranges.warmup ? await phase({ ...base, name: `${label} warm-up (not measured)`, mode: 'closed', maxSeconds: opts.seconds, requests: ranges.warmup }) : null;
  const beforePeak = await status?.read();
  const peak = await phase({ ...base, name: `${label} peak`, mode: 'closed', maxSeconds: opts.seconds, requests: ranges.peak });
  const afterPeak = await status?.read();
  const rate = steadyRate ?? Math.max(1, Math.floor(peak.callsPerSec / 2));
  const rounds: { report: PhaseReport; before: ServerStatus | undefined; after: ServerStatus | undefined }[] = [];
  for (const [i, requests] of ranges.steady.entries()) {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const before = rounds.at(-1)?.after ?? afterPeak;
    const name = `${label} at ${steadyRate === undefined ? 'half peak' : "the server's half peak"} (${rate}/s)${ranges.steady.length > 1 ? `, round ${i + 1} of ${ranges.steady.length}` : ''}`;
    const report = await phase({ ...base, name, mode: 'open', rate, leadInMs: LEAD_IN_MS, maxSeconds: opts.seconds, requests });
    rounds.push({ report, before, after: await status?.read() });
  }
  await gen.run({ type: 'disconnect' });
  const steadyRounds = rounds.map((r) => r.report);
  const steady = medianRound(steadyRounds);
  const median = steadyRounds.indexOf(steady);
  if (rounds.length > 1) {
    progress.done(`${label} at half peak: p99 ${steadyRounds.map((r) => r.latency.p99Ms.toFixed(2)).join(', ')} ms in ${rounds.length} rounds; the median is round ${median + 1}`);
  }
  if (!status) return { connect, warmup, peak, steady, steadyRounds };
  return {
    connect, warmup, peak, steady, steadyRounds,
    fronts: { peak: account(`${label} peak`, beforePeak, afterPeak), steady: account(`${label} at half peak, round ${median + 1}`, rounds[median]!.before, rounds[median]!.after) },
  };
}


export async function runFleet(opts: FleetOptions): Promise<FleetResult> {
  const progress = new Progress();
  const active = Math.min(opts.active, opts.terminals);
  const plan: IdentityPlan = { cacheDir: path.join(opts.cacheDir, 'identities'), rsa: active, ec: opts.terminals - active, rsaKeys: opts.rsaKeys };
  const identities = await ensureIdentities(plan, os.cpus().length, (t) => progress.update(t));
  progress.done(`identities: ${plan.rsa} RSA-2048 (${Math.min(plan.rsaKeys, plan.rsa)} distinct keys) + ${plan.ec} P-256 terminals ready`
    + (identities.seconds > 0 ? ` (generated in ${identities.seconds.toFixed(0)} s, cached in ${path.relative(ROOT, plan.cacheDir)})` : ' (from cache)'));

  const [gate, master, admin, baselinePort, floorPort] = await freePorts(5) as [number, number, number, number, number];
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
  let proc: RunningProcess | null = null;
  try {
    const fleet = await prepareFleet({ plan, cacheDir: opts.cacheDir, reuse: opts.reuseFleet, pairConcurrency: opts.pairConcurrency, serverArgs, ports, gen, progress });
    await ensureObserver(fleet.dataDir);
    proc = await startProcess(SERVER_CLI, serverArgs(fleet.dataDir), serverNodeArgs());
    await settle();
    const startup = {
      emptySeconds: fleet.empty.seconds, emptyRssBytes: fleet.empty.rssBytes,
      registeredSeconds: proc.startupSeconds, registeredRssBytes: sampleProcess(proc.pid).rssBytes, registered: opts.terminals,
    };
    progress.done(`start-up with ${opts.terminals} registered terminals: ${startup.registeredSeconds.toFixed(2)} s, RSS ${(startup.registeredRssBytes / 2 ** 20).toFixed(0)} MiB (empty store: ${(startup.emptyRssBytes / 2 ** 20).toFixed(0)} MiB)`);

    // Per terminal: the connect's call, then its share of the warm-up, of the peak and of each half-peak round.
    const warmupEnd = 1 + Math.ceil(opts.warmupCalls / active);
    const peakEnd = warmupEnd + Math.ceil(opts.peakCalls / active);
    const perRound = Math.ceil(opts.steadyCalls / active);
    const perTerminal = peakEnd + opts.steadyRounds * perRound;
    const ranges = {
      warmup: warmupEnd > 1 ? [1, warmupEnd] as [number, number] : null,
      peak: [warmupEnd, peakEnd] as [number, number],
      steady: Array.from({ length: opts.steadyRounds }, (_, i): [number, number] => [peakEnd + i * perRound, peakEnd + (i + 1) * perRound]),
    };
    // Used within ±300 s of `created`; dated ahead so the whole run (both servers) fits in the window.
    const created = Math.floor(Date.now() / 1000) + 280;
    const presign = await gen.run<PresignReport>({ type: 'presign', plan, perTerminal, created, signThreads: os.cpus().length });
    progress.done(`pre-signed ${presign.requests.toLocaleString('en-US')} master calls in ${presign.seconds.toFixed(1)} s (${presign.signsPerSec.toFixed(0)}/s on ${presign.threads} threads), before any measured phase`);
    const freshUntil = created + 300;

    const status = await StatusReader.connect(ports.admin, String(proc.ready.sfp));
    const server = await drive(gen, proc, ports.master, opts, ranges, freshUntil, progress, 'server', undefined, status).finally(() => status.close());
    await proc.stop();
    proc = null;

    proc = await startProcess(BASELINE, ['--data-dir', fleet.dataDir, '--port', String(baselinePort)]);
    await settle();
    const baseline = await drive(gen, proc, baselinePort, opts, ranges, freshUntil, progress, 'baseline');
    await proc.stop();
    proc = null;

    // Last, and at the server's half-peak rate: what the generator, Node, uWS and TLS cost on this machine before any of our work.
    proc = await startProcess(FLOOR, ['--data-dir', fleet.dataDir, '--port', String(floorPort)]);
    await settle();
    const floor = await drive(gen, proc, floorPort, opts, ranges, freshUntil, progress, 'floor', server.steady.targetRate ?? undefined);
    await proc.stop();
    proc = null;

    return {
      options: opts, serverArgs: extra, serverThreads: supported.has('threads') ? String(opts.threads ?? os.cpus().length) : '1 (this build has no --threads)',
      identities, pairing: fleet.pairing, startup, presign, server, baseline, floor,
      memoryPerActiveTerminalBytes: (server.connect.serverRssBytes - startup.registeredRssBytes) / active,
      generator: `separate process; ${presign.requests.toLocaleString('en-US')} RSA-2048 calls pre-signed on ${presign.threads} worker threads before the measured phases; `
        + 'one event loop writing pre-built requests on raw keep-alive TLS sockets (one per active terminal, each from its own 127.x address)',
    };
  } catch (error) {
    if (proc) process.stderr.write(`last server output:\n${proc.tail()}\n`);
    throw error;
  } finally {
    await proc?.stop();
    gen.stop();
  }
}
