/** @module Wires the server: config → store → identity → actors → services; `close` takes them down in reverse. */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { CertificateCache } from './auth/certificate-cache.js';
import type { ActorContext, EventSink } from './actors/context.js';
import { pruneNonces } from './actors/replay-window.js';
import { TerminalRouter } from './actors/terminal-router.js';
import { MASTER_ROUTES } from './actors/master-calls.js';
import type { OpsContext } from './admin/ops.js';
import { LoginThrottle } from './admin/login-throttle.js';
import { Sessions } from './admin/sessions.js';
import { Admission } from './net/admission.js';
import { createAdminService } from './net/admin.js';
import { GateWindow } from './net/gate-window.js';
import { listen, type Listening } from './net/listen.js';
import { createTerminalService } from './net/terminal-service.js';
import { ensureServerIdentity } from './server/identity.js';
import { packageRoot } from './server/package-root.js';
import { Store } from './store/store.js';

export interface RunningServer {
  sfp: string;
  generatedIdentity: boolean;
  urls: { gate: string; master: string; admin: string };
  ports: { gate: number; master: number; admin: number };
  gateOpen: boolean;
  close(): Promise<void>;
}

const NONCE_PRUNE_MS = 60_000;
const AUDIT_WATCH_MS = 1_000;

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const identity = ensureServerIdentity(config);
  const tls = { keyFile: identity.keyFile, certFile: identity.certFile };
  const store = Store.open(config.dataDir);
  const now = (): number => Date.now();
  const url = (port: number): string => `https://${config.publicHost.includes(':') ? `[${config.publicHost}]` : config.publicHost}:${port}`;

  // The admin service owns the pushes; actors publish through this late-bound sink.
  let publish: EventSink = () => undefined;
  const events: EventSink = (topic, event, data) => publish(topic, event, data);
  const listening: Listening[] = [];
  try {
    // With --master-port 0 the port is known only after listening; actors read the URL when they need it.
    let masterUrl = url(config.masterPort);
    const ctx: ActorContext = {
      store, certs: new CertificateCache(store), events, log: log.child({ component: 'actor' }), sfp: identity.sfp,
      get masterUrl() { return masterUrl; },
      clockSkewSec: config.clockSkewSec, pairingTtlMs: config.pairingTtlSec * 1000, maxCodeAttempts: config.maxCodeAttempts, now,
    };
    const router = new TerminalRouter(ctx, config.actorIdleMs);

    const masterApp = createTerminalService({
      name: 'master', routes: MASTER_ROUTES.map((r) => ({ method: r.startsWith('GET') ? 'get' as const : 'post' as const, path: r.split(' ')[1]! })),
      maxBodyBytes: config.masterMaxBodyBytes, tls, log: log.child({ service: 'master' }),
      admission: new Admission({
        perAddress: { perSecond: config.masterRatePerAddress, burst: config.masterRatePerAddress * 2 },
        global: { perSecond: Number.MAX_SAFE_INTEGER, burst: Number.MAX_SAFE_INTEGER },
        maxInFlight: config.maxInFlight,
      }),
      handle: (request) => router.master(request),
    });
    const master = await listen(masterApp, config.host, config.masterPort, 'master');
    listening.push(master);
    masterUrl = url(master.port);

    const gateApp = createTerminalService({
      name: 'gate', routes: [{ method: 'post', path: '/api/v1/pairing' }], maxBodyBytes: config.gateMaxBodyBytes, tls,
      // Unauthenticated traffic from the internet: small per-address and global budgets; a pairing terminal needs a few calls a minute.
      admission: new Admission({
        perAddress: { perSecond: config.gateRatePerAddress, burst: config.gateRatePerAddress * 4 },
        global: { perSecond: config.gateRateGlobal, burst: config.gateRateGlobal * 2 },
        maxInFlight: Math.min(config.maxInFlight, 512),
      }),
      log: log.child({ service: 'gate' }), handle: (request) => router.gate(request),
    });
    const gate = new GateWindow(gateApp, { host: config.host, port: config.gatePort, store, log: log.child({ service: 'gate' }), events, now });

    const opsContext: OpsContext = { store, sessions: new Sessions(store, config.sessionIdleSec * 1000, now), router, gate, logins: new LoginThrottle(now), events, log: log.child({ service: 'admin' }), now };
    const admin = createAdminService({
      tls, maxMessageBytes: config.adminMaxMessageBytes, log: log.child({ service: 'admin' }), ops: () => opsContext,
      webRoot: path.join(packageRoot(), 'src', 'admin', 'web'),
    });
    publish = admin.publish;
    const adminListening = await listen(admin.app, config.host, config.adminPort, 'admin');
    listening.push(adminListening);
    await gate.restore();

    // Operators are created offline (`users add` writes the store directly): watch the audit log so
    // logged-in operators learn of every new account at once — an unexpected one is an alarm.
    let lastAuditSeq = store.lastAuditSeq();
    const auditWatch = setInterval(() => {
      const head = store.lastAuditSeq();
      if (head === lastAuditSeq) return;
      for (const { value } of store.audit.getRange({ start: lastAuditSeq + 1 })) {
        if (value.action === 'users.add') admin.broadcast('operator.created', { user: value.target, by: value.user, at: new Date(value.at).toISOString(), result: value.detail?.result ?? 'ok' });
      }
      lastAuditSeq = head;
    }, AUDIT_WATCH_MS);
    auditWatch.unref();

    const pruner = setInterval(() => {
      pruneNonces(store, Math.floor(now() / 1000)).catch((err: unknown) => log.error({ err }, 'pruning nonces failed'));
    }, NONCE_PRUNE_MS);
    pruner.unref();

    let closed = false;
    return {
      sfp: identity.sfp,
      generatedIdentity: identity.generated,
      urls: { gate: url(gate.status().port), master: url(master.port), admin: url(adminListening.port) },
      ports: { gate: gate.status().port, master: master.port, admin: adminListening.port },
      gateOpen: gate.status().open,
      async close() {
        if (closed) return;
        closed = true;
        clearInterval(pruner);
        clearInterval(auditWatch);
        // Stop accepting first, then let queued actor work settle before the store closes.
        gate.stop();
        for (const l of listening) l.close();
        await router.close();
        await store.close();
      },
    };
  } catch (error) {
    for (const l of listening) l.close();
    await store.close();
    throw error;
  }
}
