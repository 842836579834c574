/**
 * @module The main thread's side of the front-end threads: starts one per core on shared ports, links every pair
 * of them directly, takes operators' decisions to the thread that holds the serial's lease, opens and closes the
 * gate on all of them, and restarts a thread that crashes (freeing its leases, so the others serve its terminals).
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { endpointOf } from './comlink-endpoint.js';
import type { Config } from '../config.js';
import { AppError, unwrap } from '../errors.js';
import type { Logger } from '../logger.js';
import type { FrontReport, FrontThreadStatus, PairingView, TerminalView } from '../protocol/types.js';
import { shardOf } from '../actors/shard.js';
import { FREE, LeaseTable, createLeaseTable } from '../actors/serial-leases.js';
import type { TerminalDecisions } from '../actors/terminal-router.js';
import type { Decision } from '../actors/commands.js';
import type { DecisionAnswer, FrontControl, FrontWorkerData, MainServices } from './front-protocol.js';
import type { GateListener } from './gate-window.js';
import { HEARTBEAT_MS, Heartbeats, monotonicMs } from './heartbeats.js';
import { assertPortFree, freePort } from './listen.js';
import { ThreadExited, threadUnavailable } from './outcome.js';
import type { PastWindow } from '../store/skew-history.js';
import type { TlsFiles } from './tls-options.js';

interface Front {
  worker: Worker;
  startedAt: number;
  control: Comlink.Remote<FrontControl>;
  /** Rejects when the thread exits: comlink never settles a call to a thread that died, so every call races this. */
  exited: Promise<never>;
  /** Resolves when the thread has exited (even if it exited before anyone asked). */
  gone: Promise<void>;
}

const WORKER_URL = new URL('./front.worker.js', import.meta.url);
const RESTART_DELAY_MS = 200;
const MAX_RESTART_DELAY_MS = 30_000;

/** A thread that has not answered `status` by then is reported as not responding (a loop stuck in long work). */
export const STATUS_TIMEOUT_MS = 2_000;

/** What a call to a thread gives when the thread stopped beating before it answered. */
const SILENT = Symbol('silent');

/** A decision goes to the holder it is told of at most this often before the operator is asked to retry. */
export const MAX_DECISION_ATTEMPTS = 3;

/**
 * Asks thread `first` to run a decision, then whichever thread the one asked says holds the serial now, at most
 * MAX_DECISION_ATTEMPTS times. `ask` gives null for a thread that is not running.
 */
export async function followLease<T>(first: number, ask: (index: number) => Promise<DecisionAnswer<T>> | null): Promise<T> {
  let target = first;
  for (let attempt = 0; attempt < MAX_DECISION_ATTEMPTS; attempt++) {
    const answer = await ask(target);
    if (answer === null) break;
    if (!('movedTo' in answer)) return unwrap(answer);
    target = answer.movedTo;
  }
  throw threadUnavailable('restarting');
}

export class FrontPool implements GateListener, TerminalDecisions {
  private readonly fronts: (Front | null)[];
  private readonly leaseBuffer = createLeaseTable();
  private readonly leases = new LeaseTable(this.leaseBuffer);
  private readonly heartbeats: Heartbeats;
  private masterPort = 0;
  /** The gate port while open; reapplied to a thread that restarts. */
  private gatePort: number | null = null;
  private closing = false;
  /** Restarts apply once the pool has started; a failure while starting fails the start. */
  private started = false;
  /** Threads with a restart under way: one restart at a time per thread, or a failed attempt could leave a second worker serving with the same index (and leases). */
  private readonly restarting = new Set<number>();
  /** Per thread: restarts after an unexpected exit. */
  private readonly restarts: number[];
  /** Per thread: when it stopped beating, while it is silent; for the log lines at the moment it stops and resumes. */
  private readonly silentSince: (number | null)[];
  private heartbeatWatch: NodeJS.Timeout | null = null;
  /** Test hook: restarts left that fail after the new thread answered `ready` (config.testHooks). */
  private failedRestartsToStage: number;

  constructor(
    private readonly opts: {
      config: Config; tls: TlsFiles; threads: number; log: Logger;
      sfp: string; nextSfp: string | null; masterUrl: (port: number) => string; services: MainServices;
      /** What SkewHistory.startRun returned: every thread's freshness check applies them. */
      pastWindows: PastWindow[];
    },
  ) {
    this.fronts = new Array<Front | null>(opts.threads).fill(null);
    this.heartbeats = Heartbeats.create(opts.threads);
    this.restarts = new Array<number>(opts.threads).fill(0);
    this.silentSince = new Array<number | null>(opts.threads).fill(null);
    this.failedRestartsToStage = opts.config.testHooks?.failedRestarts ?? 0;
  }

  get threads(): number {
    return this.fronts.length;
  }

  /** Starts every thread; the first one fixes the master port when it is configured as 0. */
  async start(): Promise<{ masterPort: number }> {
    const { host, masterPort } = this.opts.config;
    this.masterPort = masterPort === 0 ? await freePort(host) : masterPort;
    await assertPortFree(host, this.masterPort, 'master');
    await Promise.all(this.fronts.map((_, i) => this.spawn(i)));
    // Each pair once: thread i links to every thread after it.
    await Promise.all(this.fronts.map((_, i) => this.link(i, (j) => j > i)));
    this.started = true;
    this.heartbeatWatch = setInterval(() => this.watchHeartbeats(), HEARTBEAT_MS);
    this.heartbeatWatch.unref();
    return { masterPort: this.masterPort };
  }

  async open(port: number): Promise<number> {
    const actual = port === 0 ? await freePort(this.opts.config.host) : port;
    await assertPortFree(this.opts.config.host, actual, 'gate');
    const live = this.fronts.flatMap((front, index) => (front ? [{ front, index }] : []));
    if (live.length === 0) throw new AppError('overloaded', 'no front-end thread is running');
    if (!live.some(({ index }) => this.answers(index))) throw threadUnavailable('not responding');
    // A thread whose loop is blocked opens the gate when it wakes (its control messages wait in order); waiting for
    // it would hold the operator as long as it stays blocked.
    try {
      await Promise.all(live.map(({ front, index }) => {
        const opening = this.ask(front, front.control.openGate(actual));
        if (this.answers(index)) return opening;
        opening.catch((err: unknown) => this.opts.log.error({ err, thread: index }, 'opening the gate on a thread that was not responding failed'));
        return undefined;
      }));
    } catch (error) {
      // The operator is told it failed: the threads that did open MUST NOT go on listening behind a gate that reads closed.
      await this.close();
      throw error;
    }
    this.gatePort = actual;
    return actual;
  }

  /**
   * Resolves once every thread that answers has closed its gate socket. A thread whose loop is blocked closes it when it
   * wakes (its control messages wait in order), and is not waited for, as in `open`.
   */
  async close(): Promise<void> {
    this.gatePort = null;
    await Promise.all(this.fronts.map(async (front, index) => {
      if (!front) return;
      const closing = this.ask(front, front.control.closeGate())
        .catch((err: unknown) => this.opts.log.error({ err, thread: index }, 'closing the gate on a thread failed'));
      if (this.answers(index)) await closing;
    }));
  }

  /**
   * Graceful, in phases, because a thread may still be answering requests that other threads handed it:
   * every thread stops accepting, then all finish their requests (up to `graceMs`), then all close their
   * actors and store, and exit.
   *
   * A thread whose event loop is blocked is left behind instead of holding the others' shutdown for as long as it
   * is blocked. It still holds its uWS sockets, so it cannot be ended in-process (see `retire`). Returns the
   * indices of such threads: the caller MUST end the process without the usual exit, which would abort on them.
   */
  async shutdown(graceMs: number): Promise<number[]> {
    this.closing = true;
    if (this.heartbeatWatch) clearInterval(this.heartbeatWatch);
    const stuck = new Set<number>();
    const phase = (call: (front: Front) => Promise<unknown>): Promise<unknown> =>
      Promise.all(this.fronts.map(async (front, index) => {
        if (!front || stuck.has(index)) return;
        const answer = await this.askWhileBeating(front, index, call(front)).catch(() => undefined);
        if (answer === SILENT) stuck.add(index);
      }));
    await phase((front) => front.control.stopAccepting());
    this.opts.log.info('stopped accepting new connections');
    await phase((front) => front.control.drain(graceMs));
    await phase((front) => front.control.shutdown());
    await Promise.all(this.fronts.map((front, index) => (front && !stuck.has(index) ? this.end(front) : undefined)));
    if (stuck.size > 0) {
      this.opts.log.error({ threads: [...stuck] }, 'front threads not responding at shutdown; stopped without them (each may lose its last half second of replay-window nonces)');
    }
    return [...stuck];
  }

  /** After `drain`: the thread settles its actors and closes its store, then ends. */
  private async stop(front: Front): Promise<void> {
    await this.ask(front, front.control.shutdown()).catch(() => undefined);
    await this.end(front);
  }

  private async end(front: Front): Promise<void> {
    front.control[Comlink.releaseProxy]();
    await front.worker.terminate();
    await front.gone;
  }

  /** A call to a thread that also gives up (SILENT) once the thread's heartbeat is overdue. */
  private askWhileBeating<T>(front: Front, index: number, call: Promise<T>): Promise<T | typeof SILENT> {
    let timer: NodeJS.Timeout | undefined;
    const silent = new Promise<typeof SILENT>((resolve) => {
      timer = setInterval(() => {
        if (this.heartbeats.isSilent(index)) resolve(SILENT);
      }, HEARTBEAT_MS);
    });
    return Promise.race([this.ask(front, call), silent]).finally(() => clearInterval(timer));
  }

  /** Takes a thread out of service. Its uWS sockets MUST close before it ends: terminating it with them open aborts the whole process. */
  private async retire(front: Front): Promise<void> {
    await this.ask(front, front.control.drain(0)).catch(() => undefined);
    await this.stop(front);
  }

  /**
   * To the thread holding the serial's lease. A free serial starts on the thread its hash names, or, when that one is
   * not responding, on the first that is: any thread may take a free lease.
   */
  decide(decision: Decision): Promise<PairingView | TerminalView> {
    const holder = this.leases.holder(decision.serial);
    return followLease(holder === FREE ? this.responsive(shardOf(decision.serial, this.threads)) : holder, (index) => {
      const front = this.fronts[index];
      if (!front) return null;
      // A thread whose loop is blocked would keep the operator waiting as long as it is.
      if (this.heartbeats.isSilent(index)) return Promise.reject(threadUnavailable('not responding'));
      // comlink types the remote answer as a union of promises; it is one promise of the answer.
      return this.ask(front, front.control.decide(decision) as Promise<DecisionAnswer>);
    });
  }

  /** A call to a thread, failing (overloaded) instead of hanging if the thread dies first. */
  private ask<T>(front: Front, call: Promise<T>): Promise<T> {
    return Promise.race([call, front.exited]);
  }

  /** Gives thread `index` and every live thread `j` with `which(j)` a direct port to each other. */
  private async link(index: number, which: (j: number) => boolean): Promise<void> {
    const front = this.fronts[index];
    if (!front) return;
    await Promise.all(this.fronts.map(async (other, j) => {
      if (!other || j === index || !which(j)) return;
      const { port1, port2 } = new MessageChannel();
      await Promise.all([
        this.ask(front, front.control.connectPeer(j, Comlink.transfer(port1, [port1] as never))),
        this.ask(other, other.control.connectPeer(index, Comlink.transfer(port2, [port2] as never))),
      ]);
    }));
  }

  /** Every thread's state, leases and own report; a thread that is down or slow to answer is reported without its report. */
  async status(): Promise<FrontThreadStatus[]> {
    const leases = this.leases.countByHolder(this.threads);
    return Promise.all(this.fronts.map(async (front, thread): Promise<FrontThreadStatus> => {
      const base = { thread, restarts: this.restarts[thread]!, leases: leases[thread]! };
      if (!front) return { ...base, state: 'restarting', startedAt: null, report: null };
      const startedAt = new Date(front.startedAt).toISOString();
      if (this.heartbeats.isSilent(thread)) return { ...base, state: 'not_responding', startedAt, report: null };
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), STATUS_TIMEOUT_MS)));
      // comlink types the remote answer as a union of promises; it is one promise of the report.
      const report = await Promise.race([this.ask(front, front.control.status() as Promise<FrontReport>), late]).catch(() => null).finally(() => clearTimeout(timer));
      if (report === null) return { ...base, state: this.fronts[thread] === front ? 'not_responding' : 'restarting', startedAt, report: null };
      return { ...base, state: 'running', startedAt, report };
    }));
  }

  /** Thread `index` is running and beating. */
  private answers(index: number): boolean {
    return this.fronts[index] !== null && !this.heartbeats.isSilent(index);
  }

  /** `preferred` if it answers, else the first thread that does; `preferred` when none does. */
  private responsive(preferred: number): number {
    if (this.answers(preferred)) return preferred;
    const other = this.fronts.findIndex((_, index) => this.answers(index));
    return other === -1 ? preferred : other;
  }

  /** Logs the moment a thread stops beating and the moment it beats again; the status line comes only every minute. */
  private watchHeartbeats(): void {
    const now = monotonicMs();
    this.fronts.forEach((front, index) => {
      const since = this.silentSince[index] ?? null;
      if (front !== null && this.heartbeats.isSilent(index, now)) {
        if (since !== null) return;
        const silentMs = this.heartbeats.silentFor(index, now);
        this.silentSince[index] = now - silentMs;
        const leases = this.leases.countByHolder(this.threads)[index];
        this.opts.log.warn({ thread: index, silentMs, leases }, 'front thread not responding: its event loop is blocked; calls for its terminals get 503 or wait');
      } else if (since !== null) {
        this.silentSince[index] = null;
        // A thread that exited while silent is in the exit's own log line instead.
        if (front !== null) this.opts.log.info({ thread: index, silentMs: now - since }, 'front thread responding again');
      }
    });
  }

  /** Test hook: crashes one thread (the thread ignores it unless PAIRING_TEST_HOOKS=1). */
  crashOne(): void {
    void this.live()[0]?.control.crash();
  }

  /** Test hook: blocks one thread's event loop for `ms` (the thread ignores it unless PAIRING_TEST_HOOKS=1). */
  stallOne(ms: number): void {
    void this.live()[0]?.control.stall(ms);
  }

  private live(): Front[] {
    return this.fronts.filter((f): f is Front => f !== null);
  }

  private async spawn(index: number, failLinking = false): Promise<void> {
    const channel = new MessageChannel();
    const servicesChannel = new MessageChannel();
    Comlink.expose(this.opts.services, endpointOf(servicesChannel.port1));
    const data: FrontWorkerData = {
      config: this.opts.config, tls: this.opts.tls, index, threads: this.threads, masterPort: this.masterPort,
      leases: this.leaseBuffer, heartbeats: this.heartbeats.buffer, pastWindows: this.opts.pastWindows,
      masterUrl: this.opts.masterUrl(this.masterPort), sfp: this.opts.sfp, nextSfp: this.opts.nextSfp, control: channel.port2, services: servicesChannel.port2,
      ...(failLinking ? { failLinking } : {}),
    };
    // Its own stamp takes over once it runs; until then a starting thread is not silent.
    this.heartbeats.beat(index);
    const worker = new Worker(WORKER_URL, { workerData: data, transferList: [channel.port2, servicesChannel.port2] });
    const control = Comlink.wrap<FrontControl>(endpointOf(channel.port1));
    worker.on('error', (err) => this.opts.log.error({ err, thread: index }, 'front thread failed'));
    let markGone = (): void => undefined;
    const gone = new Promise<void>((resolve) => (markGone = resolve));
    const exited = new Promise<never>((_, reject) => {
      worker.once('exit', (code) => {
        reject(new ThreadExited(index, code));
        markGone();
        servicesChannel.port1.close();
        this.exited(index, worker, code);
      });
    });
    exited.catch(() => undefined);
    const front: Front = { worker, startedAt: Date.now(), control, exited, gone };
    this.fronts[index] = front;
    // A thread that dies while starting (port taken, bad certificate) MUST fail the start, not hang it.
    await this.ask(front, control.ready());
    if (this.gatePort !== null) await this.ask(front, control.openGate(this.gatePort));
  }

  private exited(index: number, worker: Worker, code: number): void {
    if (this.fronts[index]?.worker !== worker) return;
    this.fronts[index] = null;
    if (this.closing || !this.started) return;
    // It is gone and flushed what it could: the other threads take its terminals with their next calls.
    const leasesFreed = this.leases.releaseAll(index);
    this.opts.log.error({ thread: index, exitCode: code, leasesFreed }, 'front thread exited unexpectedly; restarting it');
    this.restarts[index]!++;
    this.restart(index);
  }

  /** Starts thread `index` again, backing off while it fails; a second call while one is under way does nothing. */
  private restart(index: number): void {
    if (this.restarting.has(index)) return;
    this.restarting.add(index);
    let delay = RESTART_DELAY_MS;
    const attempt = (): void => {
      if (this.closing) {
        this.restarting.delete(index);
        return;
      }
      const failLinking = this.failedRestartsToStage > 0;
      if (failLinking) this.failedRestartsToStage--;
      this.spawn(index, failLinking).then(() => this.link(index, () => true)).then(
        () => {
          this.restarting.delete(index);
          this.opts.log.info({ thread: index }, 'front thread restarted');
        },
        async (err: unknown) => {
          // Back off so a thread that cannot start does not spin a core.
          delay = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
          this.opts.log.error({ err, thread: index, retryInMs: delay }, 'restarting a front thread failed');
          // A thread that started but failed later (gate, links) MUST NOT stay behind, serving with its index beside the next attempt.
          const failed = this.fronts[index];
          this.fronts[index] = null;
          if (failed) await this.retire(failed);
          // Gone now; until an attempt succeeds, the other threads serve what it took.
          this.leases.releaseAll(index);
          setTimeout(attempt, delay).unref();
        },
      );
    };
    setTimeout(attempt, delay).unref();
  }
}
