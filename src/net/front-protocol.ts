/**
 * @module The messages between threads, typed in one place. Front-end threads run the terminal actors, each on the
 * thread holding its serial's lease (actors/serial-leases.ts); a front hands a request for a serial another thread
 * holds to that thread over a direct port, and the main thread (admin, gate window, VPN, supervision) reaches an
 * actor through the holder's control channel.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Config } from '../config.js';
import type { Decision } from '../actors/commands.js';
import type { Authenticated } from '../auth/request-auth.js';
import type { Result } from '../errors.js';
import type { AdminTopic, FrontReport, HttpReply, PairingView, TerminalRequest, TerminalView } from '../protocol/types.js';
import type { TerminalRecord } from '../store/records.js';
import type { VpnConfigView, VpnGateConfig } from '../vpn/vpn-service.js';
import type { PastWindow } from '../store/skew-history.js';
import type { TlsFiles } from './tls-options.js';
import type { CashCounts } from './cash-tally.js';

export interface FrontWorkerData {
  config: Config;
  tls: TlsFiles;
  index: number;
  threads: number;
  /** The port the master service listens on (fixed by the first thread when configured as 0). */
  masterPort: number;
  /** What the pairing flow tells a trusted terminal. */
  masterUrl: string;
  /** This server's certificate fingerprint: the pairing code binds it. */
  sfp: string;
  /** The next certificate's SFP, announced on gate and master answers; null when none is prepared (next-identity.ts). */
  nextSfp: string | null;
  /** Which thread runs each serial's actor: shared by every thread (actors/serial-leases.ts). */
  leases: SharedArrayBuffer;
  /** When each thread's event loop last turned: shared by every thread (heartbeats.ts). */
  heartbeats: SharedArrayBuffer;
  /** Windows of earlier runs with a smaller clock skew that the freshness check still applies (skew-history.ts). */
  pastWindows: PastWindow[];
  /** Comlink control channel (FrontControl). */
  control: MessagePort;
  /** Comlink channel to the main thread's services (MainServices). */
  services: MessagePort;
  /** Test hook (PAIRING_TEST_HOOKS=1, PAIRING_TEST_FAILED_RESTARTS=N): this start fails after `ready`, at linking. */
  failLinking?: boolean;
}

/** Front → holding front: an authenticated request for one of the holder's actors. */
export interface ActorCall {
  id: number;
  /** Threads this call has already been handed through: a lease that keeps moving ends the call with 503 instead of a loop. */
  hops: number;
  service: 'gate' | 'master';
  request: TerminalRequest;
  auth: Authenticated;
}

/** Holding front → front: the answer to an ActorCall. */
export type ActorResult = { id: number } & Result<HttpReply>;

/** What crosses a port between two fronts, both ways. */
export type PeerMessage = ({ kind: 'call' } & ActorCall) | ({ kind: 'result' } & ActorResult);

/** A decision's answer, or the thread that holds the serial's lease when it is not the one asked. */
export type DecisionAnswer<T = PairingView | TerminalView> = Result<T> | { ok: false; movedTo: number };

/** What the main thread may ask of a front thread (exposed with comlink). */
export interface FrontControl {
  /** Answers once the thread listens on master; comlink queues the call until then. */
  ready(): { masterPort: number };
  /** Its counts and load, for the operators' server.status. */
  status(): FrontReport;
  /** The direct port to front `index` (replaced when that thread restarts). */
  connectPeer(index: number, port: MessagePort): void;
  /** Runs an operator's decision on the serial's actor if this thread holds its lease or takes it free; else says who holds it. */
  decide(decision: Decision): Promise<DecisionAnswer>;
  /** Listens on the gate port (0: any; returns the port). */
  openGate(port: number): Promise<number>;
  closeGate(): void;
  /** Closes the listen sockets: new connections are refused, open ones are still served. */
  stopAccepting(): void;
  /** Waits for this thread's HTTP requests in flight (at most `graceMs`), then closes its apps. */
  drain(graceMs: number): Promise<void>;
  /** After every thread drained: lets the actors finish, writes what was written behind, closes the store. */
  shutdown(): Promise<void>;
  /** Test hook, active only with PAIRING_TEST_HOOKS=1: throws an uncaught exception in the thread. */
  crash(): void;
  /** Test hook, active only with PAIRING_TEST_HOOKS=1: blocks the thread's event loop for `ms`, as long synchronous work would. */
  stall(ms: number): void;
}

/** What a front thread's actors ask of the main thread (exposed with comlink). */
export interface MainServices {
  /** Pushes a domain event to the operators subscribed to `topic`. */
  publish(topic: AdminTopic, event: string, data: Record<string, unknown>): void;
  /** The cash events this thread's actors recorded since its last tally (cash-tally.ts), for the `cash` topic. */
  cashRecorded(counts: CashCounts): void;
  /** VPN (src/vpn/): one CA and one certificate counter, so it stays on one thread. */
  vpnIssue(serial: string, user: string): Promise<VpnConfigView>;
  /** After an actor's transaction revoked VPN certificates: the CRL file follows the store. */
  vpnPublishCrl(): Promise<void>;
  vpnGateConfig(terminal: TerminalRecord): Promise<VpnGateConfig | null>;
}
