/** @module Passphrase-sealed blobs (terminal restore points): scrypt-derived key, AES-256-GCM, versioned format. */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fail, ok, type Result } from '../errors.js';
import { SCRYPT_DEFAULTS, scrypt } from './scrypt.js';

/**
 * Format v1: "TPSB" | 0x01 | salt (16) | iv (12) | ciphertext | tag (16).
 * Version 1 fixes scrypt at N = 2^15, r = 8, p = 1, so a crafted file cannot ask for more memory.
 * The header (magic through iv) is authenticated as associated data.
 */
const MAGIC = Buffer.from('TPSB', 'ascii');
const VERSION = 1;
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = MAGIC.length + 1 + SALT_BYTES + IV_BYTES;

function keyFor(passphrase: string, salt: Buffer): Promise<Buffer> {
  return scrypt(Buffer.from(passphrase.normalize('NFC'), 'utf8'), salt, 32, SCRYPT_DEFAULTS);
}

export async function sealWithPassphrase(plaintext: Buffer, passphrase: string): Promise<Buffer> {
  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(IV_BYTES);
  const header = Buffer.concat([MAGIC, Buffer.from([VERSION]), salt, iv]);
  const cipher = createCipheriv('aes-256-gcm', await keyFor(passphrase, salt), iv);
  cipher.setAAD(header);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, ciphertext, cipher.getAuthTag()]);
}

/** `bad_request` for something that is not a v1 box; `unauthenticated` for a wrong passphrase or tampered box. */
export async function openWithPassphrase(sealed: Buffer, passphrase: string): Promise<Result<Buffer>> {
  if (!Buffer.isBuffer(sealed) || sealed.length < HEADER_BYTES + TAG_BYTES || !sealed.subarray(0, MAGIC.length).equals(MAGIC)) {
    return fail('bad_request', 'not a sealed restore point');
  }
  if (sealed[MAGIC.length] !== VERSION) return fail('bad_request', 'unsupported restore point version');
  const header = sealed.subarray(0, HEADER_BYTES);
  const salt = sealed.subarray(MAGIC.length + 1, MAGIC.length + 1 + SALT_BYTES);
  const iv = sealed.subarray(MAGIC.length + 1 + SALT_BYTES, HEADER_BYTES);
  const ciphertext = sealed.subarray(HEADER_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', await keyFor(passphrase, salt), iv);
  decipher.setAAD(header);
  decipher.setAuthTag(tag);
  try {
    return ok(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
  } catch {
    return fail('unauthenticated', 'wrong passphrase, or the restore point was altered');
  }
}
