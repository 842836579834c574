/** @module Encryption of secret fields at rest (operators' TOTP secrets): AES-256-GCM under a key file beside the store, bound to the record it belongs to. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import { writeFileDurably } from '../durable-file.js';

const PREFIX = 'enc:v1:';

/**
 * The key lives in `<dataDir>/secrets.key` (0600), outside the LMDB files: a copy of the store
 * alone (a backup, a support bundle) does not reveal the secrets.
 *
 * Created whole or not at all (writeFileDurably: a temporary file linked into place), so a crash or a full disk
 * during the first start leaves no key rather than a short one that every later start refuses. Linked, not renamed:
 * `users add` may open the store while `serve` starts, and the second to come must read the first one's key, not
 * replace it.
 */
export function loadOrCreateFieldKey(dataDir: string, holdsSealedFields: () => boolean): Buffer {
  const file = path.join(dataDir, 'secrets.key');
  // A new key cannot open what the lost one sealed: every operator with 2FA would be locked out, without a word.
  if (!fs.existsSync(file) && holdsSealedFields()) {
    throw new AppError('not_found', `${file} is missing, but the store holds operators' TOTP secrets sealed with it: put back the copy of secrets.key kept apart from the backups (pairing-server backup leaves it out; docs/ADMIN-OPS.md, "Backing up the server")`);
  }
  if (!fs.existsSync(file)) writeFileDurably(file, crypto.randomBytes(32), 0o600, { replace: false });
  const key = fs.readFileSync(file);
  if (key.length !== 32) {
    // Left by a server older than this whose first write was cut short (then nothing was sealed with it: every start
    // refused it), or damaged since. Not replaced here: two processes doing so at once could each keep their own.
    const fix = holdsSealedFields() ? 'put back the copy of secrets.key kept apart from the backups' : 'the store holds nothing sealed with it: remove it and start again';
    throw new Error(`${file} is damaged: expected 32 bytes, found ${key.length}: ${fix}`);
  }
  return key;
}

/** `context` (e.g. the user name) is authenticated, so a sealed value cannot be moved to another record. */
export function sealField(key: Buffer, plaintext: string, context: string): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

/** IV, then the full 16-byte tag: GCM would check a tag cut to as few as 4 bytes, which one in 2^32 forgeries passes. */
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function openField(key: Buffer, sealed: string, context: string): string {
  if (!sealed.startsWith(PREFIX)) throw new Error('not a sealed field');
  const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
  // A value shorter than IV and tag would hand setAuthTag a short tag, and an empty body would open as "".
  if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('a sealed field too short to hold its tag');
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
}
