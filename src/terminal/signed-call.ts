/** @module One signed terminal request (RFC 9421 per PROTOCOL.md) over the pinned client, and the mapping of server error answers to AppError. */
import { AppError, isErrorCode } from '../errors.js';
import { signRequest } from '../crypto/signature.js';
import type { SignatureAlgorithm } from '../protocol/types.js';
import { jsonObject, parseServerUrl, pinnedHttps, type PinnedReply } from './pinned-https.js';

/** What signing needs; the private key stays in this process. */
export interface TerminalIdentity {
  serial: string;
  tfp: string;
  alg: SignatureAlgorithm;
  privateKeyPem: string;
  certDer: Buffer;
}

export interface SignedCallOptions {
  /** Origin of the service, e.g. `https://host:7743`. */
  baseUrl: string;
  method: 'GET' | 'POST';
  path: string;
  /** Query parameters; signed as `@query`. */
  query?: Record<string, string>;
  /** Sent as JSON; signed through Content-Digest. */
  body?: unknown;
  pin: string | null;
  /** The next SFP the pinned server announced, accepted in its place (pinned-https.ts). */
  nextPin?: string | null;
  /** Gate calls carry the certificate (the gate does not know it yet). */
  withCertificate: boolean;
  timeoutMs?: number;
}

export async function signedCall(identity: TerminalIdentity, opts: SignedCallOptions): Promise<PinnedReply> {
  const url = parseServerUrl(opts.baseUrl);
  const query = new URLSearchParams(opts.query ?? {}).toString();
  const body = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body), 'utf8');
  const headers = signRequest({
    method: opts.method,
    path: opts.path,
    query,
    body,
    serial: identity.serial,
    privateKeyPem: identity.privateKeyPem,
    alg: identity.alg,
    keyid: identity.tfp,
    extraHeaders: opts.withCertificate ? { 'X-Terminal-Certificate': identity.certDer.toString('base64') } : {},
  });
  return pinnedHttps({
    url: `${url.origin}${opts.path}${query === '' ? '' : `?${query}`}`,
    method: opts.method,
    headers,
    body,
    pin: opts.pin,
    nextPin: opts.nextPin,
    timeoutMs: opts.timeoutMs,
  });
}

/** The server's `{error, message}` as an AppError; codes we do not know become `bad_request`, keeping the server's words. */
export function replyError(reply: PinnedReply): AppError {
  const body = jsonObject(reply) ?? {};
  const serverCode = typeof body.error === 'string' ? body.error : null;
  const message = typeof body.message === 'string' ? body.message : `the server answered HTTP ${reply.status}`;
  const code = isErrorCode(serverCode) ? serverCode : 'bad_request';
  const prefix = serverCode !== null && serverCode !== code ? `${serverCode}: ` : '';
  return new AppError(code, `${prefix}${message}`, { httpStatus: reply.status });
}

export const isSuccess = (reply: PinnedReply): boolean => reply.status >= 200 && reply.status < 300;
