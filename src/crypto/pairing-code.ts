/** @module The commit–reveal pairing code (PROTOCOL.md "The pairing code"): commitment, code derivation, and comparing codes typed by operators. */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.js';

export const NONCE_BYTES = 32;
const LABEL = Buffer.from('terminal-pairing-v1', 'ascii');
const SEPARATOR = Buffer.from([0]);
const HEX64 = /^[0-9a-f]{64}$/;

export interface PairingCodeInput {
  serverNonce: Uint8Array;
  terminalNonce: Uint8Array;
  serial: string;
  /** Terminal certificate fingerprint, lowercase hex. */
  tfp: string;
  /** Server certificate fingerprint, lowercase hex. */
  sfp: string;
}

/** base64 SHA-256 of the terminal's nonce: what the terminal sends before it sees the server's nonce. */
export function commitmentOf(terminalNonce: Uint8Array): string {
  return createHash('sha256').update(terminalNonce).digest('base64');
}

function fingerprintBytes(hex: string, what: string): Buffer {
  if (!HEX64.test(hex)) throw new AppError('invalid_field', `${what} must be 64 lowercase hex digits`);
  return Buffer.from(hex, 'hex');
}

/** The 12-digit code both sides show, as `123-456-789-012`. Throws `invalid_field` on inputs the protocol rules out. */
export function pairingCode(input: PairingCodeInput): string {
  if (input.serverNonce.length !== NONCE_BYTES || input.terminalNonce.length !== NONCE_BYTES) {
    throw new AppError('invalid_field', 'pairing nonces must be 32 bytes');
  }
  // A NUL inside the serial would make the message ambiguous.
  if (input.serial.length === 0 || input.serial.includes('\u0000')) throw new AppError('invalid_field', 'serial is not usable');
  const mac = createHmac('sha256', Buffer.concat([input.serverNonce, input.terminalNonce]))
    .update(LABEL)
    .update(SEPARATOR)
    .update(Buffer.from(input.serial, 'utf8'))
    .update(SEPARATOR)
    .update(fingerprintBytes(input.tfp, 'tfp'))
    .update(fingerprintBytes(input.sfp, 'sfp'))
    .digest();
  const n = mac.readUIntBE(0, 5) % 1_000_000_000_000;
  return groups(n.toString().padStart(12, '0'));
}

function groups(digits: string): string {
  return `${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6, 9)}-${digits.slice(9, 12)}`;
}

/** Operators type codes loosely ("123 456 789012"); returns the canonical `ddd-ddd-ddd-ddd` or null. */
export function normalizeCode(input: string): string | null {
  if (typeof input !== 'string' || input.length > 64) return null;
  const digits = input.replace(/[\s-]/g, '');
  return /^[0-9]{12}$/.test(digits) ? groups(digits) : null;
}

/** Constant-time comparison of two codes after normalizing; false if either is not a code. */
export function codesEqual(a: string, b: string): boolean {
  const left = normalizeCode(a);
  const right = normalizeCode(b);
  if (left === null || right === null) return false;
  // Both are exactly 15 ASCII bytes here, so timingSafeEqual's equal-length rule holds.
  return timingSafeEqual(Buffer.from(left, 'ascii'), Buffer.from(right, 'ascii'));
}
