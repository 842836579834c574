/** @module Unit tests: scrypt password hashes. */
import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../../src/crypto/password.js';

describe('hashPassword / verifyPassword', () => {
  it('produces the self-describing format and verifies only the right password', async () => {
    const stored = await hashPassword('correct horse battery staple');
    expect(stored).toMatch(/^scrypt\$15\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(await verifyPassword('correct horse battery staple', stored)).toBe(true);
    expect(await verifyPassword('correct horse battery stapl', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('salts: the same password hashes differently each time', async () => {
    const [a, b] = await Promise.all([hashPassword('pw'), hashPassword('pw')]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('pw', b)).toBe(true);
  });

  it('treats composed and decomposed Unicode alike', async () => {
    const stored = await hashPassword('Gr\u00fc\u00dfe');
    expect(await verifyPassword('Gru\u0308\u00dfe', stored)).toBe(true);
  });

  it('returns false for malformed or tampered stored strings', async () => {
    const stored = await hashPassword('pw');
    const [, , , , salt, hash] = stored.split('$');
    const variants = [
      '',
      'garbage',
      `bcrypt$15$8$1$${salt}$${hash}`,
      `scrypt$30$8$1$${salt}$${hash}`, // would need 128 GiB
      `scrypt$15$8$1$${salt}`,
      `scrypt$15$8$1$${salt}$`,
      `scrypt$15$8$1$${salt}$${hash}$extra`,
      `scrypt$15$8$1$${salt}$${Buffer.alloc(32, 1).toString('base64')}`,
      `scrypt$14$8$1$${salt}$${hash}`, // other cost, same bytes: must not match
    ];
    for (const variant of variants) expect(await verifyPassword('pw', variant)).toBe(false);
  });
});
