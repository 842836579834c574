/**
 * @module Hostile terminal certificates: garbage and mutated DER only ever give `bad_certificate`; wrong key types and sizes are
 * refused; expired and not-yet-valid certificates are accepted (PROTOCOL.md: dates are not checked); at the gate the CN must equal the serial.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { authenticateGate } from '../../../src/auth/request-auth.js';
import { createSelfSignedCertificate, generateKeyPair, parseCertificate, MAX_RSA_BITS, MIN_RSA_BITS } from '../../../src/crypto/certificates.js';
import { signRequest } from '../../../src/crypto/signature.js';
import { AppError, isErrorCode } from '../../../src/errors.js';
import type { SignatureAlgorithm, TerminalRequest } from '../../../src/protocol/types.js';
import { fakeRsaPublicKeyPem, OpensslCerts } from '../../helpers/openssl-certs.js';
import { FuzzTally, writeSection } from '../../helpers/reliability.js';
import { anyHeaderText, mutatedBytes, mutatedText } from '../../helpers/mutate.js';

const BUDGET_MS = 250;
const tally = new FuzzTally();
const certs = new OpensslCerts();
const SERIAL = 'ATM-CERT-1';

/** A gate request as the net layer hands it over, signed with `keyPem` (whatever its type) and carrying `certHeader`. */
function gateRequest(keyPem: string, alg: SignatureAlgorithm, certHeader: string, serial = SERIAL): TerminalRequest {
  const body = Buffer.from('{}');
  let headers: Record<string, string>;
  try {
    headers = signRequest({ method: 'POST', path: '/api/v1/pairing', body, serial, privateKeyPem: keyPem, alg, keyid: 'a'.repeat(64) });
  } catch {
    // A key node cannot sign with under `alg`: the server must refuse the certificate before it looks at the signature anyway.
    headers = signRequest({ method: 'POST', path: '/api/v1/pairing', body, serial, privateKeyPem: generateKeyPair('ed25519').privateKeyPem, alg: 'ed25519', keyid: 'a'.repeat(64) });
  }
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { method: 'POST', path: '/api/v1/pairing', query: '', headers: { ...lower, 'x-terminal-certificate': certHeader }, body, remoteAddress: '127.0.0.1' };
}

/** Signs properly: keyid is the certificate's TFP. */
function signedGateRequest(keyPem: string, alg: SignatureAlgorithm, der: Buffer, serial = SERIAL): TerminalRequest {
  const body = Buffer.from('{}');
  const tfp = createHash('sha256').update(der).digest('hex');
  const headers = signRequest({ method: 'POST', path: '/api/v1/pairing', body, serial, privateKeyPem: keyPem, alg, keyid: tfp });
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { method: 'POST', path: '/api/v1/pairing', query: '', headers: { ...lower, 'x-terminal-certificate': der.toString('base64') }, body, remoteAddress: '127.0.0.1' };
}

/** 'ok' or the AppError code; anything else thrown fails the test. */
function gateVerdict(req: TerminalRequest): string {
  try {
    authenticateGate(req, { nowSec: Math.floor(Date.now() / 1000), clockSkewSec: 300 });
    return 'ok';
  } catch (error) {
    if (error instanceof AppError && isErrorCode(error.code)) return error.code;
    throw error;
  }
}

const codeOf = (der: Uint8Array): string => {
  const result = parseCertificate(der);
  return result.ok ? 'ok' : result.code;
};

const P256 = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
const ED25519 = ['-algorithm', 'ed25519'];
const PAST = { start: '20000101000000Z', end: '20010101000000Z' };
const FUTURE = { start: '20990101000000Z', end: '21000101000000Z' };
const rsaKey = (bits: number) => ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`];

interface CertCase {
  name: string;
  make(): { der: Buffer; keyPem?: string; alg?: SignatureAlgorithm; serial?: string };
  /** parseCertificate's verdict, and the gate's for a request signed with the certificate's key. */
  parse: 'ok' | 'bad_certificate';
  gate: 'ok' | 'bad_certificate';
}

const CASES: CertCase[] = [
  { name: 'EC P-256, expired (2000–2001)', make: () => ({ ...certs.selfSigned(certs.key(P256), `/CN=${SERIAL}`, PAST), alg: 'ecdsa-p256-sha256' }), parse: 'ok', gate: 'ok' },
  { name: 'Ed25519, not yet valid (2099–2100)', make: () => ({ ...certs.selfSigned(certs.key(ED25519), `/CN=${SERIAL}`, FUTURE), alg: 'ed25519' }), parse: 'ok', gate: 'ok' },
  { name: 'RSA-2048, expired', make: () => ({ ...certs.selfSigned(certs.key(rsaKey(2048)), `/CN=${SERIAL}`, PAST), alg: 'rsa-v1_5-sha256' }), parse: 'ok', gate: 'ok' },
  { name: 'EC P-384', make: () => ({ ...certs.selfSigned(certs.key(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']), `/CN=${SERIAL}`), alg: 'ecdsa-p256-sha256' }), parse: 'bad_certificate', gate: 'bad_certificate' },
  { name: 'EC secp256k1', make: () => ({ ...certs.selfSigned(certs.key(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1']), `/CN=${SERIAL}`), alg: 'ecdsa-p256-sha256' }), parse: 'bad_certificate', gate: 'bad_certificate' },
  { name: 'Ed448', make: () => ({ ...certs.selfSigned(certs.key(['-algorithm', 'ed448']), `/CN=${SERIAL}`), alg: 'ed25519' }), parse: 'bad_certificate', gate: 'bad_certificate' },
  { name: 'DSA-2048', make: () => ({ ...certs.selfSigned(certs.key('dsa'), `/CN=${SERIAL}`), alg: 'ecdsa-p256-sha256' }), parse: 'bad_certificate', gate: 'bad_certificate' },
  { name: 'RSA-512', make: () => ({ ...certs.selfSigned(certs.key(rsaKey(512)), `/CN=${SERIAL}`), alg: 'rsa-v1_5-sha256' }), parse: 'bad_certificate', gate: 'bad_certificate' },
  { name: 'RSA-1024', make: () => ({ ...certs.selfSigned(certs.key(rsaKey(1024)), `/CN=${SERIAL}`), alg: 'rsa-v1_5-sha256' }), parse: 'bad_certificate', gate: 'bad_certificate' },
  { name: `RSA-${MIN_RSA_BITS - 1} (public key only)`, make: () => ({ der: certs.withPublicKey(fakeRsaPublicKeyPem(MIN_RSA_BITS - 1), `/CN=${SERIAL}`) }), parse: 'bad_certificate', gate: 'bad_certificate' },
  { name: `RSA-${MAX_RSA_BITS} (public key only)`, make: () => ({ der: certs.withPublicKey(fakeRsaPublicKeyPem(MAX_RSA_BITS), `/CN=${SERIAL}`) }), parse: 'ok', gate: 'ok' },
  { name: `RSA-${MAX_RSA_BITS + 1} (public key only)`, make: () => ({ der: certs.withPublicKey(fakeRsaPublicKeyPem(MAX_RSA_BITS + 1), `/CN=${SERIAL}`) }), parse: 'bad_certificate', gate: 'bad_certificate' },
  { name: 'RSA-8192 (public key only)', make: () => ({ der: certs.withPublicKey(fakeRsaPublicKeyPem(8192), `/CN=${SERIAL}`) }), parse: 'bad_certificate', gate: 'bad_certificate' },
  { name: 'RSA-16384 (public key only)', make: () => ({ der: certs.withPublicKey(fakeRsaPublicKeyPem(16384), `/CN=${SERIAL}`) }), parse: 'bad_certificate', gate: 'bad_certificate' },
  { name: 'CN not equal to the serial', make: () => ({ ...certs.selfSigned(certs.key(P256), '/CN=ATM-OTHER'), alg: 'ecdsa-p256-sha256' }), parse: 'ok', gate: 'bad_certificate' },
  { name: 'CN equal to the serial but for case', make: () => ({ ...certs.selfSigned(certs.key(P256), `/CN=${SERIAL.toLowerCase()}`), alg: 'ecdsa-p256-sha256' }), parse: 'ok', gate: 'bad_certificate' },
  { name: 'no CN at all', make: () => ({ ...certs.selfSigned(certs.key(ED25519), `/O=${SERIAL}`), alg: 'ed25519' }), parse: 'ok', gate: 'bad_certificate' },
  { name: 'two CNs, the serial and another', make: () => ({ ...certs.selfSigned(certs.key(ED25519), `/CN=${SERIAL}/CN=ATM-OTHER`), alg: 'ed25519' }), parse: 'ok', gate: 'bad_certificate' },
  { name: 'PEM text instead of DER', make: () => ({ der: Buffer.from(`-----BEGIN CERTIFICATE-----\n${certs.selfSigned(certs.key(ED25519), `/CN=${SERIAL}`).der.toString('base64')}\n-----END CERTIFICATE-----\n`) }), parse: 'bad_certificate', gate: 'bad_certificate' },
];

const seedKeys = { ec: generateKeyPair('ec'), ed25519: generateKeyPair('ed25519'), rsa: generateKeyPair('rsa') };
const SEEDS = Object.values(seedKeys).map((k) => createSelfSignedCertificate({ privateKeyPem: k.privateKeyPem, commonName: SERIAL }).der);
const caseRows: Array<[string, string, string]> = [];

afterAll(() => {
  certs.remove();
  const wrongTypes = CASES.filter((c) => c.parse === 'bad_certificate').length;
  writeSection({
    name: 'fuzz-unit-certificates',
    title: 'Fuzzing: terminal certificates (unit, openssl + fast-check)',
    summary: [
      'Random bytes, DER-shaped garbage and mutations of valid certificates (bit flips, truncation, insertion, length damage): only ever `bad_certificate`, never an exception; whatever is accepted is canonical DER whose TFP is its SHA-256.',
      `${CASES.length} certificates made with openssl: ${wrongTypes} wrong key types or sizes refused; expired and not-yet-valid ones accepted, as PROTOCOL.md says; at the gate a CN other than the serial is refused.`,
      'The X-Terminal-Certificate header fuzzed through the gate\'s whole stateless check: only documented error codes.',
    ],
    numbers: { inputsFuzzed: tally.total },
    table: { columns: ['certificate', 'parseCertificate', 'gate (signed with its key)'], rows: [...caseRows, ...tally.table().rows.map((r) => [`fuzz: ${r[0]} (${r[1]} inputs, slowest ${r[2]} ms)`, String(r[3]), ''])] },
  });
});

describe('certificates made by openssl', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const made = c.make();
    const parsed = tally.time('openssl table', () => codeOf(made.der));
    const gate = made.keyPem && made.alg
      ? gateVerdict(signedGateRequest(made.keyPem, made.alg, made.der, made.serial))
      : gateVerdict(gateRequest(seedKeys.ec.privateKeyPem, 'ecdsa-p256-sha256', made.der.toString('base64')));
    caseRows.push([c.name, parsed, gate]);
    expect(parsed).toBe(c.parse);
    // A certificate without its private key can pass the certificate checks but never the signature.
    expect(gate).toBe(c.gate === 'ok' && !made.keyPem ? 'unauthenticated' : c.gate);
  });
});

describe('parseCertificate on garbage', () => {
  const derShaped = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 600 })).map(([len, rest]) => Buffer.concat([Buffer.from([0x30, 0x82, len >> 8, len & 0xff]), rest]));
  const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)), derShaped, fc.constant(Buffer.alloc(17 * 1024, 0x30)));

  it('answers ok or bad_certificate for any bytes, in bounded time', () => {
    fc.assert(
      fc.property(anyBytes, (bytes) => {
        const code = tally.time('parseCertificate(random bytes)', () => codeOf(bytes));
        tally.outcome('parseCertificate(random bytes)', code);
        expect(code).toBe('bad_certificate');
      }),
      { numRuns: 500 },
    );
    expect(tally.maxMs('parseCertificate(random bytes)')).toBeLessThan(BUDGET_MS);
  });

  it('accepts a mutated certificate only as canonical DER of a supported key, fingerprinted over exactly its bytes', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SEEDS).chain(mutatedBytes), (bytes) => {
        const result = tally.time('parseCertificate(mutated DER)', () => parseCertificate(bytes));
        tally.outcome('parseCertificate(mutated DER)', result.ok ? 'ok' : result.code);
        if (!result.ok) {
          expect(result.code).toBe('bad_certificate');
          return;
        }
        expect(result.value.der.equals(bytes)).toBe(true);
        expect(result.value.tfp).toBe(createHash('sha256').update(bytes).digest('hex'));
        expect(['rsa', 'ec', 'ed25519']).toContain(result.value.keyKind);
        if (result.value.keyKind === 'rsa') expect(result.value.rsaBits).toBeGreaterThanOrEqual(MIN_RSA_BITS);
      }),
      { numRuns: 600 },
    );
    expect(tally.maxMs('parseCertificate(mutated DER)')).toBeLessThan(BUDGET_MS);
  });
});

describe('the gate\'s stateless checks on a hostile X-Terminal-Certificate', () => {
  it('throw only documented codes, and pass only the same certificate', () => {
    const valid = SEEDS[0]!.toString('base64');
    const header = fc.oneof(anyHeaderText, mutatedText(valid), fc.constantFrom(...SEEDS).chain(mutatedBytes).map((b) => b.toString('base64')));
    fc.assert(
      fc.property(header, (text) => {
        const req = signedGateRequest(seedKeys.ec.privateKeyPem, 'ecdsa-p256-sha256', SEEDS[0]!);
        const verdict = tally.time('authenticateGate(certificate header)', () => gateVerdict({ ...req, headers: { ...req.headers, 'x-terminal-certificate': text } }));
        tally.outcome('authenticateGate(certificate header)', verdict);
        expect(['ok', 'bad_certificate', 'bad_request', 'unauthenticated', 'bad_signature_input', 'bad_content_digest']).toContain(verdict);
        // Base64 has a little slack (unused low bits in the last character): what passes must decode to the very same DER.
        if (verdict === 'ok') expect(Buffer.from(text, 'base64').equals(SEEDS[0]!)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});
