/** @module Authenticates a signed terminal request (RFC 9421 profile of PROTOCOL.md) up to, not including, the stateful checks (replay, pin). */
import { AppError, type ErrorCode } from '../errors.js';
import { algorithmsFor, parseCertificate } from '../crypto/certificates.js';
import { verifyContentDigest } from '../crypto/content-digest.js';
import { isFresh, parseSignature, signatureBase, verifySignature, type RequestParts } from '../crypto/signature.js';
import type { VerifyingKey } from '../crypto/stored-key.js';
import { SERIAL_PATTERN, decodeBase64 } from '../protocol/schemas.js';
import type { TerminalRequest } from '../protocol/types.js';
import type { CertificateCache } from './certificate-cache.js';

/** A request whose signature verified: the stateful checks still to run need exactly these. Plain data: it crosses threads. */
export interface Authenticated {
  serial: string;
  tfp: string;
  nonce: string;
  created: number;
  /** DER of the certificate whose key verified the signature. */
  certDer: Buffer;
}

/** `auth` with another copy of its certificate, built field by field (see `withBody` for why not a spread). */
export function withCertificate(auth: Authenticated, certDer: Buffer): Authenticated {
  return { serial: auth.serial, tfp: auth.tfp, nonce: auth.nonce, created: auth.created, certDer };
}

export interface AuthOptions {
  nowSec: number;
  clockSkewSec: number;
}

const MAX_CERT_HEADER = 12 * 1024;

function partsOf(req: TerminalRequest): RequestParts {
  return {
    method: req.method,
    path: req.path,
    query: req.query,
    header: (name) => req.headers[name],
    hasBody: req.body.length > 0,
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

/** Signature, freshness and digest checks shared by gate and master, once the certificate is known. */
function verifyWith(req: TerminalRequest, cert: VerifyingKey, serial: string, opts: AuthOptions, open: boolean): Authenticated {
  // On master every failure is the same 401; on the gate the installer may learn which part was wrong.
  const deny = (code: ErrorCode, message: string): never => {
    throw open ? new AppError(code, message) : new AppError('unauthenticated', 'the request could not be authenticated');
  };
  const parts = partsOf(req);
  const parsed = parseSignature(req.headers['signature-input'], req.headers['signature'], parts);
  if (!parsed.ok) return deny(parsed.code, parsed.message);
  const sig = parsed.value;
  if (sig.params.keyid !== cert.tfp) return deny('unauthenticated', 'keyid is not the fingerprint of the terminal certificate');
  if (!algorithmsFor(cert.keyKind).includes(sig.params.alg)) return deny('unauthenticated', `alg ${sig.params.alg} does not match the ${cert.keyKind} key`);
  if (!isFresh(sig.params, opts.nowSec, opts.clockSkewSec)) {
    return deny('unauthenticated', `the signature's created time is more than ${opts.clockSkewSec} s from the server clock (check the terminal clock)`);
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
  return { serial, tfp: cert.tfp, nonce: sig.params.nonce, created: sig.params.created, certDer: cert.der };
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
  return verifyWith(req, cert.value, serial, opts, true);
}

/**
 * Master: the key must be one the server already holds for this serial (pinned or seen while pairing);
 * whether it is the pinned one is the actor's check, in order with unpairing.
 */
export function authenticateMaster(req: TerminalRequest, certs: CertificateCache, opts: AuthOptions): Authenticated {
  const serial = req.headers['x-terminal-serial'];
  if (serial === undefined || !SERIAL_PATTERN.test(serial)) throw new AppError('unauthenticated', 'the request could not be authenticated');
  const keyid = keyidOf(req.headers['signature-input']);
  const cert = keyid === null ? null : certs.lookup(serial, keyid);
  if (!cert) throw new AppError('unauthenticated', 'the request could not be authenticated');
  return verifyWith(req, cert, serial, opts, false);
}

/** A constant, not a literal in keyidOf: a regular expression literal is a new object each time it is evaluated. */
const KEYID = /;keyid="([0-9A-Fa-f:]{64,95})"/;

/** Cheap pre-parse of keyid so the certificate can be found before the full parse; the full parse re-checks it. */
function keyidOf(signatureInput: string | undefined): string | null {
  if (!signatureInput || signatureInput.length > 4096) return null;
  const match = KEYID.exec(signatureInput);
  return match?.[1]?.replaceAll(':', '').toLowerCase() ?? null;
}
