/** @module The HTTPS front of a terminal-facing service (gate or master): routes, body limit, one error path. */
import uWS from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { reasonOf } from '../errors.js';
import type { Logger } from '../logger.js';
import { tlsAppOptions, type TlsFiles } from './tls-options.js';
import type { HttpReply, ServiceCounts, TerminalRequest } from '../protocol/types.js';
import { rateKeyOf, type Admission } from './terminal-admission.js';
import type { RefusalLog } from './refusal-log.js';
import { tally } from './front-stats.js';
import { ArrivingBodies, type BodyLimits } from './arriving-bodies.js';
import { NO_BODY, beginExchange, checkDeclaredLength, copyHead, errorReply, hasBody, notFound, readBody, send, toTerminalRequest, type Exchange, type RequestHead } from './http.js';

export interface TerminalServiceOptions<Auth> {
  name: 'gate' | 'master';
  routes: readonly { method: 'get' | 'post'; path: string }[];
  maxBodyBytes: number;
  /** How long bodies may take to arrive, and how many may at once (408 request_timeout beyond): arriving-bodies.ts. */
  bodies: BodyLimits;
  /**
   * Who sends a body, for the caps on bodies arriving at once: whoever holds the most gives one back first, and none
   * may hold more than `bodies.maxPerHolder`. Default: the address's rate key (an IPv4 address or an IPv6 /64,
   * terminal-admission.ts), as for its rate limit. Master names the paired terminal: one key cannot displace another
   * terminal's upload by holding places.
   */
  bodyHolder?(auth: Auth, head: RequestHead): string;
  tls: TlsFiles;
  log: Logger;
  /** Where refused requests are logged, within a budget per kind (refusal-log.ts). */
  refusals: RefusalLog;
  admission: Admission;
  /** Every answer the service gives is counted here by its status class. */
  counts: ServiceCounts;
  /**
   * The next certificate's SFP, announced on every answer (a `Pairing-Next-SFP` header; PROTOCOL.md, "Certificate
   * rollover"); null when none is prepared. A string made once at start: the answer path only writes it.
   */
  nextSfp: string | null;
  /**
   * Authenticates a request from its head, before its body is read (`request.body` is empty then): a caller without a
   * key holds no place in admission while it uploads. Before, 4,300 connections from one address, each sending a body
   * of 4,000 bytes one byte at a time, held master's 4,096 places for uWS's 10 s idle timeout, and paired terminals
   * got 503 for as long as that went on.
   */
  authenticate(request: TerminalRequest): Auth;
  /**
   * Who may hold a place while a body arrives, checked once the head is authenticated and before the body is read.
   * Master: the pinned key only. Any key the server holds for a serial authenticates (one seen at the gate too, kept
   * for the 90 days of the pairing history), and one commit at an open gate made such a key for anyone: 2,800 of
   * master's places were held that way by slow uploads in a review.
   */
  admitBody?(auth: Auth): void;
  /** Once a body has been read: it MUST be the one the authenticated head signed (Content-Digest). */
  checkBody(request: TerminalRequest): void;
  /** May answer at once: a value, a promise, or a throw. */
  handle(request: TerminalRequest, auth: Auth): HttpReply | Promise<HttpReply>;
}

export function createTerminalService<Auth>(opts: TerminalServiceOptions<Auth>): TemplatedApp {
  const app = uWS.SSLApp(tlsAppOptions(opts.tls));
  const arriving = new ArrivingBodies(opts.bodies);
  /** Every answer of the service goes out here, counted by its status class. */
  const answer = (exchange: Exchange, reply: HttpReply, close = false): void => {
    tally(opts.counts, reply.status);
    send(exchange, reply, close, opts.nextSfp);
  };
  /** The end of every admitted request: its answer, then its place in admission given back. */
  const finish = (exchange: Exchange, reply: HttpReply, close = false): void => {
    try {
      answer(exchange, reply, close);
    } finally {
      opts.admission.release();
    }
  };
  /**
   * Answers a handler's or a body's failure as its error, and logs it when it is a refusal rather than a fault.
   * `unread`: the request's body was not read, and the connection is closed rather than the upload parsed as the next
   * request.
   */
  const refuse = (exchange: Exchange, head: RequestHead, error: unknown, unread = false): void => {
    // Nobody to answer (the client went away during its upload): only its place in admission is given back.
    if (exchange.done) {
      opts.admission.release();
      return;
    }
    const reply = errorReply(error, opts.log, { service: opts.name, path: head.path });
    if (reply.status >= 400 && reply.status !== 500) {
      opts.refusals.record({
        service: opts.name, path: head.path, status: reply.status, error: reply.body.error,
        reason: reasonOf(error), serial: head.headers['x-terminal-serial'], remoteAddress: head.remoteAddress,
      });
    }
    // After a 413 or a late body the rest of the upload is unread: close rather than parse it as the next request. A
    // closed gate closes the connections it kept, as it refuses new ones.
    finish(exchange, reply, unread || reply.status === 413 || reply.status === 408 || reply.body.error === 'gate_closed');
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
    const withBody = hasBody(head);
    let reply: HttpReply | Promise<HttpReply>;
    try {
      if (withBody) checkDeclaredLength(head, opts.maxBodyBytes);
      const request = toTerminalRequest(head, NO_BODY);
      const auth = opts.authenticate(request);
      if (withBody) opts.admitBody?.(auth);
      // Most terminal calls have no body, and their actor answers at once: such a call is answered in this turn,
      // with no promise made for it (each one is garbage a scavenge has to sweep).
      if (withBody) {
        const holder = opts.bodyHolder?.(auth, head) ?? rateKeyOf(head.remoteAddress);
        arriving.admit(holder);
        reply = readBody(exchange, opts.maxBodyBytes, arriving, holder).then((bytes) => {
          const full = toTerminalRequest(head, bytes);
          opts.checkBody(full);
          return opts.handle(full, auth);
        });
      } else {
        reply = opts.handle(request, auth);
      }
    } catch (error) {
      // Thrown before a body was read, if the request has one.
      refuse(exchange, head, error, withBody);
      return;
    }
    if (reply instanceof Promise) {
      reply.then((value) => finish(exchange, value), (error: unknown) => refuse(exchange, head, error));
    } else {
      finish(exchange, reply);
    }
  };
  for (const route of opts.routes) app[route.method](route.path, serve);
  // Announced here too: PROTOCOL.md promises the header on every answer of gate and master.
  app.any('/*', (res, req) => notFound(res, req, opts.nextSfp));
  return app;
}
