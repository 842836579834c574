/**
 * @module The load generator's side of the endurance run (bench/endurance.ts): waves of terminals that connect, call
 * master at a steady rate with calls signed live, and disconnect, one wave after another through the whole fleet.
 *
 * Live signing, not pre-signing: a run of an hour at 1,000 calls/s needs 3.6 million signatures, each one fresh for the
 * server's ±300 s window. Each wave's calls are signed on worker threads while the wave before it runs, so the send
 * loop only writes bytes; the signing CPU is the generator's and is reported with it.
 */
import { monitorEventLoopDelay, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { loadIdentities, signerOf, type TerminalIdentity } from './identities.js';
import { KeepAliveConnection, loopbackAddress } from './keep-alive-connection.js';
import { LatencyRecorder } from './latency.js';
import { inLanes } from '../lib/lanes.js';
import type { EnduranceLoadReport, EnduranceSample, EnduranceSpec } from './messages.js';
import { cpuBetween, sampleSelf } from '../lib/proc-stats.js';
import type { SignTask } from './sign.worker.js';

const SIGNER = new URL('./sign.worker.js', import.meta.url).href;
/** Terminals per signing task: big enough to amortise the hop, small enough to keep every thread busy. */
const SIGN_CHUNK = 25;
/** TLS handshakes in flight while a wave connects. */
const CONNECT_CONCURRENCY = 64;
/** How often the send loop looks at what is due: calls due meanwhile go out together. */
const TICK_MS = 5;
/** The share of a wave's time over which the next wave's signing is spread. */
const SIGN_SPREAD = 0.7;
/**
 * The next wave connects during this share of the wave before it, its handshakes spread evenly over that time:
 * terminals come while others call. 1,000 handshakes at once (64 in flight, about a second) held the calls meanwhile:
 * every interval with a wave's start had a p99 of 40-70 ms, the others 2-3 ms (session 38). At most
 * PRECONNECT_MOST_MS, as a connection waits idle until its wave starts: over 10 s, some were closed by the server's idle
 * timeout (the uWebSockets.js one, see MOST_SECONDS_BETWEEN_CALLS in bench/endurance.ts) and their calls skipped.
 */
const PRECONNECT_SHARE = 0.5;
const PRECONNECT_MOST_MS = 5_000;
/** The generator's loop-delay probe: a timer of this period, whose lateness is reported (less the period itself). */
const LOOP_PROBE_MS = 10;
/** How long the end of a wave waits for its calls in flight before it closes their connections. */
const DRAIN_MS = 10_000;

/** One wave: its terminals (indexes into the fleet) and, per terminal, its signed calls in order. */
interface Wave {
  members: number[];
  requests: Buffer[][];
}

export async function runEndurance(spec: EnduranceSpec, progress: (text: string) => void, sample: (s: EnduranceSample) => void): Promise<EnduranceLoadReport> {
  const { active, idle } = loadIdentities(spec.plan);
  const fleet: TerminalIdentity[] = [...active, ...idle];
  const waveSize = Math.min(spec.waveSize, fleet.length);
  const waves = Math.max(1, Math.ceil(spec.seconds / spec.waveSeconds));
  // Every terminal of a wave calls this often, so the wave as a whole calls at the rate.
  const callsPerTerminal = Math.max(1, Math.ceil((spec.rate * spec.waveSeconds) / waveSize));
  const signer = new Piscina<SignTask, string[]>({ filename: SIGNER, minThreads: spec.signThreads, maxThreads: spec.signThreads });
  let signed = 0;
  let signingMs = 0;

  const membersOf = (w: number): number[] => Array.from({ length: waveSize }, (_, j) => (w * waveSize + j) % fleet.length);
  /**
   * Signs wave w's calls, `created` now: they are sent within the next two waves' time, well inside the server's
   * window. With `spreadMs`, the chunks are spread evenly over that time, `signThreads` at a time, so that signing the
   * next wave takes a steady share of a core rather than bursts of every core.
   */
  const signWave = async (w: number, spreadMs: number | null): Promise<Wave> => {
    const members = membersOf(w);
    const created = Array.from({ length: callsPerTerminal }, () => Math.floor(Date.now() / 1000));
    const chunks: number[][] = [];
    for (let from = 0; from < members.length; from += SIGN_CHUNK) chunks.push(members.slice(from, from + SIGN_CHUNK));
    const out: Buffer[][] = chunks.map(() => []);
    await inLanes(chunks.length, spec.signThreads, async (k) => {
      const busyFrom = performance.now();
      const signedChunk = await signer.run({
        kind: 'master', created,
        terminals: chunks[k]!.map((i) => ({ ...signerOf(fleet[i]!), count: callsPerTerminal, writes: 0 })),
      });
      signingMs += performance.now() - busyFrom;
      // Into bytes chunk by chunk as they come: the whole wave at once (30,000 requests) held the send loop tens of ms.
      out[k] = signedChunk.map((r) => Buffer.from(r, 'latin1'));
    }, spreadMs);
    const raw = out.flat();
    signed += raw.length;
    return { members, requests: members.map((_, j) => raw.slice(j * callsPerTerminal, (j + 1) * callsPerTerminal)) };
  };

  // Every call of the run is one of these two; the whole is summarised from both (LatencyRecorder.summaryOf).
  const allFirst = new LatencyRecorder(waves * waveSize);
  const allLater = new LatencyRecorder(spec.rate * spec.seconds);
  const failures: Record<string, number> = {};
  const fail = (kind: string, into: Record<string, number>): void => {
    into[kind] = (into[kind] ?? 0) + 1;
    failures[kind] = (failures[kind] ?? 0) + 1;
  };
  let calls = 0;
  let ok = 0;
  let skipped = 0;
  let handshakes = 0;
  let handshakeMs = 0;
  const called = new Set<number>();

  // The sample interval's own figures, handed over and begun again every sampleSeconds.
  const newInterval = () => ({
    firstCalls: new LatencyRecorder(waveSize), laterCalls: new LatencyRecorder(spec.rate * spec.sampleSeconds), ok: 0, failures: {} as Record<string, number>,
  });
  let interval = newInterval();
  let conns: (KeepAliveConnection | null)[] = [];
  let wave = 0;
  let runStart = 0;
  let last = { at: 0, self: sampleSelf() };
  let sampler: NodeJS.Timeout | null = null;
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_PROBE_MS });
  let gcPauseMaxMs = 0;
  const takePauses = (entries: readonly PerformanceEntry[]): void => {
    for (const entry of entries) gcPauseMaxMs = Math.max(gcPauseMaxMs, entry.duration);
  };
  const gcWatch = new PerformanceObserver((list) => takePauses(list.getEntries()));
  /** From the first wave's first call: the first wave's signing and handshakes are not in the samples. */
  const startSampling = (): NodeJS.Timeout => setInterval(() => {
    const now = performance.now();
    const self = sampleSelf();
    // Entries are delivered a turn late: a pause just before the sample belongs to it, not the next.
    takePauses(gcWatch.takeRecords());
    const { firstCalls, laterCalls, ok: intervalOk, failures: intervalFailures } = interval;
    interval = newInterval();
    sample({
      atMs: performance.timeOrigin + now, elapsedSec: (now - runStart) / 1000, seconds: (now - last.at) / 1000,
      ok: intervalOk, failures: intervalFailures, latency: LatencyRecorder.summaryOf(firstCalls, laterCalls), firstCalls: firstCalls.summary(), laterCalls: laterCalls.summary(), wave,
      openConnections: conns.reduce((n, c) => n + (c?.isOpen ? 1 : 0), 0), generatorCores: cpuBetween(last.self, self).cores,
      generatorLoopDelayP99Ms: Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_PROBE_MS),
      generatorLoopDelayMaxMs: Math.max(0, loopDelay.max / 1e6 - LOOP_PROBE_MS), generatorGcPauseMaxMs: gcPauseMaxMs,
    });
    loopDelay.reset();
    gcPauseMaxMs = 0;
    last = { at: now, self };
  }, spec.sampleSeconds * 1000);

  /** Opens a connection for each member; with `spreadMs`, the handshakes start evenly over that time, not at once. */
  const connectWave = async (members: number[], spreadMs: number | null): Promise<(KeepAliveConnection | null)[]> => {
    const out: (KeepAliveConnection | null)[] = members.map(() => null);
    await inLanes(members.length, CONNECT_CONCURRENCY, async (j) => {
      const from = performance.now();
      try {
        out[j] = await KeepAliveConnection.connect({ host: spec.host, port: spec.port, localAddress: loopbackAddress(members[j]!) });
        handshakes++;
        handshakeMs += performance.now() - from;
      } catch (error) {
        fail(`connect ${(error as NodeJS.ErrnoException).code ?? 'error'}`, interval.failures);
      }
    }, spreadMs);
    return out;
  };

  const preconnectMs = Math.min(PRECONNECT_MOST_MS, PRECONNECT_SHARE * spec.waveSeconds * 1000);
  /** The next wave's connections, opened before this wave ends so that the rate does not pause between waves. */
  let nextConns: Promise<(KeepAliveConnection | null)[]> | null = null;
  try {
    let current = await signWave(0, null);
    for (wave = 0; wave < waves; wave++) {
      // The next wave is signed while this one calls, spread over most of its time: the signing threads, not the send
      // loop, do the work.
      const upcoming = wave + 1 < waves ? signWave(wave + 1, SIGN_SPREAD * spec.waveSeconds * 1000) : null;
      conns = await (nextConns ?? connectWave(current.members, null));
      nextConns = null;
      if (sampler === null) {
        runStart = performance.now();
        last = { at: runStart, self: sampleSelf() };
        loopDelay.enable();
        gcWatch.observe({ entryTypes: ['gc'] });
        sampler = startSampling();
      }
      const cursor = current.members.map(() => 0);
      const inFlight = new Set<Promise<void>>();
      const call = (j: number): void => {
        const conn = conns[j]!;
        const first = cursor[j] === 0;
        const request = current.requests[j]![cursor[j]!++]!;
        calls++;
        called.add(current.members[j]!);
        const sent = performance.now();
        const done = conn.request(request).then((reply) => {
          const ms = performance.now() - sent;
          (first ? allFirst : allLater).record(ms);
          (first ? interval.firstCalls : interval.laterCalls).record(ms);
          if (reply.status >= 200 && reply.status < 300) {
            ok++;
            interval.ok++;
          } else {
            fail(String(reply.status), interval.failures);
          }
        }, (error: unknown) => fail((error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : 'error'), interval.failures));
        inFlight.add(done);
        void done.finally(() => inFlight.delete(done));
      };
      // Open loop: calls fall due at the rate from the wave's start, whatever the answers; each goes to the wave's next
      // terminal that is free and has calls left, round the wave.
      const waveStart = performance.now();
      const waveEnd = waveStart + Math.min(spec.waveSeconds, spec.seconds - wave * spec.waveSeconds) * 1000;
      let due = 0;
      let turn = 0;
      await new Promise<void>((resolve) => {
        const ticker = setInterval(() => {
          const now = performance.now();
          // The next wave connects during this one's last moments, as a fleet's terminals come while others call.
          if (nextConns === null && wave + 1 < waves && now >= waveEnd - preconnectMs) nextConns = connectWave(membersOf(wave + 1), preconnectMs);
          const target = Math.floor(((Math.min(now, waveEnd) - waveStart) / 1000) * spec.rate);
          for (; due < target; due++) {
            let sentOne = false;
            for (let tries = 0; tries < conns.length; tries++) {
              const j = turn;
              turn = (turn + 1) % conns.length;
              if (conns[j]?.isOpen && !conns[j]!.busy && cursor[j]! < callsPerTerminal) {
                call(j);
                sentOne = true;
                break;
              }
            }
            if (!sentOne) skipped++;
          }
          if (now >= waveEnd) {
            clearInterval(ticker);
            resolve();
          }
        }, TICK_MS);
      });
      let drainTimer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(inFlight), new Promise((resolve) => (drainTimer = setTimeout(resolve, DRAIN_MS)))]);
      clearTimeout(drainTimer);
      // The wave's terminals go quiet: their connections close, their actors are left to go idle.
      for (const conn of conns) conn?.close();
      progress(`endurance: wave ${wave + 1}/${waves} done, ${ok.toLocaleString('en-US')} calls answered 2xx, ${calls - ok} not, ${skipped} skipped`);
      if (upcoming) current = await upcoming;
    }
  } finally {
    if (sampler) clearInterval(sampler);
    loopDelay.disable();
    gcWatch.disconnect();
    for (const conn of conns) conn?.close();
    // Set by the send loop's timer, which the compiler's narrowing does not see.
    const opening = nextConns as Promise<(KeepAliveConnection | null)[]> | null;
    if (opening) for (const conn of await opening) conn?.close();
    await signer.destroy();
  }
  return {
    calls, ok, failures, latency: LatencyRecorder.summaryOf(allFirst, allLater), firstCalls: allFirst.summary(), laterCalls: allLater.summary(), waves, terminals: called.size, skipped,
    handshakeMs: handshakes > 0 ? handshakeMs / handshakes : 0, preconnectSec: preconnectMs / 1000, signed, signsPerSec: signingMs > 0 ? (signed * 1000) / signingMs : 0,
  };
}
