/** @module uWebSockets.js plumbing shared by the services: copying a request out, bounded body reads, JSON and error answers. */
import { STATUS_CODES } from 'node:http';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { AppError, isErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { declaresBody } from '../protocol/framing.js';
import { NEXT_SFP_HEADER } from '../protocol/next-sfp.js';
import type { ErrorBody, HttpReply, TerminalRequest } from '../protocol/types.js';
import type { ArrivingBodies } from './arriving-bodies.js';

/** The longest header value kept: a longer one is cut, so a signature covering it fails rather than the copy growing. */
const MAX_HEADER_VALUE = 16 * 1024;

export interface RequestHead {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  remoteAddress: string;
  /** Content-Length or Transfer-Encoding sent twice: the body's length is ambiguous (see copyHead). */
  ambiguousLength: boolean;
}

/** Decodes the peer address uWS gives as bytes; unlike Buffer.from(…).toString() it makes no Buffer per request. */
const ADDRESS_TEXT = new TextDecoder();

/** MUST run synchronously in the handler: `req` is invalid after the handler returns or awaits. */
export function copyHead(res: HttpResponse, req: HttpRequest): RequestHead {
  const headers: Record<string, string> = {};
  let ambiguousLength = false;
  req.forEach((name, value) => {
    // uWS frames the body by the first Content-Length and would read the rest as a next request: RFC 9112 §6.3 asks
    // for a 400 and a closed connection, or a proxy in front that took the other one is smuggled a request past it.
    if ((name === 'content-length' || name === 'transfer-encoding') && headers[name] !== undefined) ambiguousLength = true;
    headers[name] = value.length > MAX_HEADER_VALUE ? value.slice(0, MAX_HEADER_VALUE) : value;
  });
  return {
    method: req.getCaseSensitiveMethod().toUpperCase(),
    path: req.getUrl(),
    query: req.getQuery() ?? '',
    headers,
    remoteAddress: ADDRESS_TEXT.decode(res.getRemoteAddressAsText()),
    ambiguousLength,
  };
}

/** Tracks whether the response may still be written: a second answer, or one after the client went away, would crash uWS. */
export interface Exchange {
  res: HttpResponse;
  /** Answered, or the client went away. */
  done: boolean;
  /** Told when the client goes away: a body read waiting for bytes that will never come MUST end then. */
  onAbort: (() => void) | null;
}

/** MUST be called before going async: uWS requires onAborted to be registered first. */
export function beginExchange(res: HttpResponse): Exchange {
  const exchange: Exchange = { res, done: false, onAbort: null };
  res.onAborted(() => {
    exchange.done = true;
    exchange.onAbort?.();
  });
  return exchange;
}

/** The body of every request without one: it has no bytes, so sharing it cannot leak or mix anything. */
export const NO_BODY = Buffer.alloc(0);

/**
 * Whether the request has a body to read (protocol/framing.ts). Most terminal calls have none: they need not wait for
 * uWS's empty last chunk, a round through it and a few objects a call.
 */
export function hasBody(head: RequestHead): boolean {
  return declaresBody(head.headers);
}

/** Throws payload_too_large when Content-Length is over `limit`: the caller answers 413 and closes, the body unread. */
export function checkDeclaredLength(head: RequestHead, limit: number): void {
  const declared = head.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw new AppError('payload_too_large', `the body is larger than ${limit} bytes`);
}

/**
 * Reads the body of a request that has one (`hasBody`, its declared length checked) up to `limit` bytes. An overflow
 * rejects with payload_too_large; the caller answers 413 and the connection is closed so the rest of the upload is not
 * read. A body still arriving past its deadline, or dropped for a newer one while `holder` (who sends it) sends the
 * most (arriving-bodies.ts), rejects with request_timeout, answered the same way. A client that goes away first
 * (closed, or idle past uWS's timeout) rejects it too: uWS calls onData no more, and a read left waiting would hold
 * the request's place in admission for good.
 */
export function readBody(exchange: Exchange, limit: number, arriving: ArrivingBodies, holder: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (error: AppError): void => {
      if (done) return;
      done = true;
      stopClock();
      reject(error);
    };
    const stopClock = arriving.start(holder, (why) =>
      fail(new AppError('request_timeout', why === 'late' ? 'the body did not arrive in time' : 'the body was arriving too slowly while the server was busy')),
    );
    exchange.onAbort = () => fail(new AppError('bad_request', 'the client went away before its body arrived'));
    exchange.res.onData((chunk, isLast) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > limit) {
        fail(new AppError('payload_too_large', `the body is larger than ${limit} bytes`));
        return;
      }
      // MUST copy: the chunk's ArrayBuffer is reused once this callback returns. allocUnsafe takes small
      // copies from Node's shared pool: a fresh ArrayBuffer per request is one more object for every scavenge.
      const copy = Buffer.allocUnsafe(chunk.byteLength);
      copy.set(new Uint8Array(chunk));
      chunks.push(copy);
      if (isLast) {
        done = true;
        stopClock();
        resolve(chunks.length === 1 ? copy : Buffer.concat(chunks, size));
      }
    });
  });
}

export function toTerminalRequest(head: RequestHead, body: Buffer): TerminalRequest {
  // Field by field, not `{ ...head, body }`: see withBody in protocol/types.ts.
  return { method: head.method, path: head.path, query: head.query, headers: head.headers, body, remoteAddress: head.remoteAddress };
}

/** Status lines by code, made once each: the services answer a handful of codes, millions of times. */
const STATUS_LINES = new Map<number, string>();

function statusLine(status: number): string {
  let line = STATUS_LINES.get(status);
  if (line === undefined) {
    line = `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
    STATUS_LINES.set(status, line);
  }
  return line;
}

/**
 * Writes a JSON answer; a no-op when the client already went away. Closes the connection when asked (e.g. after 413).
 * `nextSfp`: the SFP gate and master announce, made once at start; null when none is prepared.
 */
export function send(exchange: Exchange, reply: HttpReply, close = false, nextSfp: string | null = null): void {
  if (exchange.done) return;
  const body = JSON.stringify(reply.body);
  // MUST cork a late (asynchronous) answer so uWS sends it in one syscall and in the right order.
  exchange.res.cork(() => {
    exchange.res.writeStatus(statusLine(reply.status));
    exchange.res.writeHeader('content-type', 'application/json');
    exchange.res.writeHeader('cache-control', 'no-store');
    if (reply.headers) for (const [name, value] of Object.entries(reply.headers)) exchange.res.writeHeader(name, value);
    if (nextSfp !== null) exchange.res.writeHeader(NEXT_SFP_HEADER, nextSfp);
    exchange.res.end(body, close);
  });
  exchange.done = true;
}

/** The one way an error leaves a service: a domain error as its code, anything else as a logged 500. */
export function errorReply(error: unknown, log: Logger, context: Record<string, unknown>): HttpReply & { body: ErrorBody } {
  if (error instanceof AppError && isErrorCode(error.code)) {
    const headers: Record<string, string> = {};
    if (typeof error.details?.retryAfter === 'number') headers['retry-after'] = String(error.details.retryAfter);
    return { status: error.status, body: { error: error.code, message: error.message }, headers };
  }
  log.error({ err: error, ...context }, 'unexpected error while serving a request');
  return { status: 500, body: { error: 'internal_error', message: 'the server failed to process the request' } };
}

export function notFound(res: HttpResponse, req: HttpRequest, nextSfp: string | null = null): void {
  const exchange = beginExchange(res);
  send(exchange, { status: 404, body: { error: 'not_found', message: `no route ${req.getCaseSensitiveMethod().toUpperCase()} ${req.getUrl()}` } }, false, nextSfp);
}
