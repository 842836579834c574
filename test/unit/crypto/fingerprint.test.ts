/** @module Unit tests: fingerprints and their accepted spellings. */
import { describe, expect, it } from 'vitest';
import { fingerprint, formatFingerprint, normalizeFingerprint } from '../../../src/crypto/fingerprint.js';

// SHA-256("abc"), FIPS 180-2 appendix B.1.
const ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

describe('fingerprint', () => {
  it('is the lowercase hex SHA-256 of the bytes', () => {
    expect(fingerprint(Buffer.from('abc'))).toBe(ABC);
    expect(fingerprint(new Uint8Array(0))).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('normalizeFingerprint', () => {
  it('accepts plain hex in any case', () => {
    expect(normalizeFingerprint(ABC)).toBe(ABC);
    expect(normalizeFingerprint(ABC.toUpperCase())).toBe(ABC);
  });

  it('accepts the colon form openssl prints, and the whole openssl line', () => {
    const colon = formatFingerprint(ABC);
    expect(normalizeFingerprint(colon)).toBe(ABC);
    expect(normalizeFingerprint(colon.toLowerCase())).toBe(ABC);
    expect(normalizeFingerprint(`sha256 Fingerprint=${colon}\n`)).toBe(ABC);
  });

  it.each([
    ['empty', ''],
    ['63 digits', ABC.slice(1)],
    ['65 digits', `${ABC}0`],
    ['non-hex', `${ABC.slice(1)}g`],
    ['inner space', `${ABC.slice(0, 10)} ${ABC.slice(10)}`],
    ['base64', Buffer.from(ABC, 'hex').toString('base64')],
    ['very long', ':'.repeat(200) + ABC],
  ])('refuses %s', (_name, input) => {
    expect(normalizeFingerprint(input)).toBeNull();
  });
});

describe('formatFingerprint', () => {
  it('gives 32 uppercase colon-separated pairs', () => {
    const colon = formatFingerprint(ABC);
    expect(colon).toMatch(/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/);
    expect(colon.startsWith('BA:78:16:BF')).toBe(true);
  });

  it('throws on something that is not a fingerprint', () => {
    expect(() => formatFingerprint('nope')).toThrow(TypeError);
  });
});
