/** @module The admin service: the operators' WebSocket channel at /admin (with topic pushes) and the web page's static files. */
import uWS from 'uWebSockets.js';
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { auditThrottled, dispatch, errorFrame } from '../admin/dispatch.js';
import { THROTTLE_WINDOW_MS } from '../admin/throttled-attempts.js';
import { AdminAdmission, CLOSE_CODES, type AdminConnectionLimits } from './admin-admission.js';
import type { OpsContext } from '../admin/op-spec.js';
import { AppError, type ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { tlsAppOptions, type TlsFiles } from './tls-options.js';
import type { AdminTopic } from '../protocol/types.js';
import { serveHealth } from './health.js';
import { serveStatic } from './static-files.js';
import type { CashCounts } from './cash-tally.js';
import { AdminConnection, AdminHub, type SocketData } from './admin-hub.js';

export interface AdminService {
  app: TemplatedApp;
  publish(topic: AdminTopic, event: string, data: Record<string, unknown>): void;
  /** The cash events a front thread recorded since its last tally: told to the `cash` topic's sessions, coalesced. */
  cashRecorded(counts: CashCounts): void;
  broadcast(event: string, data: Record<string, unknown>): void;
  /** Tells every connection whose session ended meanwhile (`session.ended`) now, as the 15 s sweep would. */
  endDeadSessions(): void;
  /**
   * Stops taking ops, closes every connection (their queued ops are dropped) and waits up to `graceMs` for the ops
   * already running. MUST be awaited before the store closes: an op running then fails on the closed store, loses its
   * audit entry, and lmdb prints to stdout.
   */
  close(graceMs: number): Promise<void>;
}

export function createAdminService(opts: {
  tls: TlsFiles;
  maxMessageBytes: number;
  limits: AdminConnectionLimits;
  log: Logger;
  ops: () => OpsContext;
  webRoot: string;
}): AdminService {
  const admission = new AdminAdmission(opts.limits, opts.log);
  const hub = new AdminHub((hash) => opts.ops().sessions.isLive(hash), (conn) => admission.sessionChanged(conn));
  /** Ops started and not settled, across connections: shutdown waits for them. */
  const running = new Set<Promise<void>>();
  let stopping = false;
  const throttleSummary = setInterval(() => {
    auditThrottled(opts.ops(), THROTTLE_WINDOW_MS / 1000).catch((err: unknown) => opts.log.error({ err }, 'writing the throttled attempts summary failed'));
  }, THROTTLE_WINDOW_MS);
  throttleSummary.unref();

  const app = uWS.SSLApp(tlsAppOptions(opts.tls));
  app.ws<SocketData>('/admin', {
    maxPayloadLength: opts.maxMessageBytes,
    maxBackpressure: 4 * 1024 * 1024,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      const remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString();
      const refused = stopping ? '503 Service Unavailable' : admission.refuse(remoteAddress);
      if (refused !== null) {
        const [code, message] = refused.startsWith('429') ? ['rate_limited', 'too many connections from this address'] as const : ['overloaded', 'the server is shutting down'] as const;
        refuseUpgrade(res, refused, code, message, { 'Retry-After': '60' });
        return;
      }
      // A web page of another site (cross-site WebSocket hijacking): only this server's own page, or no browser at all.
      const foreign = admission.refuseOrigin(remoteAddress, req.getHeader('origin'), req.getHeader('host'));
      if (foreign !== null) {
        refuseUpgrade(res, foreign, 'forbidden', 'the admin channel is open to this server\'s own page only');
        return;
      }
      // MUST read every header before upgrade returns: `req` is dead afterwards.
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      res.upgrade<SocketData>({ conn: new AdminConnection(remoteAddress, hub, Date.now()) }, key, protocol, extensions, context);
    },
    open: (ws) => {
      const { conn } = ws.getUserData();
      conn.attach(ws);
      hub.opened(conn);
      admission.opened(conn);
      // Debug, as the close line: anyone who reaches the port can open connections, and what operators do is in 'operator action' lines.
      opts.log.debug({ remoteAddress: conn.remoteAddress }, 'admin connection opened');
    },
    message: (ws, message, isBinary) => {
      const { conn } = ws.getUserData();
      if (stopping) return;
      if (isBinary) {
        conn.send(JSON.stringify(errorFrame(0, new AppError('bad_request', 'send JSON text frames'))));
        return;
      }
      // Bounded before the copy: a connection that sends faster than its ops run is closed, not queued without end.
      const size = message.byteLength;
      if (!admission.mayQueue(conn, size)) return;
      // MUST copy: the message ArrayBuffer is valid only until this handler returns.
      const raw = Buffer.from(message).toString('utf8');
      conn.queued++;
      conn.queuedBytes += size;
      // One connection's requests run in order: a pipelined `subscribe` after `login` sees the session.
      void conn.mailbox.post(() => {
        conn.queued--;
        conn.queuedBytes -= size;
        // Queued before the client went away: nobody is left to answer, and a login would still cost a hash and an audit entry.
        if (conn.closed) return;
        const op = (async () => {
          const token = conn.session?.tokenHash;
          const reply = await dispatch(opts.ops(), conn, raw);
          conn.send(JSON.stringify(reply));
          // A logout ends the token on every connection that holds it, at once rather than at the next sweep.
          if (token !== undefined && conn.session === null) hub.endDeadSessions();
          admission.sessionChanged(conn);
        })();
        running.add(op);
        return op.finally(() => running.delete(op));
      });
    },
    close: (ws, code) => {
      const { conn } = ws.getUserData();
      conn.closed = true;
      hub.closed(conn);
      admission.closed(conn);
      opts.log.debug({ remoteAddress: conn.remoteAddress, user: conn.session?.user ?? null, code, openSec: Math.round((Date.now() - conn.openedAt) / 1000), opsDropped: conn.queued }, 'admin connection closed');
    },
  });
  serveHealth(app, () => opts.ops().server.status(), opts.log);
  serveStatic(app, opts.webRoot, opts.log);
  return {
    app,
    publish: (topic, event, data) => hub.publish(topic, event, data),
    cashRecorded: (counts) => hub.cashRecorded(counts),
    broadcast: (event, data) => hub.broadcast(event, data),
    endDeadSessions: () => hub.endDeadSessions(),
    async close(graceMs) {
      stopping = true;
      clearInterval(throttleSummary);
      hub.close();
      admission.close();
      for (const conn of hub.all()) conn.end(CLOSE_CODES.shuttingDown, 'the server is shutting down');
      let timer: NodeJS.Timeout | undefined;
      const late = await Promise.race([
        Promise.allSettled([...running]).then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
      ]);
      clearTimeout(timer);
      if (late) opts.log.warn({ ops: running.size }, 'admin ops still running at shutdown: abandoned');
      // Last, so the summary counts every refusal of the last window.
      await auditThrottled(opts.ops(), THROTTLE_WINDOW_MS / 1000).catch((err: unknown) => opts.log.error({ err }, 'writing the throttled attempts summary failed'));
    },
  };
}

/** An upgrade refused before it became a WebSocket, answered as every error is (PROTOCOL.md, Errors): JSON with a code. */
function refuseUpgrade(res: HttpResponse, status: string, code: ErrorCode, message: string, headers: Record<string, string> = {}): void {
  res.writeStatus(status).writeHeader('content-type', 'application/json').writeHeader('cache-control', 'no-store');
  for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
  res.end(JSON.stringify({ error: code, message }));
}
