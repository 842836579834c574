/** @module Operator password hashes: scrypt in a self-describing string `scrypt$15$8$1$<salt>$<hash>`, verified in constant time. */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { SCRYPT_DEFAULTS, scrypt, type ScryptParams } from './scrypt.js';

const SALT_BYTES = 16;
const KEY_BYTES = 32;
const STORED = /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/** Parameters a stored hash may name: upgrades stay verifiable, a tampered record cannot demand gigabytes. */
function acceptable(params: ScryptParams): boolean {
  return params.logN >= 10 && params.logN <= 17 && params.r >= 1 && params.r <= 8 && params.p >= 1 && params.p <= 4;
}

function secretOf(pw: string): Buffer {
  // NFC, so the same password typed on two keyboards hashes alike.
  return Buffer.from(pw.normalize('NFC'), 'utf8');
}

export async function hashPassword(pw: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const { logN, r, p } = SCRYPT_DEFAULTS;
  const hash = await scrypt(secretOf(pw), salt, KEY_BYTES, SCRYPT_DEFAULTS);
  return `scrypt$${logN}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** True only when `pw` matches `stored`; false for a malformed or unacceptable stored string. */
export async function verifyPassword(pw: string, stored: string): Promise<boolean> {
  const match = typeof stored === 'string' && typeof pw === 'string' ? STORED.exec(stored) : null;
  if (!match) return false;
  const params: ScryptParams = { logN: Number(match[1]), r: Number(match[2]), p: Number(match[3]) };
  const salt = Buffer.from(match[4]!, 'base64');
  const expected = Buffer.from(match[5]!, 'base64');
  if (!acceptable(params) || salt.length < 8 || expected.length < 16 || expected.length > 64) return false;
  const actual = await scrypt(secretOf(pw), salt, expected.length, params);
  return timingSafeEqual(actual, expected);
}
