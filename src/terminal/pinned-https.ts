/** @module The terminal's HTTPS client: checks the server certificate fingerprint against the pin before a single request byte is sent. */
import { request as httpRequest } from 'node:http';
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { AppError, errnoOf } from '../errors.js';
import { fingerprint, formatFingerprint } from '../crypto/fingerprint.js';
import { NEXT_SFP_HEADER, parseNextSfp, type NextSfpAnnouncement } from '../protocol/next-sfp.js';

export interface PinnedRequest {
  /** Full https:// URL including path and query. */
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** The pinned SFP (lowercase hex), or null on the very first gate contact. */
  pin: string | null;
  /** The SFP the pinned server announced as its next certificate: accepted in place of `pin` (PROTOCOL.md, "Certificate rollover"). */
  nextPin?: string | null;
  /** Whole exchange, connect to last byte; default 10 s. */
  timeoutMs?: number;
}

export interface PinnedReply {
  status: number;
  /** The parsed JSON body, or null when the body is empty or not JSON. */
  json: unknown;
  /** The SFP of the certificate this connection actually presented. */
  sfp: string;
  /** The answer's `Pairing-Next-SFP`. Read only from a connection that passed the pin check (or had no pin to check). */
  nextSfp: NextSfpAnnouncement;
}

/** The reply's JSON body when it is an object (what every server answer is), else null. */
export function jsonObject(reply: PinnedReply): Record<string, unknown> | null {
  return typeof reply.json === 'object' && reply.json !== null ? (reply.json as Record<string, unknown>) : null;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_REPLY_BYTES = 1024 * 1024;

/** Parses and checks a server URL; terminals talk HTTPS only. */
export function parseServerUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppError('invalid_field', `not a URL: ${JSON.stringify(url)} (expected e.g. https://server.example:7741)`);
  }
  if (parsed.protocol !== 'https:') throw new AppError('invalid_field', `server URLs must start with https:// (got ${parsed.protocol}//)`);
  if (parsed.username !== '' || parsed.password !== '') throw new AppError('invalid_field', 'server URLs must not carry credentials');
  return parsed;
}

function unreachable(url: URL, err: unknown): AppError {
  const reason = errnoOf(err) ?? (err as Error).message ?? String(err);
  return new AppError('server_unreachable', `cannot reach ${url.host}: ${reason}`, undefined, { cause: err });
}

function pinMismatch(url: URL, expected: string, seen: string): AppError {
  // Fingerprints are public; showing both lets the installer compare them with the server's own printout.
  return new AppError(
    'server_pin_mismatch',
    `${url.host} presented a certificate with SFP ${formatFingerprint(seen)}, but this terminal is pinned to ` +
      `${formatFingerprint(expected)}; nothing was sent. Only if the server really changed its certificate: get its new SFP ` +
      "from the server's operator (`pairing-server fingerprint`) over a channel you trust and run " +
      '`terminal pair --expect-sfp SFP` (the pin is replaced once the gate answers).',
    { expected, seen },
  );
}

/** One request over one fresh TLS connection, pinned. Never follows redirects. */
export function pinnedHttps(req: PinnedRequest): Promise<PinnedReply> {
  const url = parseServerUrl(req.url);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? 443 : Number(url.port);
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  return new Promise<PinnedReply>((resolve, reject) => {
    let settled = false;
    let socket: TLSSocket | undefined;
    const finish = (err: AppError | null, reply?: PinnedReply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err !== null) {
        socket?.destroy();
        reject(err);
      } else {
        resolve(reply!);
      }
    };
    const timer = setTimeout(
      () => finish(new AppError('server_unreachable', `no answer from ${url.host} within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );

    socket = connect({
      host,
      port,
      // SNI takes host names only; Node warns when given an IP address.
      servername: isIP(host) === 0 ? host : undefined,
      // The pin, not a CA chain, is the trust (the seed's "pinned" server certificate); checked on secureConnect.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNProtocols: ['http/1.1'],
    });
    const tls = socket;
    tls.on('error', (err) => finish(unreachable(url, err)));
    tls.once('secureConnect', () => {
      const raw = tls.getPeerCertificate(true)?.raw;
      if (!raw || raw.length === 0) return finish(new AppError('server_unreachable', `${url.host} presented no certificate`));
      const sfp = fingerprint(raw);
      // MUST compare before the request is created: on a mismatch the socket is destroyed with no application byte written,
      // and no answer (nor the announcement in it) is read.
      if (req.pin !== null && sfp !== req.pin && sfp !== (req.nextPin ?? null)) return finish(pinMismatch(url, req.pin, sfp));

      const body = req.body ?? new Uint8Array(0);
      const headers: Record<string, string | number> = { host: url.host, connection: 'close', accept: 'application/json' };
      if (body.length > 0 || req.method === 'POST') {
        headers['content-type'] = 'application/json';
        headers['content-length'] = body.length;
      }
      Object.assign(headers, req.headers ?? {});
      const outgoing = httpRequest({
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers,
        createConnection: () => tls,
      });
      outgoing.on('error', (err) => finish(unreachable(url, err)));
      outgoing.once('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_REPLY_BYTES) return finish(new AppError('bad_request', `${url.host} sent an answer larger than 1 MiB`));
          chunks.push(chunk);
        });
        res.on('error', (err) => finish(unreachable(url, err)));
        res.once('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = null;
          try {
            json = text.length > 0 ? JSON.parse(text) : null;
          } catch {
            json = null;
          }
          finish(null, { status: res.statusCode ?? 0, json, sfp, nextSfp: parseNextSfp(res.headers[NEXT_SFP_HEADER]) });
        });
      });
      outgoing.end(body);
    });
  });
}
