/**
 * @module `GET /healthz` on the admin port: whether this server serves terminals now, for a load balancer, a supervisor
 * or monitoring, without an operator session (a session needs a password, and its account could change things).
 * It says no more than that: how many front threads run, and whether the store's disk is low.
 */
import type { TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../logger.js';
import type { ServerStatus } from '../protocol/types.js';
import { beginExchange, send } from './http.js';

export interface Health {
  /** `degraded` (HTTP 503): a front thread is restarting or not responding, or the disk is below --min-free-disk. */
  status: 'ok' | 'degraded';
  threads: { running: number; total: number };
  diskLow: boolean;
}

export function healthOf(status: ServerStatus): Health {
  const running = status.threads.filter((t) => t.state === 'running').length;
  const diskLow = status.disk?.low === true;
  return { status: running === status.threads.length && !diskLow ? 'ok' : 'degraded', threads: { running, total: status.threads.length }, diskLow };
}

/** Anyone may ask, as often as they like: one answer serves every request for a second, so a flood asks the threads nothing more. */
const FRESH_MS = 1_000;

export function serveHealth(app: TemplatedApp, status: () => Promise<ServerStatus>, log: Logger): void {
  let cached: { at: number; health: Promise<Health> } | null = null;
  app.get('/healthz', (res) => {
    const exchange = beginExchange(res);
    const now = Date.now();
    if (cached === null || now - cached.at >= FRESH_MS) cached = { at: now, health: status().then(healthOf) };
    cached.health.then(
      (health) => send(exchange, { status: health.status === 'ok' ? 200 : 503, body: health }),
      (err: unknown) => {
        log.error({ err }, 'health check failed');
        send(exchange, { status: 503, body: { status: 'degraded', error: 'internal_error' } });
      },
    );
  });
}
