/** @module Unit tests: TOTP against RFC 6238's SHA-1 vectors, the ±1 step window and the matched step. */
import { generate } from 'otplib';
import { describe, expect, it } from 'vitest';
import { newTotpSecret, totpCode, totpUri, verifyTotp } from '../../../src/crypto/totp.js';

/** Base32 of the ASCII secret "12345678901234567890" used by RFC 6238 appendix B for SHA-1. */
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

// RFC 6238 appendix B, SHA-1 column: T (seconds) → 8-digit TOTP.
const VECTORS: Array<[number, string]> = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

describe('totpCode', () => {
  it('gives the RFC 6238 codes (6-digit tails of the 8-digit vectors)', async () => {
    for (const [t, code8] of VECTORS) {
      expect(await totpCode(RFC_SECRET, t * 1000)).toBe(code8.slice(2));
    }
    expect(await totpCode(RFC_SECRET, 59_000)).toBe('287082');
  });

  it('rests on an otplib that reproduces the 8-digit vector itself', async () => {
    expect(await generate({ secret: RFC_SECRET, epoch: 59, digits: 8 })).toBe('94287082');
  });
});

describe('verifyTotp', () => {
  const t = 1111111111; // step 37037037
  const step = Math.floor(t / 30);

  it('accepts the current code and reports its step', async () => {
    expect(await verifyTotp(RFC_SECRET, '050471', t * 1000)).toEqual({ ok: true, step });
  });

  it('accepts one step early or late, reporting the step that matched', async () => {
    expect(await verifyTotp(RFC_SECRET, '050471', (t + 30) * 1000)).toEqual({ ok: true, step });
    expect(await verifyTotp(RFC_SECRET, '050471', (t - 30) * 1000)).toEqual({ ok: true, step });
  });

  it('refuses a code two steps away', async () => {
    expect(await verifyTotp(RFC_SECRET, '050471', (t + 61) * 1000)).toEqual({ ok: false, malformed: false });
    expect(await verifyTotp(RFC_SECRET, '050471', (t - 61) * 1000)).toEqual({ ok: false, malformed: false });
  });

  it('lets the caller refuse reuse: the next step reports a greater step', async () => {
    const now = Date.now();
    const first = await verifyTotp(RFC_SECRET, await totpCode(RFC_SECRET, now), now);
    const next = await verifyTotp(RFC_SECRET, await totpCode(RFC_SECRET, now + 30_000), now + 30_000);
    expect(first.ok && next.ok && next.step === first.step + 1).toBe(true);
  });

  it.each([
    ['wrong code', RFC_SECRET, '000000', false],
    ['too short', RFC_SECRET, '50471', true],
    ['not digits', RFC_SECRET, '05o471', true],
    ['8 digits', RFC_SECRET, '14050471', true],
    ['empty', RFC_SECRET, '', true],
    ['malformed secret', 'not base32!', '050471', false],
    ['too short a secret', 'GEZDGNBV', '050471', false],
  ])('refuses %s without throwing, telling a code that is not six digits apart', async (_name, secret, code, malformed) => {
    expect(await verifyTotp(secret, code, t * 1000)).toEqual({ ok: false, malformed });
  });

  it('forgives spaces inside the code', async () => {
    expect((await verifyTotp(RFC_SECRET, '050 471', t * 1000)).ok).toBe(true);
  });
});

describe('newTotpSecret and totpUri', () => {
  it('makes distinct 160-bit base32 secrets that verify their own codes', async () => {
    const secret = newTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(newTotpSecret()).not.toBe(secret);
    const now = Date.now();
    expect((await verifyTotp(secret, await totpCode(secret, now), now)).ok).toBe(true);
  });

  it('builds an otpauth URI with issuer, label and secret', () => {
    const secret = newTotpSecret();
    const uri = new URL(totpUri('alice', secret, 'Pairing Server'));
    expect(uri.protocol).toBe('otpauth:');
    expect(decodeURIComponent(uri.pathname)).toContain('alice');
    expect(uri.searchParams.get('secret')).toBe(secret);
    expect(uri.searchParams.get('issuer')).toBe('Pairing Server');
  });
});
