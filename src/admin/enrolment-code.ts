/**
 * @module The one-time code an administrator hands an operator created without 2FA (`users add --no-2fa`,
 * `users reset-2fa --no-2fa`). Enrolling an authenticator needs it besides the session: otherwise a leaked password of
 * such an account would be enough to enrol the thief's authenticator, and with it every right 2FA guards (approving
 * pairings, payout addresses). Kept only as an HMAC under the store's field key (on the operator's record), for a week,
 * for five tries: 12 digits are 10^12 guesses, minutes for a GPU against a plain hash in a copy of the store, and a
 * copy from `pairing-server backup` holds no field key.
 */
import crypto from 'node:crypto';
import type { EnrolmentCodeRecord } from '../store/records.js';

export const ENROLMENT_CODE_TTL_MS = 7 * 24 * 3600_000;
export const ENROLMENT_CODE_TRIES = 5;

/** Bound to the operator too: a record copied onto another account does not carry its code along. */
const mac = (key: Buffer, user: string, digits: string): Buffer => crypto.createHmac('sha256', key).update(`enrolment-code\n${user}\n${digits}`).digest();

/** A fresh code, `1234-5678-9012` (40 bits: five tries cannot find it), and what the store keeps of it. */
export function newEnrolmentCode(key: Buffer, user: string, now: number): { code: string; record: EnrolmentCodeRecord } {
  const digits = Array.from({ length: 12 }, () => crypto.randomInt(10)).join('');
  return {
    code: digits.match(/.{4}/g)!.join('-'),
    record: { hmac: mac(key, user, digits).toString('hex'), expiresAt: now + ENROLMENT_CODE_TTL_MS, triesLeft: ENROLMENT_CODE_TRIES },
  };
}

/** The 12 digits of a code as typed (spaces and dashes dropped), or null when it cannot be one. */
export function enrolmentCodeDigits(input: unknown): string | null {
  const digits = typeof input === 'string' ? input.replace(/[\s-]/g, '') : '';
  return /^[0-9]{12}$/.test(digits) ? digits : null;
}

/** Compared as MACs in constant time. */
export function enrolmentCodeMatches(key: Buffer, user: string, record: EnrolmentCodeRecord, digits: string): boolean {
  const stored = Buffer.from(record.hmac, 'hex');
  const given = mac(key, user, digits);
  return stored.length === given.length && crypto.timingSafeEqual(stored, given);
}
