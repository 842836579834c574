/**
 * @module The main thread's side of the front-end threads: starts one per core on shared ports, routes their
 * authenticated requests to the actors, opens and closes the gate on all of them, and restarts a thread that crashes.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { endpointOf } from './comlink-endpoint.js';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { HttpReply } from '../protocol/types.js';
import { BatchedPort } from './batched-port.js';
import type { ActorCall, ActorResult, FrontControl, FrontWorkerData } from './front-protocol.js';
import type { GateListener } from './gate-window.js';
import { assertPortFree, freePort } from './listen.js';

export type ActorRoute = (call: ActorCall) => Promise<HttpReply>;

interface Front {
  worker: Worker;
  control: Comlink.Remote<FrontControl>;
  port: BatchedPort<ActorResult, ActorCall>;
}

const WORKER_URL = new URL('./front.worker.js', import.meta.url);
const RESTART_DELAY_MS = 200;
const MAX_RESTART_DELAY_MS = 30_000;

export class FrontPool implements GateListener {
  private readonly fronts: (Front | null)[];
  private masterPort = 0;
  /** The gate port while open; reapplied to a thread that restarts. */
  private gatePort: number | null = null;
  private closing = false;
  /** Restarts apply once the pool has started; a failure while starting fails the start. */
  private started = false;

  constructor(
    private readonly opts: { config: Config; tls: { keyFile: string; certFile: string }; threads: number; log: Logger; route: ActorRoute },
  ) {
    this.fronts = new Array<Front | null>(opts.threads).fill(null);
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
    this.started = true;
    return { masterPort: this.masterPort };
  }

  async open(port: number): Promise<number> {
    const actual = port === 0 ? await freePort(this.opts.config.host) : port;
    await assertPortFree(this.opts.config.host, actual, 'gate');
    const fronts = this.live();
    if (fronts.length === 0) throw new AppError('overloaded', 'no front-end thread is running');
    await Promise.all(fronts.map((front) => front.control.openGate(actual)));
    this.gatePort = actual;
    return actual;
  }

  close(): void {
    this.gatePort = null;
    for (const front of this.live()) void front.control.closeGate();
  }

  /** Graceful: every thread stops accepting, finishes what it has (up to `graceMs`), closes its sockets and store, and exits. */
  async shutdown(graceMs: number): Promise<void> {
    this.closing = true;
    await Promise.all(this.live().map((front) => front.control.stopAccepting()));
    this.opts.log.info('stopped accepting new connections');
    await Promise.all(this.live().map(async (front) => {
      const exited = new Promise((resolve) => front.worker.once('exit', resolve));
      await front.control.shutdown(graceMs).catch(() => undefined);
      front.control[Comlink.releaseProxy]();
      await front.worker.terminate();
      await exited;
    }));
  }

  /** Test hook: crashes one thread (the thread ignores it unless PAIRING_TEST_HOOKS=1). */
  crashOne(): void {
    void this.live()[0]?.control.crash();
  }

  private live(): Front[] {
    return this.fronts.filter((f): f is Front => f !== null);
  }

  private async spawn(index: number): Promise<void> {
    const channel = new MessageChannel();
    const data: FrontWorkerData = {
      config: this.opts.config, tls: this.opts.tls, index, threads: this.threads, masterPort: this.masterPort, control: channel.port2,
    };
    const worker = new Worker(WORKER_URL, { workerData: data, transferList: [channel.port2] });
    const port = new BatchedPort<ActorResult, ActorCall>(worker, (call) => this.serve(port, call));
    const control = Comlink.wrap<FrontControl>(endpointOf(channel.port1));
    this.fronts[index] = { worker, control, port };
    worker.on('error', (err) => this.opts.log.error({ err, thread: index }, 'front thread failed'));
    const exit = new Promise<never>((_, reject) => {
      worker.once('exit', (code) => {
        reject(new Error(`front thread ${index} exited with code ${code} while starting`));
        this.exited(index, worker, code);
      });
    });
    exit.catch(() => undefined);
    // A thread that dies while starting (port taken, bad certificate) MUST fail the start, not hang it.
    await Promise.race([control.ready(), exit]);
    if (this.gatePort !== null) await Promise.race([control.openGate(this.gatePort), exit]);
  }

  private exited(index: number, worker: Worker, code: number): void {
    if (this.fronts[index]?.worker !== worker) return;
    this.fronts[index] = null;
    if (this.closing || !this.started) return;
    this.opts.log.error({ thread: index, exitCode: code }, 'front thread exited unexpectedly; restarting it');
    let delay = RESTART_DELAY_MS;
    const restart = (): void => {
      if (this.closing) return;
      this.spawn(index).then(
        () => this.opts.log.info({ thread: index }, 'front thread restarted'),
        (err: unknown) => {
          // Back off so a thread that cannot start does not spin a core.
          delay = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
          this.opts.log.error({ err, thread: index, retryInMs: delay }, 'restarting a front thread failed');
          setTimeout(restart, delay).unref();
        },
      );
    };
    setTimeout(restart, delay).unref();
  }

  private serve(port: BatchedPort<ActorResult, ActorCall>, call: ActorCall): void {
    this.opts.route(call).then(
      (reply) => port.send({ id: call.id, ok: true, reply }),
      (error: unknown) => {
        if (error instanceof AppError) {
          port.send({ id: call.id, ok: false, code: error.code, message: error.message, ...(error.details ? { details: { ...error.details } } : {}) });
          return;
        }
        this.opts.log.error({ err: error, service: call.service, serial: call.auth.serial }, 'actor call failed unexpectedly');
        port.send({ id: call.id, ok: false, code: 'internal_error', message: 'the server failed to process the request' });
      },
    );
  }
}
