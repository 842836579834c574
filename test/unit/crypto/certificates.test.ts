/** @module Unit tests: key generation, self-signed certificates (checked by openssl and node), and certificate parsing. */
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  algorithmsFor,
  createSelfSignedCertificate,
  defaultAlgorithm,
  generateKeyPair,
  keyKindOf,
  parseCertificate,
  publicKeyOfPrivate,
} from '../../../src/crypto/certificates.js';
import { fingerprint, normalizeFingerprint } from '../../../src/crypto/fingerprint.js';
import type { KeyKind } from '../../../src/protocol/types.js';

const openssl = (args: string[], input?: Buffer) =>
  execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();

const workDir = mkdtempSync(join(tmpdir(), 'certs-test-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** A self-signed certificate made by the openssl CLI, for key types our builder refuses to make. */
function opensslCertificate(name: string, keyArgs: string[], subject = '/CN=ATM-1'): Buffer {
  const out = join(workDir, `${name}.der`);
  execFileSync('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-subj', subject, '-days', '2', '-keyout', join(workDir, `${name}.key`), '-outform', 'DER', '-out', out], {
    stdio: 'pipe',
  });
  return readFileSync(out);
}

function dsaKeyFile(): string {
  const file = join(workDir, 'dsa-key.pem');
  const { privateKey } = generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160 });
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return file;
}

function codeOf(result: { ok: boolean; code?: string }): string | undefined {
  return result.ok ? 'ok' : result.code;
}

describe.each<[KeyKind, string, string]>([
  ['rsa', 'sha256WithRSAEncryption', 'Digital Signature, Key Encipherment'],
  ['ec', 'ecdsa-with-SHA256', 'Digital Signature'],
  ['ed25519', 'ED25519', 'Digital Signature'],
])('%s certificates', (kind, opensslAlgorithm, keyUsage) => {
  const keys = generateKeyPair(kind);
  const serial = 'ATM_0042@lobby';
  const { certPem, der } = createSelfSignedCertificate({
    privateKeyPem: keys.privateKeyPem,
    commonName: serial,
    altNames: ['terminal.local', '127.0.0.1', '::1'],
  });

  it('generates PKCS#8 / SPKI PEM of the requested kind', () => {
    expect(keys.privateKeyPem).toContain('-----BEGIN PRIVATE KEY-----');
    expect(keys.publicKeyPem).toContain('-----BEGIN PUBLIC KEY-----');
    expect(keyKindOf(createPublicKey(keys.publicKeyPem))).toBe(kind);
    expect(publicKeyOfPrivate(keys.privateKeyPem)).toBe(keys.publicKeyPem);
  });

  it('is accepted by openssl x509 with the promised fields', () => {
    const text = openssl(['x509', '-inform', 'DER', '-noout', '-text'], der);
    expect(text).toContain(`Signature Algorithm: ${opensslAlgorithm}`);
    expect(text).toContain(`Subject: CN = ${serial}`);
    expect(text).toContain(`Issuer: CN = ${serial}`);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(new RegExp(`Key Usage: critical\\s+${keyUsage}\\n`));
    expect(text).toContain('TLS Web Server Authentication, TLS Web Client Authentication');
    expect(text).toContain('DNS:terminal.local, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    // PEM and DER are the same certificate
    expect(openssl(['x509', '-noout', '-text'], Buffer.from(certPem))).toBe(text);
  });

  it('is accepted by node, carries a valid self-signature and a positive serial', () => {
    const x509 = new X509Certificate(der);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.issuer).toBe(x509.subject);
    expect(x509.raw.equals(der)).toBe(true);
    expect(new X509Certificate(certPem).raw.equals(der)).toBe(true);
    expect(Number.parseInt(x509.serialNumber.slice(0, 1), 16)).toBeLessThan(8);
    expect(x509.ca).toBe(false);
  });

  it('parses back with the right TFP, CN and key kind; TFP equals openssl -fingerprint', () => {
    const parsed = parseCertificate(der);
    if (!parsed.ok) throw new Error(parsed.code);
    const printed = openssl(['x509', '-inform', 'DER', '-noout', '-fingerprint', '-sha256'], der);
    expect(parsed.value.tfp).toBe(normalizeFingerprint(printed.split('=')[1]!));
    expect(parsed.value.tfp).toBe(fingerprint(der));
    expect(parsed.value.commonName).toBe(serial);
    expect(parsed.value.keyKind).toBe(kind);
    expect(parsed.value.rsaBits).toBe(kind === 'rsa' ? 2048 : null);
    expect(parsed.value.der.equals(der)).toBe(true);
    expect(parsed.value.publicKey.export({ type: 'spki', format: 'pem' })).toBe(keys.publicKeyPem);
  });
});

describe('createSelfSignedCertificate', () => {
  it('keeps a CN with characters PrintableString cannot hold', () => {
    const keys = generateKeyPair('ed25519');
    const commonName = 'Kassé_7, "Lobby"+1';
    const parsed = parseCertificate(createSelfSignedCertificate({ privateKeyPem: keys.privateKeyPem, commonName }).der);
    expect(parsed.ok && parsed.value.commonName).toBe(commonName);
  });

  it('refuses a key type the protocol does not support', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => createSelfSignedCertificate({ privateKeyPem, commonName: 'x' })).toThrow(TypeError);
  });
});

describe('parseCertificate', () => {
  it('accepts certificates made by openssl itself', () => {
    const ec = parseCertificate(opensslCertificate('p256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']));
    expect(ec.ok && ec.value.keyKind).toBe('ec');
    const rsa3072 = parseCertificate(opensslCertificate('rsa3072', ['-newkey', 'rsa:3072']));
    expect(rsa3072.ok && rsa3072.value.rsaBits).toBe(3072);
  });

  it('gives a null CN when the subject has none', () => {
    const parsed = parseCertificate(opensslCertificate('no-cn', ['-newkey', 'ed25519'], '/O=Operator'));
    expect(parsed.ok && parsed.value.commonName).toBeNull();
  });

  it('refuses RSA-1024', () => {
    const keys = generateKeyPair('rsa', 1024);
    const { der } = createSelfSignedCertificate({ privateKeyPem: keys.privateKeyPem, commonName: 'ATM-1' });
    expect(codeOf(parseCertificate(der))).toBe('bad_certificate');
  });

  it.each([
    ['EC P-384', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384']],
    ['Ed448', ['-newkey', 'ed448']],
    ['DSA', ['-key', dsaKeyFile()]],
    ['RSA-PSS key', ['-newkey', 'rsa-pss', '-pkeyopt', 'rsa_keygen_bits:2048']],
  ])('refuses a %s certificate', (name, keyArgs) => {
    expect(codeOf(parseCertificate(opensslCertificate(name.replace(/\W/g, ''), keyArgs)))).toBe('bad_certificate');
  });

  it('refuses garbage, PEM text, truncation, trailing bytes and oversize input', () => {
    const keys = generateKeyPair('ec');
    const { der, certPem } = createSelfSignedCertificate({ privateKeyPem: keys.privateKeyPem, commonName: 'ATM-1' });
    const inputs = [
      new Uint8Array(0),
      Buffer.from('definitely not a certificate'),
      Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]),
      Buffer.from(certPem),
      der.subarray(0, der.length - 1),
      Buffer.concat([der, Buffer.from([0x00])]),
      Buffer.concat([der, Buffer.alloc(17 * 1024)]),
    ];
    for (const input of inputs) expect(codeOf(parseCertificate(input))).toBe('bad_certificate');
  });

  it('copies the DER, so a caller reusing its buffer cannot change the parsed certificate', () => {
    const keys = generateKeyPair('ed25519');
    const { der } = createSelfSignedCertificate({ privateKeyPem: keys.privateKeyPem, commonName: 'ATM-1' });
    const buffer = Buffer.from(der);
    const parsed = parseCertificate(buffer);
    buffer.fill(0);
    expect(parsed.ok && parsed.value.der.equals(der) && parsed.value.tfp === fingerprint(der)).toBe(true);
  });
});

describe('key kinds and algorithms', () => {
  it('maps kinds to RFC 9421 algorithms', () => {
    expect(algorithmsFor('rsa')).toEqual(['rsa-v1_5-sha256', 'rsa-pss-sha512']);
    expect(algorithmsFor('ec')).toEqual(['ecdsa-p256-sha256']);
    expect(algorithmsFor('ed25519')).toEqual(['ed25519']);
    expect(defaultAlgorithm('rsa')).toBe('rsa-pss-sha512');
    expect(defaultAlgorithm('ec')).toBe('ecdsa-p256-sha256');
    expect(defaultAlgorithm('ed25519')).toBe('ed25519');
  });

  it('knows no kind for X25519, P-384 or DSA keys', () => {
    expect(keyKindOf(generateKeyPairSync('x25519').publicKey)).toBeNull();
    expect(keyKindOf(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey)).toBeNull();
    expect(keyKindOf(generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160 }).publicKey)).toBeNull();
  });
});
