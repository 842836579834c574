/**
 * @module The endurance run's handle on a wave runner thread (wave-runner.worker.ts), and what they say to each other.
 */
import { Worker } from 'node:worker_threads';

/** Epoch ms with the sub-ms part: every thread's clock says the same (each has its own timeOrigin). */
export const epochMs = (): number => performance.timeOrigin + performance.now();

export const sleepUntil = (at: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - epochMs())));

export interface RunnerOptions {
  host: string;
  port: number;
}

export type RunnerCommand =
  /** Open the wave's connections, starting at `connectAt`, their handshakes spread over `spreadMs` (null: at once). */
  | { type: 'connect'; wave: number; members: number[]; connectAt: number; spreadMs: number | null }
  /**
   * Call from `startAt` to `endAt` at `rate` a second, each call going to the wave's next terminal that is free and has
   * calls left. Terminal j's k-th request is `bytes[offsets[j * callsPerTerminal + k] .. offsets[… + 1])`.
   */
  | { type: 'run'; wave: number; startAt: number; endAt: number; rate: number; callsPerTerminal: number; bytes: ArrayBuffer; offsets: Uint32Array }
  /** Hand over what was measured since the last take, and begin again. */
  | { type: 'take'; id: number }
  /** Close every connection; answered by `stopped`. */
  | { type: 'stop' };

/** What a runner measured between two takes. */
export interface RunnerTake {
  type: 'taken';
  id: number;
  /** Each terminal's first call of its wave, and the others, in ms. */
  first: Float64Array;
  later: Float64Array;
  ok: number;
  /** Answers other than 2xx and connection errors, by status or error code. */
  failures: Record<string, number>;
  openConnections: number;
  /** How late the runner's 10 ms probe timer fired: p99 and worst. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  gcPauseMaxMs: number;
}

/** A wave over: its calls drained or given up on, its connections closed. */
export interface WaveDone {
  type: 'waveDone';
  wave: number;
  calls: number;
  ok: number;
  /** Calls due that found no connection of the wave free (busy, closed by the server, or out of signed calls). */
  skipped: number;
  handshakes: number;
  handshakeMs: number;
  /** The members (fleet indexes) that made at least one call. */
  called: number[];
}

export type RunnerReply = RunnerTake | WaveDone | { type: 'connected'; wave: number } | { type: 'stopped' };

const ENTRY = new URL('./wave-runner.worker.js', import.meta.url);

export class WaveRunner {
  private readonly worker: Worker;
  private readonly waiting = new Map<string, { resolve: (reply: RunnerReply) => void; reject: (error: Error) => void }>();
  private nextTake = 0;
  private failure: Error | null = null;

  constructor(options: RunnerOptions, private readonly onWaveDone: (done: WaveDone) => void) {
    this.worker = new Worker(ENTRY, { workerData: options });
    this.worker.on('message', (reply: RunnerReply) => {
      if (reply.type === 'waveDone') return this.onWaveDone(reply);
      const key = reply.type === 'taken' ? `take ${reply.id}` : reply.type === 'connected' ? `connected ${reply.wave}` : 'stopped';
      this.waiting.get(key)?.resolve(reply);
      this.waiting.delete(key);
    });
    const fail = (error: Error): void => {
      this.failure ??= error;
      for (const { reject } of this.waiting.values()) reject(error);
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`a wave runner thread exited (code ${code})`)));
  }

  /** Throws what made the thread fail, if it did. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  /** Resolves once every member has a connection or failed to get one. */
  connect(wave: number, members: number[], connectAt: number, spreadMs: number | null): Promise<void> {
    const connected = this.expect(`connected ${wave}`);
    this.worker.postMessage({ type: 'connect', wave, members, connectAt, spreadMs } satisfies RunnerCommand);
    return connected.then(() => undefined);
  }

  run(command: Omit<Extract<RunnerCommand, { type: 'run' }>, 'type'>): void {
    this.check();
    this.worker.postMessage({ type: 'run', ...command } satisfies RunnerCommand, [command.bytes]);
  }

  take(): Promise<RunnerTake> {
    const id = this.nextTake++;
    const taken = this.expect(`take ${id}`);
    this.worker.postMessage({ type: 'take', id } satisfies RunnerCommand);
    return taken as Promise<RunnerTake>;
  }

  /** Closes the runner's connections and ends the thread. */
  async stop(): Promise<void> {
    if (!this.failure) {
      const stopped = this.expect('stopped');
      this.worker.postMessage({ type: 'stop' } satisfies RunnerCommand);
      await stopped.catch(() => undefined);
    }
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }

  private expect(key: string): Promise<RunnerReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiting.set(key, { resolve, reject }));
  }
}
