/** @module Unit tests: the cheap import of a stored certificate's key gives exactly the key X509Certificate gives, or nothing. */
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSelfSignedCertificate, generateKeyPair, parseCertificate } from '../../../src/crypto/certificates.js';
import { fingerprint } from '../../../src/crypto/fingerprint.js';
import { signSignatureBase, verifySignature } from '../../../src/crypto/signature.js';
import { storedCertificateKey } from '../../../src/crypto/stored-key.js';
import type { KeyKind, SignatureAlgorithm } from '../../../src/protocol/types.js';

const workDir = mkdtempSync(join(tmpdir(), 'stored-key-test-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const spkiOf = (der: Buffer) => new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' });

describe('storedCertificateKey', () => {
  const cases: [KeyKind, SignatureAlgorithm][] = [['rsa', 'rsa-pss-sha512'], ['ec', 'ecdsa-p256-sha256'], ['ed25519', 'ed25519']];
  for (const [kind, alg] of cases) {
    it(`${kind}: the same key as X509Certificate, and it verifies the owner's signature`, () => {
      const { privateKeyPem } = generateKeyPair(kind);
      const { der } = createSelfSignedCertificate({ privateKeyPem, commonName: 'ATM-1' });
      const key = storedCertificateKey(der, fingerprint(der));
      expect(key?.keyKind).toBe(kind);
      expect(key!.publicKey.export({ type: 'spki', format: 'der' }).equals(spkiOf(der))).toBe(true);
      const signature = signSignatureBase(alg, createPrivateKey(privateKeyPem), 'base');
      expect(verifySignature(key!.publicKey, alg, 'base', signature)).toBe(true);
      expect(verifySignature(key!.publicKey, alg, 'other base', signature)).toBe(false);
    });
  }

  it('keeps nothing of the bytes it read: a cached key must not hold a slice of the shared Buffer pool (8 KiB for a few hundred bytes)', () => {
    for (const kind of ['rsa', 'ec', 'ed25519'] as const) {
      const { der } = createSelfSignedCertificate({ privateKeyPem: generateKeyPair(kind).privateKeyPem, commonName: 'ATM-1' });
      // As the store hands it: a small Buffer, itself a slice of the pool.
      const stored = Buffer.from(der);
      const key = storedCertificateKey(stored, fingerprint(stored))!;
      expect(Object.keys(key).sort()).toEqual(['keyKind', 'publicKey', 'tfp']);
      for (const value of Object.values(key)) expect(ArrayBuffer.isView(value)).toBe(false);
    }
  });

  it('refuses bytes whose SHA-256 is not the pinned fingerprint', () => {
    const { der } = createSelfSignedCertificate({ privateKeyPem: generateKeyPair('ec').privateKeyPem, commonName: 'ATM-1' });
    const other = createSelfSignedCertificate({ privateKeyPem: generateKeyPair('ec').privateKeyPem, commonName: 'ATM-1' }).der;
    expect(storedCertificateKey(der, fingerprint(other))).toBeNull();
  });

  it('refuses garbage, truncated certificates and empty input even when the fingerprint matches them', () => {
    const { der } = createSelfSignedCertificate({ privateKeyPem: generateKeyPair('rsa').privateKeyPem, commonName: 'ATM-1' });
    for (const bytes of [Buffer.from('not a certificate'), der.subarray(0, der.length - 10), Buffer.alloc(0), Buffer.concat([der, Buffer.from([0])])]) {
      expect(storedCertificateKey(bytes, fingerprint(bytes))).toBeNull();
    }
  });

  it('refuses an RSA key outside 2048–4096 bits on either path', () => {
    const keyFile = join(workDir, 'rsa1024.key');
    const certFile = join(workDir, 'rsa1024.der');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:1024', '-nodes', '-subj', '/CN=ATM-1', '-days', '2', '-keyout', keyFile, '-outform', 'DER', '-out', certFile], { stdio: 'pipe' });
    const der = readFileSync(certFile);
    expect(storedCertificateKey(der, fingerprint(der))).toBeNull();
  });

  it('agrees with the full parse on certificates made by openssl, including kinds the fast path does not read', () => {
    const makers: Record<string, string[]> = {
      'p256': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      'p256-explicit-parameters': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-pkeyopt', 'ec_param_enc:explicit'],
      'p384': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
      'rsa-pss': ['-newkey', 'rsa-pss', '-pkeyopt', 'rsa_keygen_bits:2048'],
      'ed448': ['-newkey', 'ed448'],
      'rsa-3072': ['-newkey', 'rsa:3072'],
    };
    for (const [name, keyArgs] of Object.entries(makers)) {
      const certFile = join(workDir, `${name}.der`);
      execFileSync('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-subj', '/CN=ATM-1', '-days', '2', '-keyout', join(workDir, `${name}.key`), '-outform', 'DER', '-out', certFile], { stdio: 'pipe' });
      const der = readFileSync(certFile);
      const full = parseCertificate(der);
      const key = storedCertificateKey(der, fingerprint(der));
      expect({ name, kind: key?.keyKind ?? null }).toEqual({ name, kind: full.ok ? full.value.keyKind : null });
      if (key) expect(key.publicKey.export({ type: 'spki', format: 'der' }).equals(spkiOf(der))).toBe(true);
    }
  });
});
