/** @module Generators and senders for fuzzing a running server: hostile HTTPS requests, raw TLS bytes, and raw admin WebSocket frames. */
import https from 'node:https';
import tls from 'node:tls';
import fc from 'fast-check';
import WebSocket from 'ws';
import { signRequest } from '../../src/crypto/signature.js';
import { ERROR_CODES, isErrorCode } from '../../src/errors.js';
import { anyHeaderText, mutatedBytes, mutatedText, sfLikeText } from './mutate.js';
import type { RawTerminal } from './raw-terminal.js';

export interface FuzzRequest {
  service: 'gate' | 'master';
  kind: 'garbage' | 'mutated';
  method: string;
  /** Path and query as they go on the request line. */
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

/** What came back: an HTTP answer, or the connection closed without one. */
export type FuzzAnswer = { status: number; json: unknown; text: string } | { closed: string };

/** Methods the HTTP parser of uWebSockets.js accepts; others (and HEAD) close the connection without an answer. */
export const PARSER_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE'];
/** uWS closes a request with more headers than its table holds (about 45 with node's own); stay well under for "must answer". */
export const PARSER_MAX_HEADERS = 40;
/**
 * uWS holds at most 4 KiB of a request head between two reads, and drops a longer head that arrives in pieces without an
 * answer (test/integration/slow-link.test.ts). node sends a request head in one write, which starts a TLS record, and
 * the server reads a record only whole: a head within one record (16 KiB of plaintext) always arrives at once; a longer
 * one is answered only if its next record is in before the server reads. The fuzz expects an answer only within one.
 * A terminal's own heads are a few KB (its certificate header at most 12 KiB).
 */
export const PARSER_MAX_HEAD_BYTES = 16_384;
/** What node adds to a request head: `Host: 127.0.0.1:<port>`, `Connection: close`, `content-length`. Counted generously. */
const NODE_HEAD_BYTES = 128;
export const DOCUMENTED_STATUSES = [400, 401, 403, 404, 408, 409, 413, 429, 503];

/** Header values node will put on the wire: tab, printable ASCII and Latin-1 (bytes 0x80–0xff: invalid UTF-8 on the wire). */
const wireSafe = (text: string): string => text.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
const SPECIAL = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'expect', 'upgrade', 'te', 'trailer', 'keep-alive', 'proxy-connection']);
/**
 * uWebSockets.js parses header names of letters, digits and '-' only: any other RFC 9110 token character (`^`, `+`, `_`, …)
 * leaves the request unanswered until the idle timeout. Those are tried separately (UNPARSED_HEADER_NAMES), not here.
 */
const headerName = fc.stringMatching(/^[a-z0-9-]{1,24}$/).filter((n) => !SPECIAL.has(n));
const UNPARSED_HEADER_NAMES = ['x_underscore', 'x.dot', 'x+plus', 'x^caret', "x'quote", 'x|pipe', 'x~tilde', 'x!bang'];

/** Requests the uWS HTTP parser drops without an answer (at once, or at its idle timeout of about 10 s). */
export const PARSER_REFUSED: ReadonlyArray<{ name: string; method: string; headers: Record<string, string> }> = [
  ...UNPARSED_HEADER_NAMES.map((name) => ({ name: `header name "${name}"`, method: 'POST', headers: { [name]: 'v' } })),
  { name: '60 headers', method: 'POST', headers: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`x-many-${i}`, 'v'])) },
  { name: 'method HEAD', method: 'HEAD', headers: {} },
  { name: 'method PROPFIND', method: 'PROPFIND', headers: {} },
  { name: 'method X-FUZZ', method: 'X-FUZZ', headers: {} },
];
const headerValue = fc.oneof(
  { weight: 6, arbitrary: anyHeaderText.map(wireSafe) },
  { weight: 2, arbitrary: fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 8_000, max: 40_000 }).map((n) => 'h'.repeat(n)) },
);
const path = fc.oneof(
  fc.constantFrom('/api/v1/pairing', '/api/v1/ping', '/api/v1/cash-events', '/api/v1/deposit-address?coin=BTC', '/', '/admin', '/api/v1/../v1/ping', '/%2e%2e/%2e%2e/etc/passwd', '/api/v1/ping?', '/api/v1/ping%00', '/api//v1//ping', '/API/V1/PING'),
  fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
  fc.string({ unit: fc.integer({ min: 0x21, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 80 }).map((p) => `/${p}`),
  fc.integer({ min: 1_000, max: 9_000 }).map((n) => `/${'a/'.repeat(n / 2)}`),
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.uint8Array({ maxLength: 2_048 }).map((b) => Buffer.from(b)),
  fc.json().map((j) => Buffer.from(j)),
  fc.json().map((j) => Buffer.concat([Buffer.from(j.slice(0, Math.ceil(j.length / 2))), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(j.slice(Math.ceil(j.length / 2)))])),
  fc.integer({ min: 4_000, max: 20_000 }).map((n) => Buffer.alloc(n, 0x7b)),
);

/**
 * Requests made of nothing valid, within what the uWS parser reads: any of its methods, any path, headers (protocol ones
 * included) and body. What it does not read (PARSER_REFUSED) is tried apart: it waits for the idle timeout, which costs seconds.
 */
export function garbageRequest(terminal: RawTerminal): fc.Arbitrary<FuzzRequest> {
  const protocolHeaders = fc.record({
    'x-terminal-serial': fc.oneof(fc.constant(terminal.serial), headerValue),
    'signature-input': sfLikeText.map(wireSafe),
    signature: sfLikeText.map(wireSafe),
    'content-digest': sfLikeText.map(wireSafe),
    'x-terminal-certificate': fc.oneof(fc.constant(terminal.certDer.toString('base64')), headerValue),
  }, { requiredKeys: [] });
  const headers = fc.oneof(
    { weight: 9, arbitrary: fc.tuple(fc.dictionary(headerName, headerValue, { maxKeys: 8 }), protocolHeaders).map(([a, b]) => ({ ...a, ...b })) },
    { weight: 1, arbitrary: fc.integer({ min: 20, max: PARSER_MAX_HEADERS }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-many-${i}`, 'v']))) },
  );
  // Most go to a real route with its method, so that they reach body limits, parsing and authentication, not just the 404.
  const route = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(
      { service: 'gate' as const, method: 'POST', path: '/api/v1/pairing' },
      { service: 'master' as const, method: 'POST', path: '/api/v1/ping' },
      { service: 'master' as const, method: 'POST', path: '/api/v1/cash-events' },
      { service: 'master' as const, method: 'GET', path: '/api/v1/deposit-address?coin=BTC' },
    ) },
    { weight: 1, arbitrary: fc.record({ service: fc.constantFrom<'gate' | 'master'>('gate', 'master'), method: fc.constantFrom(...PARSER_METHODS), path }) },
  );
  return fc.record({ route, headers, body }).map(({ route: r, headers: h, body: b }) => ({ ...r, kind: 'garbage' as const, headers: h, body: b }));
}

/** The headers of a correctly signed request (fresh nonce), with the certificate for the gate. */
function signedHeaders(t: RawTerminal, method: string, path: string, query: string, body: Buffer | undefined, withCertificate: boolean): Record<string, string> {
  const headers = signRequest({ method, path, query, ...(body ? { body } : {}), serial: t.serial, privateKeyPem: t.privateKeyPem, alg: t.alg, keyid: t.tfp });
  return { ...headers, 'Content-Type': 'application/json', ...(withCertificate ? { 'X-Terminal-Certificate': t.certDer.toString('base64') } : {}) };
}

/** A validly signed request of the paired terminal with one part damaged: read-only calls only, so a neutral edit stores nothing. */
export function mutatedRequest(terminal: RawTerminal): fc.Arbitrary<FuzzRequest> {
  const base = fc.constantFrom(
    { service: 'master' as const, method: 'POST', path: '/api/v1/ping', query: '', body: Buffer.from('{}') },
    { service: 'master' as const, method: 'GET', path: '/api/v1/deposit-address', query: 'coin=BTC', body: undefined },
    { service: 'gate' as const, method: 'POST', path: '/api/v1/pairing', query: '', body: Buffer.from('{}') },
  );
  const part = fc.constantFrom('Signature-Input', 'Signature', 'Content-Digest', 'X-Terminal-Serial', 'X-Terminal-Certificate', 'body', 'path', 'method', 'drop');
  return fc.tuple(base, part, fc.nat(), fc.string({ maxLength: 6 })).chain(([b, which, n, extra]) => {
    const signed = signedHeaders(terminal, b.method, b.path, b.query, b.body, b.service === 'gate');
    const request = (headers: Record<string, string>, mutation: Partial<FuzzRequest>): FuzzRequest => ({
      service: b.service, kind: 'mutated', method: b.method, path: b.query ? `${b.path}?${b.query}` : b.path, headers, body: b.body, ...mutation,
    });
    switch (which) {
      case 'body':
        return mutatedBytes(b.body ?? Buffer.from('{}')).map((m) => request(signed, { body: m }));
      case 'path':
        return fc.constant(request(signed, { path: `${b.path}${extra.replace(/[^\x21-\x7e]/g, '') || '/'}` }));
      case 'method':
        return fc.constant(request(signed, { method: b.method === 'GET' ? 'POST' : 'GET' }));
      case 'drop': {
        const names = Object.keys(signed);
        const dropped = { ...signed };
        delete dropped[names[n % names.length]!];
        return fc.constant(request(dropped, {}));
      }
      default: {
        const value = signed[which] ?? '';
        return fc.oneof(mutatedText(value), anyHeaderText).map((m) => request({ ...signed, [which]: wireSafe(m) }, {}));
      }
    }
  });
}

/** Sends on a fresh TLS connection; the path goes on the request line exactly as given. */
export function sendFuzz(port: number, request: FuzzRequest, timeoutMs = 10_000): Promise<FuzzAnswer> {
  return new Promise((resolve) => {
    let req: ReturnType<typeof https.request>;
    try {
      // An explicit length: node sends the body of a GET or OPTIONS unframed otherwise, which is the client's malformation, not the server's.
      const headers = request.body ? { ...request.headers, 'content-length': String(request.body.length) } : request.headers;
      req = https.request({ host: '127.0.0.1', port, method: request.method, path: request.path, headers, rejectUnauthorized: false, agent: false, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e: NodeJS.ErrnoException) => resolve({ closed: e.code ?? e.message }));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = undefined;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json, text });
        });
      });
    } catch (error) {
      // node refused to send it (an invalid header name, say): nothing reached the server
      resolve({ closed: `not sent: ${(error as Error).message}` });
      return;
    }
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ closed: e.code ?? e.message }));
    req.end(request.body);
  });
}

/** Raw bytes over TLS; resolves with the status of an HTTP answer, or null when the server closed without one. */
export function sendRawTls(port: number, bytes: Buffer): Promise<number | null> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => socket.end(bytes));
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      resolve(status ? Number(status) : null);
    });
  });
}

/** True when the uWS HTTP parser may close the request without an answer (see PARSER_MAX_HEAD_BYTES). */
export function beyondParser(request: FuzzRequest): boolean {
  const requestLine = `${request.method} ${request.path} HTTP/1.1\r\n`.length;
  const headers = Object.entries(request.headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
  return requestLine + headers + NODE_HEAD_BYTES + 2 > PARSER_MAX_HEAD_BYTES;
}

/** Checks an error body: `{error, message}` with a code from the table whose status is the answer's. */
export function isDocumentedError(status: number, json: unknown): boolean {
  if (typeof json !== 'object' || json === null) return false;
  const { error, message } = json as Record<string, unknown>;
  return isErrorCode(error) && ERROR_CODES[error] === status && typeof message === 'string' && DOCUMENTED_STATUSES.includes(status);
}

/** One admin WebSocket, read one reply at a time; pushes are skipped. */
export class RawAdminSocket {
  private readonly replies: Array<string | { closed: number }> = [];
  private waiter: (() => void) | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const text = isBinary ? `binary:${data.toString('hex')}` : data.toString('utf8');
      if (text.startsWith('{"event"')) return;
      this.replies.push(text);
      this.waiter?.();
    });
    ws.on('close', (code: number) => {
      this.replies.push({ closed: code });
      this.waiter?.();
    });
    ws.on('error', () => undefined);
  }

  /** `localAddress`: a loopback source address (127.0.0.0/8), to be another client for the per-address limits. */
  static open(url: string, localAddress?: string): Promise<RawAdminSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { rejectUnauthorized: false, perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) });
      ws.once('open', () => resolve(new RawAdminSocket(ws)));
      ws.once('error', reject);
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends one frame and waits for the next reply (or the close); null on timeout. */
  async exchange(frame: string | Buffer, opts: { binary?: boolean } = {}, timeoutMs = 5_000): Promise<string | { closed: number } | null> {
    this.ws.send(frame, { binary: opts.binary ?? false });
    if (this.replies.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = null;
    }
    return this.replies.shift() ?? null;
  }

  close(): void {
    this.ws.terminate();
  }
}
