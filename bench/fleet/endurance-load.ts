/**
 * @module The load generator's side of the endurance run (bench/endurance.ts): waves of terminals that connect, call
 * master at a steady rate with calls signed live, and disconnect, one wave after another through the whole fleet.
 *
 * Live signing, not pre-signing: a run of an hour at 1,000 calls/s needs 3.6 million signatures, each one fresh for the
 * server's ±300 s window. Each wave's calls are signed on worker threads while the wave before it runs; the signing
 * CPU is the generator's and is reported with it. The waves connect and call on two runner threads in turn
 * (wave-runner.worker.ts), so that the thread timing a wave's calls is not the one doing the next wave's handshakes;
 * this thread signs, schedules and gathers the samples.
 */
import { Piscina } from 'piscina';
import { loadIdentities, signerOf, type TerminalIdentity } from './identities.js';
import { LatencyRecorder } from './latency.js';
import { inLanes } from '../lib/lanes.js';
import type { EnduranceLoadReport, EnduranceSample, EnduranceSpec } from './messages.js';
import { cpuBetween, sampleSelf } from '../lib/proc-stats.js';
import type { SignTask } from './sign.worker.js';
import { epochMs, sleepUntil, WaveRunner, type RunnerTake, type WaveDone } from './wave-runner.js';

const SIGNER = new URL('./sign.worker.js', import.meta.url).href;
/** Terminals per signing task: big enough to amortise the hop, small enough to keep every thread busy. */
const SIGN_CHUNK = 25;
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
/** The first wave's calls start this long after its connections are all open. */
const START_MS = 5;

/** One wave: its terminals (indexes into the fleet) and their signed calls, terminal j's k-th at j × calls a terminal + k. */
interface Wave {
  members: number[];
  requests: string[];
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
    const out: string[][] = chunks.map(() => []);
    await inLanes(chunks.length, spec.signThreads, async (k) => {
      const busyFrom = performance.now();
      const signedChunk = await signer.run({
        kind: 'master', created,
        terminals: chunks[k]!.map((i) => ({ ...signerOf(fleet[i]!), count: callsPerTerminal, writes: 0 })),
      });
      signingMs += performance.now() - busyFrom;
      out[k] = signedChunk;
    }, spreadMs);
    const requests = out.flat();
    signed += requests.length;
    return { members, requests };
  };

  // Every call of the run is one of these two; the whole is summarised from both (LatencyRecorder.summaryOf).
  const allFirst = new LatencyRecorder(waves * waveSize);
  const allLater = new LatencyRecorder(spec.rate * spec.seconds);
  const failures: Record<string, number> = {};
  let calls = 0;
  let ok = 0;
  let skipped = 0;
  let handshakes = 0;
  let handshakeMs = 0;
  let wavesDone = 0;
  const called = new Set<number>();
  const waveDone = (done: WaveDone): void => {
    calls += done.calls;
    ok += done.ok;
    skipped += done.skipped;
    handshakes += done.handshakes;
    handshakeMs += done.handshakeMs;
    for (const member of done.called) called.add(member);
    wavesDone++;
    progress(`endurance: wave ${done.wave + 1}/${waves} done, ${ok.toLocaleString('en-US')} calls answered 2xx, ${calls - ok} not, ${skipped} skipped`);
  };
  const runners = [0, 1].map(() => new WaveRunner({ host: spec.host, port: spec.port }, waveDone));

  /** What every runner measured since the last take, gathered, and added to the run's whole. */
  const takeAll = async () => {
    const taken = await Promise.all(runners.map((r) => r.take()));
    const firstCalls = new LatencyRecorder(waveSize);
    const laterCalls = new LatencyRecorder(spec.rate * spec.sampleSeconds);
    const intervalFailures: Record<string, number> = {};
    let intervalOk = 0;
    for (const t of taken) {
      for (const ms of t.first) {
        firstCalls.record(ms);
        allFirst.record(ms);
      }
      for (const ms of t.later) {
        laterCalls.record(ms);
        allLater.record(ms);
      }
      intervalOk += t.ok;
      for (const [kind, n] of Object.entries(t.failures)) {
        intervalFailures[kind] = (intervalFailures[kind] ?? 0) + n;
        failures[kind] = (failures[kind] ?? 0) + n;
      }
    }
    const worst = (value: (t: RunnerTake) => number): number => Math.max(...taken.map(value));
    return {
      firstCalls, laterCalls, ok: intervalOk, failures: intervalFailures, openConnections: taken.reduce((n, t) => n + t.openConnections, 0),
      // The runner timing the calls is the one that matters; the other, connecting the next wave, is no better.
      loopDelayP99Ms: worst((t) => t.loopDelayP99Ms), loopDelayMaxMs: worst((t) => t.loopDelayMaxMs), gcPauseMaxMs: worst((t) => t.gcPauseMaxMs),
    };
  };

  const waveMs = spec.waveSeconds * 1000;
  const preconnectMs = Math.min(PRECONNECT_MOST_MS, PRECONNECT_SHARE * waveMs);
  let runStart = 0;
  let last = { at: 0, self: sampleSelf() };
  let sampler: NodeJS.Timeout | null = null;
  let sampling = Promise.resolve();
  let samplingFailed: unknown = null;
  let carried: Record<string, number> = {};
  const startOf = (w: number): number => runStart + w * waveMs;
  const endOf = (w: number): number => startOf(w) + Math.min(spec.waveSeconds, spec.seconds - w * spec.waveSeconds) * 1000;
  const sampleNow = async (): Promise<void> => {
    const taken = await takeAll();
    // The first sample also says what failed while the first wave connected, before the clock started.
    for (const [kind, n] of Object.entries(carried)) taken.failures[kind] = (taken.failures[kind] ?? 0) + n;
    carried = {};
    const now = performance.now();
    const self = sampleSelf();
    sample({
      atMs: performance.timeOrigin + now, elapsedSec: (epochMs() - runStart) / 1000, seconds: (now - last.at) / 1000,
      ok: taken.ok, failures: taken.failures, latency: LatencyRecorder.summaryOf(taken.firstCalls, taken.laterCalls),
      firstCalls: taken.firstCalls.summary(), laterCalls: taken.laterCalls.summary(),
      wave: Math.min(waves - 1, Math.floor((epochMs() - runStart) / waveMs)), openConnections: taken.openConnections,
      generatorCores: cpuBetween(last.self, self).cores, generatorLoopDelayP99Ms: taken.loopDelayP99Ms,
      generatorLoopDelayMaxMs: taken.loopDelayMaxMs, generatorGcPauseMaxMs: taken.gcPauseMaxMs,
    });
    last = { at: now, self };
  };
  const check = (): void => {
    for (const runner of runners) runner.check();
    if (samplingFailed !== null) throw samplingFailed;
  };
  /** Packs a wave's requests into one buffer, moved to its runner rather than copied. */
  const send = (runner: WaveRunner, w: number, wave: Wave): void => {
    const offsets = new Uint32Array(wave.requests.length + 1);
    for (let i = 0; i < wave.requests.length; i++) offsets[i + 1] = offsets[i]! + wave.requests[i]!.length;
    const bytes = new ArrayBuffer(offsets[wave.requests.length]!);
    const view = Buffer.from(bytes);
    for (let i = 0; i < wave.requests.length; i++) view.write(wave.requests[i]!, offsets[i]!, 'latin1');
    runner.run({ wave: w, startAt: startOf(w), endAt: endOf(w), rate: spec.rate, callsPerTerminal, bytes, offsets });
  };

  try {
    const first = await signWave(0, null);
    // The first wave connects before the clock starts: its handshakes and signing are not in the samples.
    await runners[0]!.connect(0, first.members, epochMs(), null);
    runStart = epochMs() + START_MS;
    // Begins every runner's measures again: the first wave's connecting is not in the first sample's loop delays.
    carried = (await takeAll()).failures;
    last = { at: performance.now(), self: sampleSelf() };
    send(runners[0]!, 0, first);
    sampler = setInterval(() => {
      sampling = sampling.then(sampleNow).catch((error: unknown) => {
        samplingFailed ??= error;
      });
    }, spec.sampleSeconds * 1000);
    for (let w = 0; w < waves; w++) {
      if (w + 1 < waves) {
        // The next wave connects during this one's last moments on the other runner, as a fleet's terminals come while
        // others call, and is signed meanwhile, spread over most of this wave's time: the signing threads do the work.
        const next = runners[(w + 1) % 2]!;
        void next.connect(w + 1, membersOf(w + 1), endOf(w) - preconnectMs, preconnectMs).catch(() => undefined);
        send(next, w + 1, await signWave(w + 1, SIGN_SPREAD * waveMs));
      }
      await sleepUntil(endOf(w));
      check();
    }
    // The last wave drains (at most its runner's drain time) and says so.
    while (wavesDone < waves) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      check();
    }
  } finally {
    if (sampler) clearInterval(sampler);
    await sampling;
    // What came in after the last sample (the last wave's drain) counts in the run's whole.
    if (runStart > 0) await takeAll().catch(() => undefined);
    await Promise.all(runners.map((r) => r.stop()));
    await signer.destroy();
  }
  return {
    calls, ok, failures, latency: LatencyRecorder.summaryOf(allFirst, allLater), firstCalls: allFirst.summary(), laterCalls: allLater.summary(), waves, terminals: called.size, skipped,
    handshakeMs: handshakes > 0 ? handshakeMs / handshakes : 0, preconnectSec: preconnectMs / 1000, signed, signsPerSec: signingMs > 0 ? (signed * 1000) / signingMs : 0,
  };
}
