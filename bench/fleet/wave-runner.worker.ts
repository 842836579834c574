/**
 * @module One of the endurance run's wave runners (bench/fleet/endurance-load.ts): a thread that opens a wave's
 * connections, sends its signed calls on the schedule it is given, times the answers, and closes them.
 *
 * Two runners take the waves in turn, so that the next wave's TLS handshakes run on the other thread than the one timing
 * the calls. On one thread, the last 10 s of every wave (the next wave's 1,000 handshakes) had a p99 about twice the
 * rest's (bench/JOURNAL.md, sessions 40 and 41). A TLS socket cannot move between threads, so a wave connects and
 * calls on the same runner.
 */
import { monitorEventLoopDelay, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { KeepAliveConnection, loopbackAddress } from './keep-alive-connection.js';
import { LatencyRecorder } from './latency.js';
import { inLanes } from '../lib/lanes.js';
import { epochMs, sleepUntil, type RunnerCommand, type RunnerOptions, type RunnerReply, type WaveDone } from './wave-runner.js';

/** TLS handshakes in flight while a wave connects. */
const CONNECT_CONCURRENCY = 64;
/** How often the send loop looks at what is due: calls due meanwhile go out together. */
const TICK_MS = 5;
/** The loop-delay probe: a timer of this period, whose lateness is reported (less the period itself). */
const LOOP_PROBE_MS = 10;
/** How long the end of a wave waits for its calls in flight before it closes their connections. */
const DRAIN_MS = 10_000;

function runner(port: NonNullable<typeof parentPort>, { host, port: serverPort }: RunnerOptions): void {
  const send = (reply: RunnerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(reply, transfer);
  /** Each wave given to this runner, from its `connect` to its end: its members and their connections being opened. */
  const connecting = new Map<number, { members: number[]; conns: Promise<(KeepAliveConnection | null)[]> }>();
  const open = new Set<(KeepAliveConnection | null)[]>();

  let interval = { first: new LatencyRecorder(1_000), later: new LatencyRecorder(10_000), ok: 0, failures: {} as Record<string, number> };
  const fail = (kind: string): void => {
    interval.failures[kind] = (interval.failures[kind] ?? 0) + 1;
  };
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_PROBE_MS });
  loopDelay.enable();
  let gcPauseMaxMs = 0;
  const takePauses = (entries: readonly PerformanceEntry[]): void => {
    for (const entry of entries) gcPauseMaxMs = Math.max(gcPauseMaxMs, entry.duration);
  };
  const gcWatch = new PerformanceObserver((list) => takePauses(list.getEntries()));
  gcWatch.observe({ entryTypes: ['gc'] });

  let handshakes = 0;
  let handshakeMs = 0;
  const connectWave = async (members: number[], spreadMs: number | null): Promise<(KeepAliveConnection | null)[]> => {
    const out: (KeepAliveConnection | null)[] = members.map(() => null);
    await inLanes(members.length, CONNECT_CONCURRENCY, async (j) => {
      const from = performance.now();
      try {
        out[j] = await KeepAliveConnection.connect({ host, port: serverPort, localAddress: loopbackAddress(members[j]!) });
        handshakes++;
        handshakeMs += performance.now() - from;
      } catch (error) {
        fail(`connect ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    }, spreadMs);
    return out;
  };

  const runWave = async (command: Extract<RunnerCommand, { type: 'run' }>): Promise<WaveDone> => {
    const { wave, startAt, endAt, rate, callsPerTerminal } = command;
    const given = connecting.get(wave)!;
    const members = given.members;
    const conns = await given.conns;
    connecting.delete(wave);
    open.add(conns);
    const bytes = Buffer.from(command.bytes);
    const requestOf = (j: number, k: number): Buffer => {
      const at = j * callsPerTerminal + k;
      return bytes.subarray(command.offsets[at]!, command.offsets[at + 1]!);
    };
    const cursor = conns.map(() => 0);
    const called = new Set<number>();
    const inFlight = new Set<Promise<void>>();
    let calls = 0;
    let ok = 0;
    let skipped = 0;
    const call = (j: number): void => {
      const conn = conns[j]!;
      const first = cursor[j] === 0;
      const request = requestOf(j, cursor[j]!++);
      calls++;
      called.add(j);
      const sent = performance.now();
      const done = conn.request(request).then((reply) => {
        const ms = performance.now() - sent;
        (first ? interval.first : interval.later).record(ms);
        if (reply.status >= 200 && reply.status < 300) {
          ok++;
          interval.ok++;
        } else {
          fail(String(reply.status));
        }
      }, (error: unknown) => fail((error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : 'error')));
      inFlight.add(done);
      void done.finally(() => inFlight.delete(done));
    };
    // Open loop: calls fall due at the rate from the wave's start, whatever the answers; each goes to the wave's next
    // terminal that is free and has calls left, round the wave.
    await sleepUntil(startAt);
    let due = 0;
    let turn = 0;
    await new Promise<void>((resolve) => {
      const ticker = setInterval(() => {
        const now = epochMs();
        const target = Math.floor(((Math.min(now, endAt) - startAt) / 1000) * rate);
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
        if (now >= endAt) {
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
    open.delete(conns);
    const done: WaveDone = { type: 'waveDone', wave, calls, ok, skipped, handshakes, handshakeMs, called: [...called].map((j) => members[j]!) };
    handshakes = 0;
    handshakeMs = 0;
    return done;
  };

  port.on('message', (command: RunnerCommand) => {
    switch (command.type) {
      case 'connect': {
        const conns = sleepUntil(command.connectAt).then(() => connectWave(command.members, command.spreadMs));
        connecting.set(command.wave, { members: command.members, conns });
        void conns.then(() => send({ type: 'connected', wave: command.wave }));
        break;
      }
      case 'run':
        void runWave(command).then((done) => send(done));
        break;
      case 'take': {
        // GC entries are delivered a turn late: a pause just before the take belongs to it, not the next.
        takePauses(gcWatch.takeRecords());
        const first = Float64Array.from(interval.first.values());
        const later = Float64Array.from(interval.later.values());
        let openConnections = 0;
        for (const conns of open) for (const conn of conns) if (conn?.isOpen) openConnections++;
        send({
          type: 'taken', id: command.id, first, later, ok: interval.ok, failures: interval.failures, openConnections,
          loopDelayP99Ms: Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_PROBE_MS),
          loopDelayMaxMs: Math.max(0, loopDelay.max / 1e6 - LOOP_PROBE_MS), gcPauseMaxMs,
        }, [first.buffer, later.buffer]);
        interval = { first: new LatencyRecorder(1_000), later: new LatencyRecorder(10_000), ok: 0, failures: {} };
        loopDelay.reset();
        gcPauseMaxMs = 0;
        break;
      }
      case 'stop':
        loopDelay.disable();
        gcWatch.disconnect();
        for (const conns of open) for (const conn of conns) conn?.close();
        void Promise.all([...connecting.values()].map((w) => w.conns)).then((waves) => {
          for (const conns of waves) for (const conn of conns) conn?.close();
          send({ type: 'stopped' });
        });
        break;
    }
  });
}

if (parentPort) runner(parentPort, workerData as RunnerOptions);
