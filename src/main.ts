/** @module Wires the server: config → store → identity → front-end threads (with the actors) and admin; `close` takes them down in reverse. */
import fs from 'node:fs';
import path from 'node:path';
import { servingStoreOptions, type Config } from './config.js';
import type { Logger } from './logger.js';
import type { EventSink } from './actors/context.js';
import type { OpsContext } from './admin/op-spec.js';
import { AlertBudget } from './admin/alert-budget.js';
import { OfflineAccountWatch } from './admin/offline-accounts.js';
import { LoginThrottle } from './admin/login-throttle.js';
import { Sessions } from './admin/sessions.js';
import { createAdminService, type AdminService } from './net/admin.js';
import { FrontPool } from './net/front-pool.js';
import { GateWindow } from './net/gate-window.js';
import { createMetricsService, METRICS_PATH } from './net/metrics-service.js';
import { assertPortFree, listen, type Listening } from './net/listen.js';
import { dropBackupMarker, readBackupMarker, type BackupMarker } from './server/backup-marker.js';
import { certificateNames, ensureServerIdentity, type ServerIdentity } from './server/identity.js';
import { startHousekeeping } from './server/housekeeping.js';
import { RolloverStatus, settleRollover, startAnnouncing } from './server/rollover.js';
import { residentMemory } from './server/resident-memory.js';
import { cliUser } from './server/os-account.js';
import { packageRoot } from './package-root.js';
import { lockDataDir } from './store/data-dir-lock.js';
import { logWriteFailures } from './store/commit-failures.js';
import { Store } from './store/store.js';
import { upgradeStore, type UpgradeProgress } from './store/store-upgrade.js';
import { sealStore } from './store/index-seal.js';
import { SkewHistory } from './store/skew-history.js';
import { settleInterruptedAudits } from './store/audit-intents.js';
import { auditHeadOf } from './store/audit-chain.js';
import { processRuns } from './process-runs.js';
import { entryCount } from './store/entry-count.js';
import { VpnService } from './vpn/vpn-service.js';

export interface RunningServer {
  sfp: string;
  /** The next certificate's SFP, announced to terminals; null when none is prepared (server/rollover.ts). */
  nextSfp: string | null;
  /** What this start generated of the TLS identity (server/identity.ts). */
  generatedIdentity: ServerIdentity['generated'];
  threads: number;
  urls: { gate: string; master: string; admin: string };
  ports: { gate: number; master: number; admin: number };
  gateOpen: boolean;
  /** The Prometheus scrape URL (`--metrics-port`, plain HTTP); null while it is off. */
  metricsUrl: string | null;
  /** Test hook (PAIRING_TEST_HOOKS=1): crash one front-end thread. */
  crashFrontThread(): void;
  /** Test hook (PAIRING_TEST_HOOKS=1): block one front-end thread's event loop for `ms`. */
  stallFrontThread(ms: number): void;
  /** Stops every service. Returns the front threads that were not responding and could not be stopped: see FrontPool.shutdown. */
  close(): Promise<{ stuckThreads: number[] }>;
}

const AUDIT_WATCH_MS = 1_000;
/** Pushes of pairing attempts with unknown serials, across the server (alert-budget.ts). */
const UNKNOWN_SERIAL_ALERTS_PER_SEC = 10;
/** Pushes of `terminal.new_fingerprint` a second, at most (a paired serial asked for by another key). */
const NEW_FINGERPRINT_ALERTS_PER_SEC = 10;
/** How long shutdown waits for requests in flight. */
const SHUTDOWN_GRACE_MS = 5_000;

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // MUST come before anything else touches the data dir: a second server is refused here having changed nothing.
  // (A start-up failure before the `try` below ends the process, and the kernel frees the lock with it.)
  const lock = await lockDataDir(config.dataDir);
  if (lock.warning) log.warn({ dataDir: config.dataDir }, lock.warning);
  const store = Store.open(config.dataDir, servingStoreOptions(config));
  logWriteFailures(store, log);
  // After the store: a data dir whose terminals met this server keeps its identity (identity.ts, refuseNewIdentity).
  const certificatesSeen = entryCount(store.certs);
  settleRollover(config.dataDir, log);
  const identity = ensureServerIdentity(config, { certificatesSeen });
  if (identity.generated !== false && certificatesSeen > 0) {
    log.warn({ sfp: identity.sfp }, 'a new TLS identity (--new-identity): terminals that pinned the old SFP refuse this server until each is told the new one (terminal pair --expect-sfp SFP, once checked with the operator; its pairing stays) or is factory-reset and paired again');
  }
  const tls = { keyFile: identity.keyFile, certFile: identity.certFile };
  reportDiskSpace(store, config, log);
  const now = (): number => Date.now();
  const startedAt = now();
  // A large store's cash events take seconds to check or index (index-rebuild.ts): say why the server is not serving yet.
  const upgradeProgress: UpgradeProgress = (index, done, total, phase) => log.info({ index, done, total },
    phase === 'checking' ? 'checking the cash-event indexes of a store not sealed by a clean stop of this version before serving' : 'indexing the cash events of an older store before serving');
  const upgradeStartedAt = now();
  logStoreUpgrade(upgradeStore(store, Math.floor(now() / 1000), config.clockSkewSec, upgradeProgress), now() - upgradeStartedAt, log);
  // Before anything else audits: an entry of this run must not come before those of the run that was cut short.
  for (const entry of await settleInterruptedAudits(store, { server: true, now: now(), running: processRuns })) {
    const tookEffect = entry.detail?.tookEffect === true;
    log.warn({ user: entry.user, action: entry.action, target: entry.target, at: new Date(entry.at).toISOString(), seq: entry.seq, tookEffect },
      `an operator action was cut short by a stop before its outcome was audited: audited as interrupted; ${tookEffect ? 'it took effect' : 'it may have taken effect, so check its target'}`);
  }
  const restoredFrom = readBackupMarker(config.dataDir);
  const announcement = await startAnnouncing(store, config.dataDir, identity.sfp, startedAt, log);
  const rollover = new RolloverStatus(store, announcement, now);
  const pastWindows = new SkewHistory(store.settings).startRun(Math.floor(now() / 1000), config.clockSkewSec, { restored: restoredFrom !== null });
  if (restoredFrom) await startOnRestoredCopy(store, config, log, restoredFrom, startedAt);
  for (const w of pastWindows) {
    if (w.restored) continue;
    log.warn({ clockSkewSec: config.clockSkewSec, earlierSkewSec: w.skewSec, createdBefore: new Date(w.createdBefore * 1000).toISOString(), until: new Date((w.createdBefore + config.clockSkewSec) * 1000).toISOString() },
      `the clock skew was raised since an earlier run: requests created before createdBefore are still refused when more than ${w.skewSec} s old, until that run's nonces can no longer be replayed`);
  }
  const url = (port: number): string => `https://${hostPort(config.publicHost, port)}`;

  // The admin service owns the pushes; actors (on the front threads) publish through this late-bound sink.
  let publish: EventSink = () => undefined;
  let cashRecorded: AdminService['cashRecorded'] = () => undefined;
  const unknownAlerts = new AlertBudget(UNKNOWN_SERIAL_ALERTS_PER_SEC, (count) =>
    log.warn({ count }, `unknown-serial alerts beyond ${UNKNOWN_SERIAL_ALERTS_PER_SEC} a second were not pushed to operators (cas unknown list has the serials)`));
  // Anyone at the open gate who knows a paired serial can ask with key after key: a budget of its own, so that such a
  // flood neither redraws every page hundreds of times a second nor crowds out the unknown-serial alerts, or they it.
  const fingerprintAlerts = new AlertBudget(NEW_FINGERPRINT_ALERTS_PER_SEC, (count) =>
    log.warn({ count }, `new-fingerprint alerts beyond ${NEW_FINGERPRINT_ALERTS_PER_SEC} a second were not pushed to operators (each one has its warning line in the log)`));
  const events: EventSink = (topic, event, data) => {
    if (event === 'terminal.unknown_serial' && !unknownAlerts.take(now())) return;
    if (event === 'terminal.new_fingerprint' && !fingerprintAlerts.take(now())) return;
    publish(topic, event, data);
  };

  // With --master-port 0 the port is known only once the first front thread listens; actors read it when they need it.
  let masterPort = config.masterPort;
  const vpn = new VpnService({ store, dataDir: config.dataDir, publicHost: config.publicHost, masterPort: () => masterPort, log: log.child({ component: 'vpn' }), now });
  // A revocation is committed before its CRL file is written: a crash between the two is mended here.
  vpn.publishCrl();
  const fronts = new FrontPool({
    config, tls, threads: config.threads, log: log.child({ component: 'fronts' }), sfp: identity.sfp, nextSfp: announcement?.sfp ?? null, masterUrl: url, pastWindows,
    services: {
      publish: (topic, event, data) => events(topic, event, data),
      cashRecorded: (counts) => cashRecorded(counts),
      vpnIssue: (serial, user) => vpn.issue(serial, user),
      vpnPublishCrl: async () => vpn.publishCrl(),
      vpnGateConfig: (terminal) => vpn.gateConfig(terminal),
    },
  });
  try {
    ({ masterPort } = await fronts.start());
    if (config.publicHostIsLoopbackFallback) {
      log.warn({ host: config.host, publicHost: config.publicHost },
        `the services listen on every address (--host ${config.host}) but no --public-host was given: terminals on other machines will be told master is at ${url(masterPort)}; pass --public-host NAME (the name or address terminals reach this server by)`);
    } else if (!certificateNames(identity.certFile, config.publicHost)) {
      // Made at the first start for the name given then: terminals do not mind (they pin the SFP), browsers do.
      log.warn({ publicHost: config.publicHost, certFile: identity.certFile },
        `the server certificate does not name --public-host ${config.publicHost}: terminals pin its SFP and do not mind, but a browser that trusts it for the admin page still warns about the name (it names the host given at its first start, or is your own); a new certificate is a new SFP for every terminal (docs/ADMIN-OPS.md)`);
    }
    const gate = new GateWindow(fronts, { port: config.gatePort, store, log: log.child({ service: 'gate' }), events, now });

    const server: OpsContext['server'] = {
      status: async () => ({
        startedAt: new Date(startedAt).toISOString(), uptimeSec: Math.floor((now() - startedAt) / 1000), ...residentMemory(),
        terminals: store.terminalCount(),
        pairingHistory: { requests: entryCount(store.pairing), days: config.pairingHistoryDays },
        disk: store.space && { freeBytes: store.space.free, minFreeBytes: store.space.minFreeBytes, low: store.space.low },
        threads: await fronts.status(),
        nextIdentity: await rollover.current(),
      }),
    };
    const metricsService = () => createMetricsService({
      snapshot: async () => {
        // The store and the gate first, synchronously: a scrape still waiting on the threads when shutdown closes the
        // store MUST NOT read it afterwards.
        const auditHeadSeq = auditHeadOf(store.audit)?.seq ?? null;
        const gateNow = gate.status();
        return { status: await server.status(), gate: gateNow, auditHeadSeq, now: now() };
      },
      log: log.child({ service: 'metrics' }),
    });
    const sessions = new Sessions(store, { idleMs: config.sessionIdleSec * 1000, maxAgeMs: config.sessionMaxAgeSec * 1000 }, now);
    const opsContext: OpsContext = { store, server, sessions, router: fronts, gate, vpn, logins: new LoginThrottle(now), events, log: log.child({ service: 'admin' }), now };
    const admin = createAdminService({
      tls, maxMessageBytes: config.adminMaxMessageBytes, log: log.child({ service: 'admin' }), ops: () => opsContext,
      limits: { loginDeadlineMs: config.adminLoginDeadlineSec * 1000, perAddress: config.adminConnectionsPerAddress, waiting: config.adminConnectionsWaiting },
      webRoot: path.join(packageRoot(), 'src', 'admin', 'web'),
    });
    publish = admin.publish;
    cashRecorded = admin.cashRecorded;
    // Before the admin service takes connections: the account changes made while the server was stopped are logged first.
    const accounts = new OfflineAccountWatch(store, log, admin);
    let listening: Listening | null = null;
    let metricsListening: Listening | null = null;
    try {
      // Both ports are checked before the gate reopens: a server that cannot start opens nothing to terminals, not even
      // for a moment. uWS binds with SO_REUSEPORT, and would share a port another program holds rather than fail.
      if (config.adminPort !== 0) await assertPortFree(config.host, config.adminPort, 'admin');
      if (config.metricsPort !== null && config.metricsPort !== 0) await assertPortFree(config.metricsHost, config.metricsPort, 'metrics');
      // MUST come before the admin channel and the metrics port listen: a gate.status or a scrape in between said the
      // gate was closed while its window was being reopened, and the restore pushes nothing that would correct a page.
      await gate.restore();
      listening = await listen(admin.app, config.host, config.adminPort, 'admin');
      if (config.metricsPort !== null) metricsListening = await listen(metricsService(), config.metricsHost, config.metricsPort, 'metrics');
    } catch (error) {
      // A port taken, at its check or since. The admin service made above goes too (its timers would outlive the store
      // closed below); a window the restore reopened is released, its stored window kept for the next start.
      listening?.close();
      await admin.close(0);
      await gate.release();
      throw error;
    }
    const adminListening = listening;
    const auditWatch = setInterval(() => accounts.poll(), AUDIT_WATCH_MS);
    auditWatch.unref();

    const housekeeping = startHousekeeping({ store, sessions, config, log, now, status: () => server.status(), gate: () => gate.status() });

    let closed = false;
    return {
      sfp: identity.sfp,
      nextSfp: announcement?.sfp ?? null,
      generatedIdentity: identity.generated,
      threads: fronts.threads,
      urls: { gate: url(gate.status().port), master: url(masterPort), admin: url(adminListening.port) },
      ports: { gate: gate.status().port, master: masterPort, admin: adminListening.port },
      gateOpen: gate.status().open,
      metricsUrl: metricsListening && `http://${hostPort(config.metricsHost, metricsListening.port)}${METRICS_PATH}`,
      crashFrontThread: () => fronts.crashOne(),
      stallFrontThread: (ms) => fronts.stallOne(ms),
      async close() {
        if (closed) return { stuckThreads: [] };
        closed = true;
        housekeeping.stop();
        clearInterval(auditWatch);
        // A scrape asks the front threads: it goes before they do.
        metricsListening?.close();
        // Admin first: its ops reach the front threads' actors and write the store. Then front threads stop accepting,
        // finish their requests, settle their actors and close their stores; then ours closes.
        adminListening.close();
        await admin.close(SHUTDOWN_GRACE_MS);
        // Once no operator can open it again, while the threads still answer: the window's timer MUST NOT fire into the
        // store closed below (a caller that lives on, as an embedding or a test, would see it), and the stored window
        // stays for the next start to reopen.
        await gate.release();
        const stuckThreads = await fronts.shutdown(SHUTDOWN_GRACE_MS);
        await housekeeping.finished();
        await rollover.stop();
        // Only once nothing of this run writes any more, and never with a thread still holding the store: it may write after.
        if (stuckThreads.length === 0) await sealAtStop(store, now(), log);
        await store.close();
        // Threads that did not stop still hold the store: the lock goes with the process, which is killed next.
        if (stuckThreads.length === 0) await lock.release();
        return { stuckThreads };
      },
    };
  } catch (error) {
    await fronts.shutdown(0).catch(() => undefined);
    await rollover.stop();
    await store.close();
    await lock.release();
    throw error;
  }
}

/** Every thread watches the disk for itself; the main thread alone tells the operators. */
function reportDiskSpace(store: Store, config: Config, log: Logger): void {
  if (!store.space) return;
  const diskChanged = (low: boolean, freeBytes: number, when = ''): void => {
    const fields = { freeMiB: Math.floor(freeBytes / 2 ** 20), minFreeMiB: config.minFreeDiskMiB, dataDir: config.dataDir };
    if (low) log.error(fields, `the store's disk is almost full${when}: cash events are refused with storage_unavailable until there is room`);
    else log.info(fields, 'the store\'s disk has room again: cash events are accepted');
  };
  store.space.onChange = diskChanged;
  if (store.space.low) diskChanged(true, store.space.free, ' at start-up');
}

/** Seals the store (index-seal.ts); a seal that cannot be written (a full disk) costs the next start a check, not this stop. */
async function sealAtStop(store: Store, now: number, log: Logger): Promise<void> {
  try {
    if (!await sealStore(store, now)) log.warn('the store was written after its seal while this server stopped: its indexes are checked at the next start');
  } catch (error) {
    log.warn({ err: error }, 'the store could not be sealed at this stop: its indexes are checked at the next start');
  }
}

/** `host:port` for a URL: an IPv6 address in brackets. */
function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** What upgrading an older store did: whether it checked the indexes (and how long that took), and one line per index it built. */
function logStoreUpgrade(upgrade: ReturnType<typeof upgradeStore>, ms: number, log: Logger): void {
  if (upgrade.verified) {
    log.info({ ms }, 'checked the store\'s indexes entry by entry: no seal of a clean stop by this version (a first start, a crash, or an older version or an offline command wrote since)');
  }
  if (upgrade.nonces > 0) log.info({ nonces: upgrade.nonces }, 'moved the live nonces of an older store into the nonce ring');
  if (upgrade.foldedSerials > 0) log.info({ terminals: upgrade.foldedSerials }, 'indexed the serials of an older store by case');
  if (upgrade.searchEntries > 0) log.info({ terminals: upgrade.searchEntries }, 'indexed the terminals of an older store for search');
  if (upgrade.timeline > 0) log.info({ requests: upgrade.timeline }, 'indexed the pairing requests of an older store by time');
  if (upgrade.cashEventTimes > 0) log.info({ events: upgrade.cashEventTimes }, 'indexed the cash events of an older store by time');
  if (upgrade.cashEventsBySerial > 0) log.info({ events: upgrade.cashEventsBySerial }, 'indexed the cash events of an older store by terminal');
  if (upgrade.auditTimes > 0) log.info({ entries: upgrade.auditTimes }, 'indexed the audit entries of an older store by time');
}

/**
 * The first start on a copy `pairing-server backup` made (backup-marker.ts): sessions logged out of after the copy are
 * in it, live, so none is kept; the restore is audited and logged with what it undid; then the note goes.
 */
async function startOnRestoredCopy(store: Store, config: Config, log: Logger, restoredFrom: BackupMarker, startedAt: number): Promise<void> {
  const sessionsEnded = await store.atomically(() => {
    const count = entryCount(store.sessions);
    store.sessions.clearSync();
    return count;
  });
  await store.appendAudit({ at: Date.now(), user: cliUser(), action: 'server.restored', target: null, detail: { takenAt: restoredFrom.takenAt, from: restoredFrom.from, sessionsEnded, result: 'ok' } });
  dropBackupMarker(config.dataDir);
  log.warn({ takenAt: restoredFrom.takenAt, from: restoredFrom.from, sessionsEnded, refusedUntil: new Date((Math.floor(startedAt / 1000) + config.clockSkewSec) * 1000).toISOString() },
    'started on a restored backup: terminal requests signed before this start are refused until refusedUntil (their nonces are not in the copy; '
    + 'one signed ahead by a fast terminal clock is refused only if the old server stopped at least --clock-skew before this start), operators log in '
    + 'again, and what changed after takenAt is undone: unpair again the terminals unpaired since, and redo users disable, passwd and reset-2fa '
    + 'made since (docs/ADMIN-OPS.md, "Backing up the server")');
}
