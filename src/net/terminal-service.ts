/** @module The HTTPS front of a terminal-facing service (gate or master): routes, body limit, one error path. */
import uWS from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../logger.js';
import { tlsAppOptions } from './tls-options.js';
import type { HttpReply, ServiceCounts, TerminalRequest } from '../protocol/types.js';
import type { Admission } from './admission.js';
import { tally } from './front-stats.js';
import { beginExchange, copyHead, errorReply, notFound, readBody, send, toTerminalRequest, type Exchange, type RequestHead } from './http.js';

export interface TerminalServiceOptions {
  name: 'gate' | 'master';
  routes: readonly { method: 'get' | 'post'; path: string }[];
  maxBodyBytes: number;
  tls: { keyFile: string; certFile: string };
  log: Logger;
  admission: Admission;
  /** Every answer the service gives is counted here by its status class. */
  counts: ServiceCounts;
  handle(request: TerminalRequest): Promise<HttpReply>;
}

export function createTerminalService(opts: TerminalServiceOptions): TemplatedApp {
  const app = uWS.SSLApp(tlsAppOptions(opts.tls));
  /** Every answer of the service goes out here, counted by its status class. */
  const answer = (exchange: Exchange, reply: HttpReply, close = false): void => {
    tally(opts.counts, reply.status);
    send(exchange, reply, close);
  };
  const serve = (res: HttpResponse, req: HttpRequest): void => {
    const exchange = beginExchange(res);
    const head = copyHead(res, req);
    // Everything below may be asynchronous: `req` MUST NOT be touched past this line.
    try {
      opts.admission.enter(head.remoteAddress);
    } catch (error) {
      // Refused before reading the body: close, so an unread upload is not parsed as the next request.
      answer(exchange, errorReply(error, opts.log, { service: opts.name }), true);
      return;
    }
    void respond(exchange, head);
  };
  /** The part of a request that may wait: read the body, handle it, answer, and always leave admission. */
  const respond = async (exchange: Exchange, head: RequestHead): Promise<void> => {
    let reply: HttpReply;
    let close = false;
    try {
      const body = await readBody(exchange, head, opts.maxBodyBytes);
      reply = await opts.handle(toTerminalRequest(head, body));
    } catch (error) {
      reply = errorReply(error, opts.log, { service: opts.name, path: head.path });
      if (reply.status >= 400 && reply.status !== 500) {
        opts.log.info({ service: opts.name, path: head.path, status: reply.status, error: (reply.body as { error: string }).error, serial: head.headers['x-terminal-serial'], remoteAddress: head.remoteAddress }, 'terminal request refused');
      }
      // After a 413 the rest of the upload is unread: close rather than parse it as the next request.
      close = reply.status === 413;
    }
    try {
      answer(exchange, reply, close);
    } finally {
      opts.admission.release();
    }
  };
  for (const route of opts.routes) app[route.method](route.path, serve);
  app.any('/*', notFound);
  return app;
}
