/** @module The HTTPS front of a terminal-facing service (gate or master): routes, body limit, one error path. */
import uWS from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { reasonOf } from '../errors.js';
import type { Logger } from '../logger.js';
import { tlsAppOptions } from './tls-options.js';
import type { HttpReply, ServiceCounts, TerminalRequest } from '../protocol/types.js';
import type { Admission } from './admission.js';
import type { RefusalLog } from './refusal-log.js';
import { tally } from './front-stats.js';
import { NO_BODY, beginExchange, copyHead, errorReply, hasBody, notFound, readBody, send, toTerminalRequest, type Exchange, type RequestHead } from './http.js';

export interface TerminalServiceOptions {
  name: 'gate' | 'master';
  routes: readonly { method: 'get' | 'post'; path: string }[];
  maxBodyBytes: number;
  tls: { keyFile: string; certFile: string };
  log: Logger;
  /** Where refused requests are logged, within a budget per kind (refusal-log.ts). */
  refusals: RefusalLog;
  admission: Admission;
  /** Every answer the service gives is counted here by its status class. */
  counts: ServiceCounts;
  /** May answer at once: a value, a promise, or a throw. */
  handle(request: TerminalRequest): HttpReply | Promise<HttpReply>;
}

export function createTerminalService(opts: TerminalServiceOptions): TemplatedApp {
  const app = uWS.SSLApp(tlsAppOptions(opts.tls));
  /** Every answer of the service goes out here, counted by its status class. */
  const answer = (exchange: Exchange, reply: HttpReply, close = false): void => {
    tally(opts.counts, reply.status);
    send(exchange, reply, close);
  };
  /** The end of every admitted request: its answer, then its place in admission given back. */
  const finish = (exchange: Exchange, reply: HttpReply, close = false): void => {
    try {
      answer(exchange, reply, close);
    } finally {
      opts.admission.release();
    }
  };
  /** Answers a handler's or a body's failure as its error, and logs it when it is a refusal rather than a fault. */
  const refuse = (exchange: Exchange, head: RequestHead, error: unknown): void => {
    // Nobody to answer (the client went away during its upload): only its place in admission is given back.
    if (exchange.done) {
      opts.admission.release();
      return;
    }
    const reply = errorReply(error, opts.log, { service: opts.name, path: head.path });
    if (reply.status >= 400 && reply.status !== 500) {
      opts.refusals.record({
        service: opts.name, path: head.path, status: reply.status, error: (reply.body as { error: string }).error,
        reason: reasonOf(error), serial: head.headers['x-terminal-serial'], remoteAddress: head.remoteAddress,
      });
    }
    // After a 413 the rest of the upload is unread: close rather than parse it as the next request. A closed gate
    // closes the connections it kept, as it refuses new ones.
    finish(exchange, reply, reply.status === 413 || (reply.body as { error?: string }).error === 'gate_closed');
  };
  const serve = (res: HttpResponse, req: HttpRequest): void => {
    const exchange = beginExchange(res);
    const head = copyHead(res, req);
    if (head.ambiguousLength) {
      // Closed at once, without an answer: uWS goes on parsing what it already read after an answer that closes, and
      // that is the smuggled request.
      tally(opts.counts, 400);
      res.close();
      return;
    }
    // Everything below may be asynchronous: `req` MUST NOT be touched past this line.
    try {
      opts.admission.enter(head.remoteAddress);
    } catch (error) {
      // Refused before reading the body: close, so an unread upload is not parsed as the next request.
      answer(exchange, errorReply(error, opts.log, { service: opts.name }), true);
      return;
    }
    let reply: HttpReply | Promise<HttpReply>;
    try {
      // Most terminal calls have no body, and their actor answers at once: such a call is answered in this turn,
      // with no promise made for it (each one is garbage a scavenge has to sweep).
      reply = hasBody(head)
        ? readBody(exchange, head, opts.maxBodyBytes).then((body) => opts.handle(toTerminalRequest(head, body)))
        : opts.handle(toTerminalRequest(head, NO_BODY));
    } catch (error) {
      refuse(exchange, head, error);
      return;
    }
    if (reply instanceof Promise) {
      reply.then((value) => finish(exchange, value), (error: unknown) => refuse(exchange, head, error));
    } else {
      finish(exchange, reply);
    }
  };
  for (const route of opts.routes) app[route.method](route.path, serve);
  app.any('/*', notFound);
  return app;
}
