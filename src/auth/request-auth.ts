/** @module Authenticates a signed terminal request (RFC 9421 profile of PROTOCOL.md) up to, not including, the stateful checks (replay, pin). */
import { AppError, type ErrorCode } from '../errors.js';
import { algorithmsFor, parseCertificate } from '../crypto/certificates.js';
import { verifyContentDigest } from '../crypto/content-digest.js';
import { isFresh, parseSignature, signatureBase, verifySignature, type ParsedSignature, type RequestParts } from '../crypto/signature.js';
import type { VerifyingKey } from '../crypto/stored-key.js';
import { declaresBody } from '../protocol/framing.js';
import { SERIAL_PATTERN, decodeBase64 } from '../protocol/schemas.js';
import type { TerminalRequest } from '../protocol/types.js';
import { refusingPastWindow, type PastWindow } from '../store/skew-history.js';
import type { CertificateCache } from './certificate-cache.js';

/** A request whose signature verified: the stateful checks still to run need exactly these. Plain data: it crosses threads. */
export interface Authenticated {
  serial: string;
  tfp: string;
  nonce: string;
  created: number;
  /**
   * The second at which `created` was judged fresh. The replay check MUST use this reading, not its own clock: run
   * later (behind the terminal's earlier calls, or after a hop to another thread), it would find the nonce of a
   * replay judged fresh at the window's edge already expired, and admit it.
   */
  checkedAtSec: number;
  /**
   * DER of the certificate presented at the gate, whose key verified the signature: the pairing flow stores it. Empty
   * on master (NO_CERTIFICATE), whose key is one the server already holds and whose actor reads none.
   */
  certDer: Buffer;
}

/** Master's `certDer`: none (see Authenticated). */
export const NO_CERTIFICATE = Buffer.alloc(0);

/** `auth` with another copy of its certificate, built field by field (see `withBody` for why not a spread). */
export function withCertificate(auth: Authenticated, certDer: Buffer): Authenticated {
  return { serial: auth.serial, tfp: auth.tfp, nonce: auth.nonce, created: auth.created, checkedAtSec: auth.checkedAtSec, certDer };
}

export interface AuthOptions {
  nowSec: number;
  clockSkewSec: number;
  /** Earlier runs' narrower windows that still bind (store/skew-history.ts); none when the skew was not raised. */
  pastWindows?: readonly PastWindow[];
}

const MAX_CERT_HEADER = 12 * 1024;

function partsOf(req: TerminalRequest): RequestParts {
  return {
    method: req.method,
    path: req.path,
    query: req.query,
    // Own properties only: a covered name such as "constructor" is a property of every plain object, and read that
    // way it is no string but a function, where the signature base expects a header value or nothing.
    header: (name) => (Object.hasOwn(req.headers, name) ? req.headers[name] : undefined),
    // From the head when the body is not read yet (terminal-service.ts authenticates first): it must sign its digest.
    hasBody: req.body.length > 0 || declaresBody(req.headers),
  };
}

/** The gate's serial header, validated; the gate tells an installer what is wrong. */
function gateSerialOf(req: TerminalRequest): string {
  const serial = req.headers['x-terminal-serial'];
  if (serial === undefined || !SERIAL_PATTERN.test(serial)) {
    throw new AppError('bad_request', 'X-Terminal-Serial is missing or malformed');
  }
  return serial;
}

type Deny = (code: ErrorCode, message: string) => never;

/** The gate may tell an installer which part was wrong. */
const denyOpenly: Deny = (code, message) => {
  throw new AppError(code, message);
};

/** On master every failure is the same 401; which check failed goes only to the server's log (`reasonOf`). */
const denyAlike: Deny = (_code, message) => {
  throw new AppError('unauthenticated', 'the request could not be authenticated', undefined, { cause: message });
};

/** Signature-Input and Signature parsed and checked against the profile, before any key is looked at. */
function parsedSignature(req: TerminalRequest, parts: RequestParts, deny: Deny): ParsedSignature {
  const parsed = parseSignature(req.headers['signature-input'], req.headers['signature'], parts);
  return parsed.ok ? parsed.value : deny(parsed.code, parsed.message);
}

/**
 * The body of a request authenticated from its head alone, read after: it MUST be what the signed Content-Digest says
 * (of an empty body too, when the head declared one). Told as its service tells every authentication failure.
 */
export function checkBodyDigest(req: TerminalRequest, service: 'gate' | 'master'): void {
  const digest = verifyContentDigest(req.headers['content-digest'], req.body);
  if (!digest.ok) (service === 'gate' ? denyOpenly : denyAlike)(digest.code, digest.message);
}

/** Freshness, digest (when the body is there) and signature checks shared by gate and master, once the certificate is known. */
function verifyWith(
  req: TerminalRequest, parts: RequestParts, sig: ParsedSignature, cert: VerifyingKey, certDer: Buffer, serial: string, opts: AuthOptions, deny: Deny,
): Authenticated {
  if (sig.params.keyid !== cert.tfp) return deny('unauthenticated', 'keyid is not the fingerprint of the terminal certificate');
  if (!algorithmsFor(cert.keyKind).includes(sig.params.alg)) return deny('unauthenticated', `alg ${sig.params.alg} does not match the ${cert.keyKind} key`);
  if (!isFresh(sig.params, opts.nowSec, opts.clockSkewSec)) {
    return deny('unauthenticated', `the signature's created time is more than ${opts.clockSkewSec} s from the server clock (check the terminal clock)`);
  }
  const refusing = opts.pastWindows && refusingPastWindow(sig.params.created, opts.nowSec, opts.pastWindows);
  if (refusing) {
    return deny('unauthenticated', refusing.restored
      ? "the signature's created time is before this server started on a restored backup, which holds none of the old server's later nonces: sign again"
      : "the signature's created time is older than the clock skew of the run before the last restart, which still applies to requests that run may have seen");
  }
  if (req.body.length > 0) {
    const digest = verifyContentDigest(req.headers['content-digest'], req.body);
    if (!digest.ok) return deny(digest.code, digest.message);
  }
  const base = signatureBase(parts, sig);
  if (!base.ok) return deny(base.code, base.message);
  if (!verifySignature(cert.publicKey, sig.params.alg, base.value, sig.signature)) {
    return deny('unauthenticated', 'the signature does not verify with the terminal certificate');
  }
  return { serial, tfp: cert.tfp, nonce: sig.params.nonce, created: sig.params.created, checkedAtSec: opts.nowSec, certDer };
}

/** Gate: the terminal presents its certificate; CN must equal the serial. Errors are specific (installers need them). */
export function authenticateGate(req: TerminalRequest, opts: AuthOptions): Authenticated {
  const serial = gateSerialOf(req);
  const certHeader = req.headers['x-terminal-certificate'];
  if (certHeader === undefined || certHeader.length > MAX_CERT_HEADER) {
    throw new AppError('bad_certificate', 'X-Terminal-Certificate is missing or larger than 12 KiB');
  }
  const der = decodeBase64(certHeader);
  if (!der) throw new AppError('bad_certificate', 'X-Terminal-Certificate is not base64');
  const cert = parseCertificate(der);
  if (!cert.ok) throw new AppError(cert.code, cert.message);
  if (cert.value.commonName !== serial) {
    throw new AppError('bad_certificate', 'the certificate subject CN does not equal X-Terminal-Serial');
  }
  const parts = partsOf(req);
  return verifyWith(req, parts, parsedSignature(req, parts, denyOpenly), cert.value, cert.value.der, serial, opts, denyOpenly);
}

/**
 * Master: the key must be one the server already holds for this serial (pinned or seen while pairing);
 * whether it is the pinned one is the actor's check, in order with unpairing. The signature is parsed first: the
 * keyid that finds the key is the parsed one, with no second reading of the header to go wrong.
 */
export function authenticateMaster(req: TerminalRequest, certs: CertificateCache, opts: AuthOptions): Authenticated {
  const serial = req.headers['x-terminal-serial'];
  if (serial === undefined || !SERIAL_PATTERN.test(serial)) return denyAlike('unauthenticated', 'X-Terminal-Serial is missing or malformed');
  const parts = partsOf(req);
  const sig = parsedSignature(req, parts, denyAlike);
  const cert = certs.lookup(serial, sig.params.keyid);
  return cert ? verifyWith(req, parts, sig, cert, NO_CERTIFICATE, serial, opts, denyAlike) : denyAlike('unauthenticated', 'no key is held for this serial and keyid');
}
