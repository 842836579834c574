/** @module The messages between a front-end thread and the main thread (which owns the actors), typed in one place. */
import type { Config } from '../config.js';
import type { Authenticated } from '../auth/request-auth.js';
import type { ErrorCode } from '../errors.js';
import type { HttpReply, TerminalRequest } from '../protocol/types.js';

export interface FrontWorkerData {
  config: Config;
  tls: { keyFile: string; certFile: string };
  index: number;
  threads: number;
  /** The port the master service listens on (fixed by the first thread when configured as 0). */
  masterPort: number;
  /** Comlink control channel (FrontControl). */
  control: import('node:worker_threads').MessagePort;
}

/** Front → main: an authenticated request for the serial's actor. */
export interface ActorCall {
  id: number;
  service: 'gate' | 'master';
  request: TerminalRequest;
  auth: Authenticated;
}

/** Main → front. Errors cross as codes: an Error's class and fields do not survive the thread boundary. */
export type ActorResult =
  | { id: number; ok: true; reply: HttpReply }
  | { id: number; ok: false; code: ErrorCode; message: string; details?: Record<string, unknown> };

/** What the main thread may ask of a front thread (exposed with comlink). */
export interface FrontControl {
  /** Answers once the thread listens on master; comlink queues the call until then. */
  ready(): { masterPort: number };
  /** Listens on the gate port (0: any; returns the port). */
  openGate(port: number): Promise<number>;
  closeGate(): void;
  /** Closes the listen sockets: new connections are refused, open ones are still served. */
  stopAccepting(): void;
  /** Stops accepting, waits for requests in flight (at most `graceMs`), closes the store. */
  shutdown(graceMs: number): Promise<void>;
  /** Test hook, active only with PAIRING_TEST_HOOKS=1: throws an uncaught exception in the thread. */
  crash(): void;
}
