/** @module Interop: requests signed by the npm `http-message-signatures` RFC 9421 library verify with ours, and ours verify with it. */
import { randomBytes } from 'node:crypto';
import { createSigner, createVerifier, httpbis } from 'http-message-signatures';
import { describe, expect, it } from 'vitest';
import { createSelfSignedCertificate, generateKeyPair, parseCertificate, type ParsedCertificate } from '../../../src/crypto/certificates.js';
import { contentDigest } from '../../../src/crypto/content-digest.js';
import { parseSignature, signRequest, signatureBase, verifySignature, type RequestParts } from '../../../src/crypto/signature.js';
import type { KeyKind, SignatureAlgorithm } from '../../../src/protocol/types.js';

const CASES: Array<[SignatureAlgorithm, KeyKind]> = [
  ['rsa-pss-sha512', 'rsa'],
  ['rsa-v1_5-sha256', 'rsa'],
  ['ecdsa-p256-sha256', 'ec'],
  ['ed25519', 'ed25519'],
];

interface LibRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
}

function terminal(kind: KeyKind): { privateKeyPem: string; cert: ParsedCertificate } {
  const keys = generateKeyPair(kind);
  const cert = parseCertificate(createSelfSignedCertificate({ privateKeyPem: keys.privateKeyPem, commonName: 'ATM-9' }).der);
  if (!cert.ok) throw new Error(cert.code);
  return { privateKeyPem: keys.privateKeyPem, cert: cert.value };
}

/** Our verifier over a request in the library's shape. */
function verifyOurs(request: LibRequest, cert: ParsedCertificate, hasBody: boolean): boolean {
  const url = new URL(request.url);
  const headers = new Map(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
  const parts: RequestParts = {
    method: request.method,
    path: url.pathname,
    query: url.search.slice(1),
    header: (name) => headers.get(name),
    hasBody,
  };
  const parsed = parseSignature(headers.get('signature-input'), headers.get('signature'), parts);
  if (!parsed.ok) throw new Error(`${parsed.code}: ${parsed.message}`);
  expect(parsed.value.params.keyid).toBe(cert.tfp);
  const base = signatureBase(parts, parsed.value);
  if (!base.ok) throw new Error(base.code);
  return verifySignature(cert.publicKey, parsed.value.params.alg, base.value, parsed.value.signature);
}

/** The library's verifier over a request, requiring the profile's components and parameters. */
function verifyTheirs(request: LibRequest, cert: ParsedCertificate, alg: SignatureAlgorithm): Promise<boolean | null> {
  return httpbis.verifyMessage(
    {
      keyLookup: async (params) => (params.keyid === cert.tfp ? { id: cert.tfp, algs: [alg], verify: createVerifier(cert.publicKey, alg) } : null),
      requiredFields: ['@method', '@path', 'x-terminal-serial'],
      requiredParams: ['created', 'nonce', 'keyid', 'alg'],
      tolerance: 5,
    },
    request,
  );
}

describe.each(CASES)('%s', (alg, kind) => {
  const { privateKeyPem, cert } = terminal(kind);
  const body = Buffer.from('{"eventId":"e-1","currency":"EUR","denomination":20,"count":3}');

  it('a request signed by http-message-signatures verifies with ours', async () => {
    const request: LibRequest = {
      method: 'POST',
      url: 'https://master.example:7743/api/v1/cash-events?batch=7',
      headers: { 'Content-Type': 'application/json', 'Content-Digest': contentDigest(body), 'X-Terminal-Serial': 'ATM-9' },
    };
    const signedRequest = await httpbis.signMessage(
      {
        key: createSigner(privateKeyPem, alg, cert.tfp),
        name: 'term',
        fields: ['@method', '@path', '@query', 'content-digest', 'x-terminal-serial'],
        params: ['created', 'nonce', 'keyid', 'alg'],
        paramValues: { nonce: randomBytes(16).toString('base64') },
      },
      request,
    );
    expect(verifyOurs(signedRequest, cert, true)).toBe(true);
    // and the check is real: the same headers on another path fail
    expect(verifyOurs({ ...signedRequest, url: 'https://master.example:7743/api/v1/ping?batch=7' }, cert, true)).toBe(false);
  });

  it('a request signed by ours verifies with http-message-signatures', async () => {
    const headers = signRequest({
      method: 'POST',
      path: '/api/v1/cash-events',
      query: 'batch=7',
      body,
      serial: 'ATM-9',
      privateKeyPem,
      alg,
      keyid: cert.tfp,
    });
    const request: LibRequest = { method: 'POST', url: 'https://master.example:7743/api/v1/cash-events?batch=7', headers };
    expect(await verifyTheirs(request, cert, alg)).toBe(true);
    const tampered = { ...request, headers: { ...headers, 'X-Terminal-Serial': 'ATM-10' } };
    expect(await verifyTheirs(tampered, cert, alg)).toBe(false);
  });

  it('a body-less GET without query interoperates both ways', async () => {
    const headers = signRequest({ method: 'GET', path: '/api/v1/deposit-address', serial: 'ATM-9', privateKeyPem, alg, keyid: cert.tfp });
    const ours: LibRequest = { method: 'GET', url: 'https://master.example/api/v1/deposit-address', headers };
    expect(await verifyTheirs(ours, cert, alg)).toBe(true);

    const theirs = await httpbis.signMessage(
      {
        key: createSigner(privateKeyPem, alg, cert.tfp),
        name: 'sig1',
        fields: ['@method', '@path', 'x-terminal-serial'],
        params: ['created', 'expires', 'nonce', 'keyid', 'alg'],
        paramValues: { nonce: randomBytes(32).toString('base64') },
      },
      { method: 'GET', url: 'https://master.example/api/v1/deposit-address', headers: { 'X-Terminal-Serial': 'ATM-9' } },
    );
    expect(verifyOurs(theirs, cert, false)).toBe(true);
  });
});
