/** @module Unit tests: passphrase-sealed restore points. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openWithPassphrase, sealWithPassphrase } from '../../../src/crypto/secret-box.js';

const codeOf = (result: { ok: boolean; code?: string }) => (result.ok ? 'ok' : result.code);

describe('sealWithPassphrase / openWithPassphrase', () => {
  it('round-trips, and never leaves the plaintext visible', async () => {
    const plaintext = Buffer.from('-----BEGIN PRIVATE KEY-----\nsecret key material\n');
    const sealed = await sealWithPassphrase(plaintext, 'restore me');
    expect(sealed.includes(plaintext.subarray(0, 16))).toBe(false);
    const opened = await openWithPassphrase(sealed, 'restore me');
    expect(opened.ok && opened.value.equals(plaintext)).toBe(true);
  });

  it('round-trips an empty plaintext', async () => {
    const opened = await openWithPassphrase(await sealWithPassphrase(Buffer.alloc(0), 'p'), 'p');
    expect(opened.ok && opened.value.length === 0).toBe(true);
  });

  it('answers unauthenticated for a wrong passphrase or any altered byte', async () => {
    const sealed = await sealWithPassphrase(randomBytes(100), 'right');
    expect(codeOf(await openWithPassphrase(sealed, 'wrong'))).toBe('unauthenticated');
    // salt, iv, ciphertext and tag positions
    for (const index of [6, 25, 40, sealed.length - 1]) {
      const altered = Buffer.from(sealed);
      altered[index]! ^= 0x01;
      expect(codeOf(await openWithPassphrase(altered, 'right'))).toBe('unauthenticated');
    }
  });

  it('answers bad_request for something that is not a v1 box', async () => {
    const sealed = await sealWithPassphrase(Buffer.from('x'), 'p');
    const otherVersion = Buffer.from(sealed);
    otherVersion[4] = 2;
    const otherMagic = Buffer.from(sealed);
    otherMagic[0] = 0;
    for (const input of [Buffer.alloc(0), sealed.subarray(0, 40), otherVersion, otherMagic]) {
      expect(codeOf(await openWithPassphrase(input, 'p'))).toBe('bad_request');
    }
  });
});
