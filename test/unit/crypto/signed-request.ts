/** @module Test helper for the signature tests: terminals with fresh keys, signing a request, and what a server does on receipt. */
import type { KeyObject } from 'node:crypto';
import { algorithmsFor, createSelfSignedCertificate, generateKeyPair, parseCertificate } from '../../../src/crypto/certificates.js';
import { verifyContentDigest } from '../../../src/crypto/content-digest.js';
import { isFresh, parseSignature, signRequest, signatureBase, verifySignature, type RequestParts } from '../../../src/crypto/signature.js';
import type { KeyKind, SignatureAlgorithm } from '../../../src/protocol/types.js';

export interface Terminal {
  kind: KeyKind;
  privateKeyPem: string;
  publicKey: KeyObject;
  tfp: string;
}

export function makeTerminal(kind: KeyKind): Terminal {
  const keys = generateKeyPair(kind);
  const cert = parseCertificate(createSelfSignedCertificate({ privateKeyPem: keys.privateKeyPem, commonName: 'ATM-7' }).der);
  if (!cert.ok) throw new Error(cert.code);
  return { kind, privateKeyPem: keys.privateKeyPem, publicKey: cert.value.publicKey, tfp: cert.value.tfp };
}

export interface Wire {
  method: string;
  path: string;
  query: string;
  body: Buffer;
  headers: Record<string, string>;
}

export function partsOf(wire: Wire): RequestParts {
  const lower = new Map(Object.entries(wire.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { method: wire.method, path: wire.path, query: wire.query, header: (name) => lower.get(name), hasBody: wire.body.length > 0 };
}

/** What a server does with a request, in order; returns 'ok' or the failure code. */
export function receive(wire: Wire, key: KeyObject, kind: KeyKind, nowSec = Math.floor(Date.now() / 1000)): string {
  const parts = partsOf(wire);
  const parsed = parseSignature(parts.header('signature-input'), parts.header('signature'), parts);
  if (!parsed.ok) return parsed.code;
  if (!algorithmsFor(kind).includes(parsed.value.params.alg)) return 'alg_mismatch';
  if (!isFresh(parsed.value.params, nowSec, 300)) return 'stale';
  if (parts.hasBody) {
    const digest = verifyContentDigest(parts.header('content-digest'), wire.body);
    if (!digest.ok) return digest.code;
  }
  const base = signatureBase(parts, parsed.value);
  if (!base.ok) return base.code;
  return verifySignature(key, parsed.value.params.alg, base.value, parsed.value.signature) ? 'ok' : 'bad_signature';
}

export function signed(t: Terminal, alg: SignatureAlgorithm, request: Partial<Omit<Wire, 'headers'>> = {}, extra = {}): Wire {
  const wire = { method: 'POST', path: '/api/v1/cash-events', query: '', body: Buffer.from('{"eventId":"e1"}'), ...request };
  const headers = signRequest({
    method: wire.method,
    path: wire.path,
    query: wire.query,
    body: wire.body,
    serial: 'ATM-7',
    privateKeyPem: t.privateKeyPem,
    alg,
    keyid: t.tfp,
    ...extra,
  });
  return { ...wire, headers };
}
