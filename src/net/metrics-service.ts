/**
 * @module The Prometheus scrape endpoint (`--metrics-port`): `GET /metrics` (and `HEAD`) on a plain HTTP listener of its own, on the
 * main thread beside the admin channel. A scrape reads what `server.status` reads (the front threads report on
 * request), never the store's records; one exposition serves every scrape for a second, as `/healthz` does.
 */
import uWS from 'uWebSockets.js';
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../logger.js';
import { beginExchange, type Exchange } from './http.js';
import { EXPOSITION_CONTENT_TYPE, exposition } from './prometheus-text.js';
import { serverMetrics, type MetricsSnapshot } from './server-metrics.js';

/** However often it is scraped (several agents, a dashboard's refresh), the threads are asked at most once a second. */
const FRESH_MS = 1_000;

const TEXT = 'text/plain; charset=utf-8';

export const METRICS_PATH = '/metrics';

/**
 * Plain HTTP, no session: what it shows is counts and states, and it listens on 127.0.0.1 unless told otherwise
 * (docs/DECISIONS.md, "Metrics"). Its refusals are one line of text, as a Prometheus exporter's are.
 */
export function createMetricsService(opts: { snapshot: () => Promise<MetricsSnapshot>; log: Logger }): TemplatedApp {
  let cached: { at: number; text: Promise<string> } | null = null;
  const app = uWS.App();
  /** GET, or HEAD: the same answer without its body (RFC 9110 9.3.2), as an agent's or a load balancer's check asks. */
  const scrape = (res: HttpResponse, head: boolean): void => {
    // MUST begin the exchange before going async: uWS needs onAborted registered first.
    const exchange = beginExchange(res);
    const now = Date.now();
    if (cached === null || now - cached.at >= FRESH_MS) cached = { at: now, text: opts.snapshot().then((snapshot) => exposition(serverMetrics(snapshot))) };
    cached.text.then(
      (text) => answer(exchange, '200 OK', EXPOSITION_CONTENT_TYPE, text, {}, head),
      (err: unknown) => {
        opts.log.error({ err }, 'reading the metrics failed');
        answer(exchange, '503 Service Unavailable', TEXT, 'the server status could not be read: see the server log\n', {}, head);
      },
    );
  };
  app.get(METRICS_PATH, (res) => scrape(res, false));
  app.head(METRICS_PATH, (res) => scrape(res, true));
  app.any(METRICS_PATH, (res, req) => {
    const method = req.getCaseSensitiveMethod().toUpperCase();
    answer(beginExchange(res), '405 Method Not Allowed', TEXT, `method ${method} not allowed: ${METRICS_PATH} answers GET (and HEAD) only\n`, { allow: 'GET, HEAD' });
  });
  app.any('/*', (res, req) => {
    // The path is the client's own text: echoing it in a text/plain answer (nosniff) can do no harm, but cut it short.
    const url = req.getUrl().slice(0, 200);
    answer(beginExchange(res), '404 Not Found', TEXT, `no route ${url}: this port serves GET ${METRICS_PATH} only\n`, {}, req.getMethod() === 'head');
  });
  return app;
}

/** `head`: the headers a GET gets, its length included, and no body. */
function answer(exchange: Exchange, status: string, type: string, body: string, headers: Record<string, string> = {}, head = false): void {
  if (exchange.done) return;
  const res: HttpResponse = exchange.res;
  // MUST cork a late (asynchronous) answer so uWS sends it in one syscall and in the right order.
  res.cork(() => {
    res.writeStatus(status);
    res.writeHeader('content-type', type);
    res.writeHeader('cache-control', 'no-store');
    res.writeHeader('x-content-type-options', 'nosniff');
    for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
    if (head) {
      // The length by hand: this uWS build's endWithoutBody(length) leaves the connection unusable for the next request.
      res.writeHeader('content-length', String(Buffer.byteLength(body)));
      res.endWithoutBody();
    } else {
      res.end(body);
    }
  });
  exchange.done = true;
}
