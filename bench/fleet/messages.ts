/** @module The messages between the fleet orchestrator and the load-generator process, typed in one place. */
import type { IdentityPlan } from './identities.js';
import type { LatencySummary } from './latency.js';
import type { PairingReport } from './pairing-driver.js';

export interface AdminLogin {
  url: string;
  sfp: string;
  user: string;
  password: string;
  totpSecret: string;
}

export type Command =
  | { type: 'pair'; plan: IdentityPlan; admin: AdminLogin; gate: { host: string; port: number }; concurrency: number; adminConnections: number; signThreads: number }
  /**
   * Signs every active terminal's master calls: `perTerminal` pings, then `writesPerTerminal` cash events; `saveTo`
   * also writes them to that file for another generator process.
   */
  | { type: 'presign'; plan: IdentityPlan; perTerminal: number; writesPerTerminal: number; created: readonly number[]; signThreads: number; saveTo?: string }
  /** Loads the calls another generator process pre-signed and saved, so both targets get the same requests. */
  | { type: 'load-requests'; file: string }
  /**
   * heartbeatAfterMs: how long a connection may stay idle before it gets a heartbeat (the target's idle timeout, with a
   * margin); connections are kept open from here to the disconnect, also while another generator drives another target.
   */
  | { type: 'connect'; host: string; port: number; concurrency: number; serverPid: number; heartbeatAfterMs: number }
  | { type: 'load'; phase: PhaseSpec }
  | { type: 'disconnect' }
  | { type: 'endure'; spec: EnduranceSpec };

/**
 * The endurance run (bench/endurance.ts): terminals call in waves that move through the whole fleet, signed live, for
 * `seconds`; a wave's terminals connect when it starts and disconnect when it ends, so the server sees terminals come
 * and go as a fleet's day does, and its actors of a past wave go idle.
 */
export interface EnduranceSpec {
  plan: IdentityPlan;
  host: string;
  port: number;
  /** Calls a second, open loop, spread over the wave's terminals. */
  rate: number;
  waveSize: number;
  waveSeconds: number;
  seconds: number;
  /** A `sample` message every this many seconds. */
  sampleSeconds: number;
  signThreads: number;
}

/** What the generator saw in one sample interval. */
export interface EnduranceSample {
  /** Epoch ms at the interval's end. */
  atMs: number;
  /** Seconds since the run's first call. */
  elapsedSec: number;
  seconds: number;
  ok: number;
  /** Answers other than 2xx and connection errors, by status or error code. */
  failures: Record<string, number>;
  latency: LatencySummary;
  /**
   * The same calls split: each terminal's first of its wave (its actor activated again, its key parsed when it has not
   * called within the cache's ten minutes), and the others (the steady path).
   */
  firstCalls: LatencySummary;
  laterCalls: LatencySummary;
  /** The wave calling at the interval's end (0-based), and the connections open then. */
  wave: number;
  openConnections: number;
  generatorCores: number;
  /**
   * How late the generator's runner threads' 10 ms probe timers fired, p99 over the interval (the worse runner): a reply
   * that came meanwhile waited as long, so when it nears the calls' p99, the generator is part of it.
   */
  generatorLoopDelayP99Ms: number;
  /** The same, at its worst: one stall of the generator, or of the whole host when the server's threads stalled with it. */
  generatorLoopDelayMaxMs: number;
  /** The runners' longest GC pause in the interval: when it nears the loop's worst delay, the generator's heap is why. */
  generatorGcPauseMaxMs: number;
}

export interface EnduranceLoadReport {
  calls: number;
  ok: number;
  failures: Record<string, number>;
  /** Of every call of the run, and split as in EnduranceSample. */
  latency: LatencySummary;
  firstCalls: LatencySummary;
  laterCalls: LatencySummary;
  waves: number;
  /** Distinct terminals that called. */
  terminals: number;
  /** Calls due that found no connection of the wave free (busy, closed by the server, or out of signed calls) and were not sent. */
  skipped: number;
  /** Mean ms of one connection's TLS handshake (from each terminal's own address). */
  handshakeMs: number;
  /** Seconds over which each wave's handshakes were spread, before its calls began. */
  preconnectSec: number;
  /** Signatures made live, and one signing thread's rate while it worked. */
  signed: number;
  signsPerSec: number;
}

export interface PhaseSpec {
  name: string;
  /** closed: `concurrency` calls always in flight (peak); open: calls started at `rate`/s whatever the answers (latency at a load). */
  mode: 'closed' | 'open';
  serverPid: number;
  maxSeconds: number;
  concurrency: number;
  rate?: number;
  /** Which of each terminal's pre-signed requests this phase may use: [from, to). */
  requests: [number, number];
  /** Unix seconds after which the pre-signed requests are no longer fresh for the server. */
  freshUntil: number;
  /** Open loop: the calls due in the first this many ms are sent at the rate like the rest, but only `latencyAll` counts them. */
  leadInMs?: number;
  /**
   * A further slice of the phase of the same name run just before on this generator: its calls, time, CPU and latencies
   * are added to that phase's, and the report covers every slice so far. The peak runs in slices alternating with
   * another target's, so both are measured in the same minute.
   */
  continues?: boolean;
}

/** One slice of a phase, as measured on its own. */
export interface PhaseSlice {
  /** Wall-clock ms (epoch) when the slice started: how the turns of two targets' slices interleaved. */
  startedAtMs: number;
  seconds: number;
  ok: number;
  callsPerSec: number;
  serverCpuPerCallUs: number;
  generatorLoopDelayP99Ms: number;
  /** The generator's own GC pauses during the slice, and the longest. */
  generatorGcPauses: number;
  generatorGcPauseMaxMs: number;
  /** How long the generator's full GC just before the slice took (not in the slice); null when gc is not exposed. */
  generatorCollectedMs: number | null;
}

export interface PresignReport {
  requests: number;
  /** Pings, then cash events, per terminal. */
  perTerminal: number;
  writesPerTerminal: number;
  seconds: number;
  signsPerSec: number;
  threads: number;
  /** The signed `created` of every terminal's first call; later calls carry later ones. */
  created: number;
}

/** Every active terminal connected and called once (its actor is active), the fleet held open by heartbeats. */
export interface ConnectReport {
  connections: number;
  seconds: number;
  failed: number;
  /** Cores busy while connecting and calling once: who limits the connection rate. */
  serverCores: number;
  generatorCores: number;
  /** Answers other than 2xx and connection errors of the one call each terminal made, by status or error code. */
  callFailures: Record<string, number>;
  callLatency: LatencySummary;
  /** Unauthenticated 404 requests that kept idle connections inside the server's 10 s idle timeout. */
  heartbeats: number;
  /** Connections open when the server's RSS was read. */
  openConnections: number;
  serverRssBytes: number;
  /** Of serverRssBytes, mapped files' pages: see ProcSample.rssFileBytes (bench/lib/proc-stats.ts). */
  serverRssFileBytes: number;
}

export interface PhaseReport {
  name: string;
  mode: 'closed' | 'open';
  /** Summed over the slices. */
  seconds: number;
  calls: number;
  ok: number;
  /** Failures by HTTP status or error kind. */
  failures: Record<string, number>;
  reconnects: number;
  /** Unauthenticated 404 requests sent to keep idle connections open during the phase (not calls; their CPU is in the server's). */
  heartbeats: number;
  callsPerSec: number;
  concurrency: number;
  targetRate: number | null;
  /** Of the calls due after the lead-in (open loop), or of every call. */
  latency: LatencySummary;
  /** Of every call, the lead-in's included. */
  latencyAll: LatencySummary;
  /** Open loop: how long the lead-in was and how many calls fell in it. */
  leadIn: { ms: number; calls: number } | null;
  /** Of the last slice. */
  endedBy: 'time' | 'requests-used' | 'signature-window';
  /** Each slice's own figures, in order; one for a phase run whole. */
  slices: PhaseSlice[];
  /**
   * waitingCores: see CpuUse in bench/lib/proc-stats.ts (threads ready to run but waiting for a CPU). rssOwnMaxBytes:
   * the highest RSS less mapped files' pages (ProcSample.rssFileBytes), the memory the process itself holds.
   */
  server: {
    cpuSec: number; cores: number; waitingCores: number | null; cpuPerCallUs: number;
    rssStartBytes: number; rssEndBytes: number; rssMaxBytes: number; rssOwnMaxBytes: number;
  };
  /**
   * loopDelayP99Ms: how late the generator's own 10 ms probe timer fired, p99 (of a phase run in slices, the worst
   * slice's); when it nears the latencies measured, the generator is part of them. gcPauses: the generator's own GC
   * pauses during the phase (summed over slices), each of which held every reply in flight; gcPauseMaxMs the longest.
   */
  generator: { cpuSec: number; cores: number; waitingCores: number | null; loopDelayP99Ms: number; gcPauses: number; gcPauseMaxMs: number };
}

export type GeneratorMessage =
  | { type: 'progress'; text: string }
  | { type: 'done'; result: PairingReport | PresignReport | ConnectReport | PhaseReport | EnduranceLoadReport | null }
  | { type: 'sample'; sample: EnduranceSample }
  | { type: 'failed'; message: string };
