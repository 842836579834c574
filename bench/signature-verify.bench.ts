/** @module Micro benchmark: what one signed request's verification costs for each algorithm, beside openssl's verify rate for the same key. */
import { createPublicKey } from 'node:crypto';
import { createSelfSignedCertificate, generateKeyPair, parseCertificate } from '../src/crypto/certificates.js';
import { parseSignature, signRequest, signatureBase, verifySignature, type RequestParts } from '../src/crypto/signature.js';
import { fingerprint } from '../src/crypto/fingerprint.js';
import { storedCertificateKey } from '../src/crypto/stored-key.js';
import type { KeyKind, SignatureAlgorithm } from '../src/protocol/types.js';
import { runMicroCli, type MicroSuite, type MicroTask } from './lib/micro-runner.js';
import { reference, type ReferenceKey } from './lib/openssl-speed.js';

interface Signed {
  parts: RequestParts;
  headers: Record<string, string>;
  base: string;
  signature: Buffer;
}

/** A master ping as a terminal signs it, and the base and signature the server will check. */
function signedPing(kind: KeyKind, alg: SignatureAlgorithm, serial: string): Signed & { publicKeyPem: string; certDer: Buffer } {
  const pair = generateKeyPair(kind);
  const cert = createSelfSignedCertificate({ privateKeyPem: pair.privateKeyPem, commonName: serial });
  const signed = signRequest({ method: 'POST', path: '/api/v1/ping', serial, privateKeyPem: pair.privateKeyPem, alg, keyid: fingerprint(cert.der) });
  const lower = new Map(Object.entries(signed).map(([k, v]) => [k.toLowerCase(), v]));
  const parts: RequestParts = { method: 'POST', path: '/api/v1/ping', query: '', header: (name) => lower.get(name), hasBody: false };
  const parsed = parseSignature(lower.get('signature-input'), lower.get('signature'), parts);
  if (!parsed.ok) throw new Error(parsed.message);
  const base = signatureBase(parts, parsed.value);
  if (!base.ok) throw new Error(base.message);
  return { parts, headers: Object.fromEntries(lower), base: base.value, signature: parsed.value.signature, publicKeyPem: pair.publicKeyPem, certDer: cert.der };
}

const CASES: { alg: SignatureAlgorithm; kind: KeyKind; ref: ReferenceKey }[] = [
  { alg: 'rsa-v1_5-sha256', kind: 'rsa', ref: 'rsa2048.verify' },
  { alg: 'rsa-pss-sha512', kind: 'rsa', ref: 'rsa2048.verify' },
  { alg: 'ecdsa-p256-sha256', kind: 'ec', ref: 'ecdsap256.verify' },
  { alg: 'ed25519', kind: 'ed25519', ref: 'ed25519.verify' },
];

export const suite: MicroSuite = {
  id: 'signature-verify',
  question: 'What does verifying one signed terminal request cost per algorithm, against the physical limit?',
  openssl: ['rsa2048', 'ecdsap256', 'ed25519'],
  notes: [
    'verifySignature is src/crypto/signature.ts with the certificate\'s parsed KeyObject (what master does: certificates are parsed once and cached).',
    'The PEM variant re-parses the public key on every call: the cost of not caching parsed keys.',
    'Keys are RSA-2048, P-256 and Ed25519, generated at setup.',
    'Key import (a terminal whose key is not cached on the thread): parseCertificate (X509Certificate) against storedCertificateKey (src/crypto/stored-key.ts: the bare PKCS#1 or JWK key read out of the certificate with node-forge).',
  ],
  setup(): MicroTask[] {
    const tasks: MicroTask[] = [];
    // A benchmark of a verify that fails would measure the wrong path; checking also consumes the result.
    const checked = (verified: boolean): void => {
      if (!verified) throw new Error('signature did not verify');
    };
    for (const c of CASES) {
      const s = signedPing(c.kind, c.alg, `BENCH-${c.kind.toUpperCase()}-1`);
      const cert = parseCertificate(s.certDer);
      if (!cert.ok) throw new Error(cert.message);
      const key = cert.value.publicKey;
      tasks.push({
        name: `${c.alg}: verifySignature, cached KeyObject`,
        fn: () => checked(verifySignature(key, c.alg, s.base, s.signature)),
        reference: (o) => reference(o, c.ref),
      });
      if (c.alg !== 'rsa-v1_5-sha256') {
        const tfp = fingerprint(s.certDer);
        tasks.push({
          name: `${c.kind} key import: parseCertificate (X509Certificate)`,
          fn: () => checked(parseCertificate(s.certDer).ok),
          reference: (o) => reference(o, c.ref),
        });
        tasks.push({
          name: `${c.kind} key import: storedCertificateKey (bare key)`,
          fn: () => checked(storedCertificateKey(s.certDer, tfp) !== null),
          reference: (o) => reference(o, c.ref),
        });
      }
      if (c.alg === 'rsa-pss-sha512') {
        tasks.push({
          name: `${c.alg}: verifySignature, PEM parsed per call`,
          fn: () => checked(verifySignature(createPublicKey(s.publicKeyPem), c.alg, s.base, s.signature)),
          reference: (o) => reference(o, c.ref),
        });
        tasks.push({
          name: 'parseSignature + signatureBase (no crypto)',
          batch: 20,
          fn: () => {
            const parsed = parseSignature(s.headers['signature-input'], s.headers['signature'], s.parts);
            if (!parsed.ok || !signatureBase(s.parts, parsed.value).ok) throw new Error('parse failed');
          },
          reference: (o) => reference(o, 'rsa2048.verify'),
        });
      }
    }
    return tasks;
  },
};

await runMicroCli(suite);
