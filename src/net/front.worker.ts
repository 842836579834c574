/**
 * @module A front-end thread: gate and master on uWebSockets.js (sharing their ports with the other fronts),
 * admission, parsing and signature verification, and the terminal actors of the serials whose leases it holds.
 * A request for a serial another thread holds goes to that thread over a direct port (peer-links.ts).
 */
import { workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { endpointOf } from './comlink-endpoint.js';
import type { TemplatedApp } from 'uWebSockets.js';
import { CertificateCache } from '../auth/certificate-cache.js';
import { authenticateGate, authenticateMaster, checkBodyDigest, type Authenticated } from '../auth/request-auth.js';
import type { ActorContext } from '../actors/context.js';
import { MASTER_ROUTES } from '../actors/master-calls.js';
import { ThreadLeases } from '../actors/serial-leases.js';
import { NOT_PAIRED_MESSAGE } from '../actors/terminal-actor.js';
import { TerminalRouter } from '../actors/terminal-router.js';
import { WriteBehind } from '../actors/write-behind.js';
import { servingStoreOptions } from '../config.js';
import { AppError } from '../errors.js';
import { createLogger } from '../logger.js';
import type { HttpReply, TerminalRequest } from '../protocol/types.js';
import { logWriteFailures } from '../store/commit-failures.js';
import { Store } from '../store/store.js';
import { Admission } from './terminal-admission.js';
import type { ActorCall, FrontControl, FrontWorkerData, MainServices } from './front-protocol.js';
import { FrontStats } from './front-stats.js';
import { CashTally } from './cash-tally.js';
import { Heartbeats } from './heartbeats.js';
import { listen, type Listening } from './listen.js';
import { outcomeOf } from './outcome.js';
import { PeerLinks } from './peer-links.js';
import { RefusalLog } from './refusal-log.js';
import { createTerminalService } from './terminal-service.js';
import type { BodyLimits } from './arriving-bodies.js';

const data = workerData as FrontWorkerData;
const { config, index, threads } = data;
const heartbeats = new Heartbeats(data.heartbeats);
// Until the thread ends, shutdown included: the main thread gives up on a thread whose beat stops (FrontPool.shutdown).
heartbeats.keepBeating(index);
const log = createLogger({ level: config.logLevel, pretty: config.logPretty }).child({ thread: index });
const store = Store.open(config.dataDir, servingStoreOptions(config));
logWriteFailures(store, log);
const certs = new CertificateCache(store);
const authOptions = () => ({ nowSec: Math.floor(Date.now() / 1000), clockSkewSec: config.clockSkewSec, pastWindows: data.pastWindows });

const services = Comlink.wrap<MainServices>(endpointOf(data.services));
const writeBehind = new WriteBehind(store, log.child({ component: 'write-behind' }));
const cashTally = new CashTally((counts) => void services.cashRecorded(counts)
  .catch((err: unknown) => log.error({ err }, 'new cash events could not be told to operators')));
const actorContext: ActorContext = {
  store, writeBehind, log: log.child({ component: 'actor' }), sfp: data.sfp, masterUrl: data.masterUrl,
  clockSkewSec: config.clockSkewSec, pairingTtlMs: config.pairingTtlSec * 1000, maxCodeAttempts: config.maxCodeAttempts,
  // Not awaited: an actor does not wait for operators' pages. A failure is logged: unhandled, it would end this thread.
  events: (topic, event, eventData) => void services.publish(topic, event, eventData)
    .catch((err: unknown) => log.error({ err, topic, event }, 'an event for operators could not be published')),
  cashRecorded: (serial) => cashTally.recorded(serial),
  vpn: {
    issue: (serial, user) => services.vpnIssue(serial, user),
    publishCrl: () => services.vpnPublishCrl(),
    gateConfig: (terminal) => services.vpnGateConfig(terminal),
  },
  now: () => Date.now(),
};
const leases = new ThreadLeases(data.leases, index, {
  claimed: (serial) => {
    // The previous holder released only once its writes were on disk, but lmdb-js keeps this thread's read snapshot
    // until its next timer (read.js, renewReadTxn): one taken earlier in this turn would not see them.
    store.root.resetReadTxn();
    log.debug({ serial }, 'took the lease of a serial');
  },
  durable: () => writeBehind.written(),
  released: (bucket) => log.debug({ bucket }, 'released the lease of a bucket of serials'),
});
const actors = new TerminalRouter(actorContext, config.actorIdleMs, leases);
const stats = new FrontStats();
/** A call handed on this often is chasing a lease that keeps moving: the terminal is told to try again instead. */
const MAX_HOPS = 3;
const peers = new PeerLinks((service, request, auth, hops) => {
  stats.received++;
  return serve(service, request, auth, false, hops);
}, heartbeats, log);

/**
 * Runs the call on this thread's actor of the serial when this thread holds its lease (or takes it free), else hands
 * it to the holder. `local`: it came in on this thread's own sockets; `hops`: threads it came through. A local call
 * to an idle actor may be answered at once (see `Mailbox.post`): a value, a promise, or a throw.
 */
function serve(service: ActorCall['service'], request: TerminalRequest, auth: Authenticated, local: boolean, hops = 0): HttpReply | Promise<HttpReply> {
  const holder = leases.route(auth.serial, local);
  if (holder !== index) {
    if (hops >= MAX_HOPS) {
      return Promise.reject(new AppError('overloaded', "the terminal's actor is moving between server threads; try again shortly", { retryAfter: 1 }));
    }
    stats.handedOn++;
    return peers.call(holder, service, request, auth, hops + 1);
  }
  return local ? actors.deliver(service, request, auth) : serveHandedOn(service, request, auth);
}

/** A call another thread handed to this one's actor. */
async function serveHandedOn(service: ActorCall['service'], request: TerminalRequest, auth: Authenticated): Promise<HttpReply> {
  try {
    return await actors.deliver(service, request, auth);
  } finally {
    // Its calls come in on another thread only: once this one is answered the actor leaves, the bucket is freed when
    // its writes are on disk, and the thread the terminal is connected to takes it with its next call.
    if (leases.shouldHandOff(auth.serial)) actors.evictIfIdle(auth.serial);
  }
}

/**
 * Each thread keeps its own buckets (no lock, no hop per request), with a share of each configured figure: an address
 * whose connections reach every thread gets the configured rate, up to `threads - 1` a second more where it does not
 * divide (5/s on 2 threads: 3 + 3), and one keep-alive connection gets its thread's share (3/s).
 */
const share = (n: number): number => Math.max(1, Math.ceil(n / threads));
/**
 * A gate request parses a certificate and checks a signature, and the gate serves at most --gate-global-rate (200/s by
 * default) in all: more than 512 in flight is seconds of queued work, memory held for a flood rather than for pairing.
 */
const GATE_MAX_IN_FLIGHT = 512;
/**
 * Bodies one address (an IPv6 /64) may be sending to this thread's gate at once (arriving-bodies.ts): a pairing body is a
 * few hundred bytes, in by the next packet, so more at once from one address is someone holding places.
 */
const GATE_UPLOADS_PER_ADDRESS = 8;

const masterInFlight = share(config.maxInFlight);
const gateInFlight = share(Math.min(config.maxInFlight, GATE_MAX_IN_FLIGHT));
/**
 * Bodies arriving at once may hold at most a quarter of a service's places (arriving-bodies.ts): slow uploads from many
 * addresses leave the rest to requests being served.
 */
const bodyLimits = (inFlight: number): BodyLimits => ({ deadlineMs: config.bodyDeadlineSec * 1000, maxArriving: Math.ceil(inFlight / 4) });

const masterAdmission = new Admission({
  perAddress: { perSecond: share(config.masterRatePerAddress), burst: share(config.masterRatePerAddress * 2) },
  global: { perSecond: Number.MAX_SAFE_INTEGER, burst: Number.MAX_SAFE_INTEGER },
  maxInFlight: masterInFlight,
});
const gateAdmission = new Admission({
  perAddress: { perSecond: share(config.gateRatePerAddress), burst: share(config.gateRatePerAddress * 4) },
  global: { perSecond: share(config.gateRateGlobal), burst: share(config.gateRateGlobal * 2) },
  maxInFlight: gateInFlight,
});

const refusals = new RefusalLog(log, config.refusalLogWindowMs);
const gateClosed = (): AppError => new AppError('gate_closed', 'the gate is closed: an operator opens it for pairing (cas gate open)');
const masterApp = createTerminalService({
  name: 'master',
  routes: MASTER_ROUTES.map((r) => ({ method: r.startsWith('GET') ? ('get' as const) : ('post' as const), path: r.split(' ')[1]! })),
  maxBodyBytes: config.masterMaxBodyBytes, bodies: bodyLimits(masterInFlight), tls: data.tls, log: log.child({ service: 'master' }), refusals, admission: masterAdmission, counts: stats.master,
  nextSfp: data.nextSfp,
  authenticate: (request) => authenticateMaster(request, certs, authOptions()),
  // The actor checks the pin again, in order with unpairing: this is only who may upload, read from the store.
  admitBody: (auth) => {
    const terminal = store.terminals.get(auth.serial);
    if (!terminal) throw new AppError('unauthenticated', 'the request could not be authenticated', undefined, { cause: 'no terminal has this serial' });
    if (terminal.tfp !== auth.tfp) throw new AppError('not_paired', NOT_PAIRED_MESSAGE);
  },
  checkBody: (request) => checkBodyDigest(request, 'master'),
  // By terminal, not address: a fleet behind one NAT is many holders, and one key from many addresses is one.
  bodyHolder: (auth) => auth.serial,
  handle: (request, auth) => serve('master', request, auth, true),
});
const gateApp = createTerminalService({
  name: 'gate', routes: [{ method: 'post', path: '/api/v1/pairing' }], maxBodyBytes: config.gateMaxBodyBytes,
  bodies: { ...bodyLimits(gateInFlight), maxPerHolder: GATE_UPLOADS_PER_ADDRESS }, tls: data.tls, log: log.child({ service: 'gate' }), refusals, admission: gateAdmission, counts: stats.gate,
  nextSfp: data.nextSfp,
  authenticate: (request) => {
    // A connection made while the gate was open outlives its listen socket: a closed gate answers nothing else.
    if (gate === null) throw gateClosed();
    return authenticateGate(request, authOptions());
  },
  checkBody: (request) => {
    // Closed while the body arrived: PROTOCOL.md promises gate_closed to every request from then on.
    if (gate === null) throw gateClosed();
    checkBodyDigest(request, 'gate');
  },
  handle: (request, auth) => serve('gate', request, auth, true),
});

let master: Listening | null = await listen(masterApp, config.host, data.masterPort, 'master');
log.debug({ masterPort: master.port }, 'front thread listening');
let gate: Listening | null = null;

/** MUST close every listen socket and app before this thread ends: an open uWS handle at exit aborts the whole process. */
function closeAll(apps: TemplatedApp[]): void {
  control.stopAccepting();
  for (const app of apps) (app as TemplatedApp & { close?: () => void }).close?.();
}

/** Quiet time that counts as idle: requests already sent on open connections may still be in the socket buffers. */
const QUIET_MS = 300;

/** On the admissions' clock (performance.now(), monotonic): a wall clock stepped back would stretch the grace by the step. */
async function waitForIdle(graceMs: number): Promise<void> {
  const since = performance.now();
  const deadline = since + graceMs;
  const busy = (): boolean =>
    masterAdmission.stats.inFlight > 0 || gateAdmission.stats.inFlight > 0 ||
    performance.now() - Math.max(since, masterAdmission.stats.lastAdmittedAt, gateAdmission.stats.lastAdmittedAt) < QUIET_MS;
  while (busy() && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const control: FrontControl = {
  ready: () => ({ masterPort: master!.port }),
  status: () => stats.report(
    { actors: actors.actors.size, trackedAddresses: masterAdmission.stats.trackedAddresses + gateAdmission.stats.trackedAddresses, cachedKeys: certs.size },
    { master: masterAdmission.stats.inFlight, gate: gateAdmission.stats.inFlight },
  ),
  connectPeer(peer, port) {
    if (data.failLinking) throw new Error('test hook: this start fails at linking');
    peers.connect(peer, port);
  },
  decide: async (decision) => {
    const holder = leases.route(decision.serial, false);
    if (holder !== index) return { ok: false, movedTo: holder };
    const crashOn = config.testHooks?.crashOnDecision;
    if (crashOn === 'before') return crashInstead();
    const answer = await outcomeOf(() => actors.decide(decision), log, { decision: decision.type, serial: decision.serial });
    return crashOn === 'after' ? crashInstead() : answer;
  },
  async openGate(port) {
    gate ??= await listen(gateApp, config.host, port, 'gate');
    return gate.port;
  },
  closeGate() {
    gate?.close();
    gate = null;
  },
  stopAccepting() {
    control.closeGate();
    master?.close();
    master = null;
  },
  async drain(graceMs) {
    // Stop accepting first; requests already sent get their answers before the apps close.
    control.stopAccepting();
    await waitForIdle(graceMs);
    closeAll([gateApp, masterApp]);
  },
  async shutdown() {
    stats.close();
    refusals.close();
    // The admin service closed first: nobody is left to tell.
    cashTally.stop();
    certs.close();
    peers.closeAll();
    await actors.close();
    await writeBehind.close();
    await store.close();
  },
  crash() {
    if (config.testHooks === null) return;
    setImmediate(() => {
      throw new Error('test hook: crashing this front thread on purpose');
    });
  },
  stall(ms) {
    if (config.testHooks === null) return;
    setImmediate(() => {
      log.warn({ ms }, 'test hook: blocking this front thread on purpose');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    });
  },
};
Comlink.expose(control, endpointOf(data.control));

/** Test hook (crashOnDecision): the thread crashes and the decision is never answered, as when it dies of a fault. */
function crashInstead(): Promise<never> {
  control.crash();
  return new Promise(() => undefined);
}

process.on('uncaughtException', (error) => {
  log.fatal({ err: error }, 'front thread crashed; closing its sockets');
  closeAll([gateApp, masterApp]);
  try {
    // The replay window's newest nonces MUST outlive this thread: its successor reloads them from the store.
    writeBehind.flushNow();
  } catch (err) {
    log.error({ err }, 'writing the last nonces before exiting failed');
  }
  // Lines stdout has not taken yet (a stalled reader) get half a second, not more: the replacement matters more.
  log.flush();
  // Exit code 1 tells the main thread to start a replacement.
  process.exit(1);
});
