/** @module Operator 2FA: RFC 6238 TOTP (SHA-1, 6 digits, 30 s) over otplib, reporting the matched time step so a code is accepted once. */
import { generate, generateSecret, generateURI, verify } from 'otplib';

const PERIOD_SEC = 30;
/** ±1 step: authenticator clocks drift, and people type slowly. */
const TOLERANCE_SEC = PERIOD_SEC;

/** `malformed`: not six digits, so no clock or app could make it pass (a digit dropped in typing, say). */
export type TotpVerdict = { ok: true; step: number } | { ok: false; malformed: boolean };

/** The six digits of a code as typed (spaces dropped: apps show `123 456`), or null when it is not six digits. */
export function totpDigits(code: unknown): string | null {
  const token = typeof code === 'string' ? code.replace(/\s/g, '') : '';
  return /^[0-9]{6}$/.test(token) ? token : null;
}

/** A fresh base32 secret of 20 random bytes (RFC 4226's recommended 160 bits). */
export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/** The `otpauth://totp/…` URI an authenticator app scans. */
export function totpUri(user: string, secret: string, issuer: string): string {
  return generateURI({ issuer, label: user, secret, algorithm: 'sha1', digits: 6, period: PERIOD_SEC });
}

/** The code for `nowMs` (default: now). */
export function totpCode(secret: string, nowMs: number = Date.now()): Promise<string> {
  return generate({ secret, epoch: Math.floor(nowMs / 1000), algorithm: 'sha1', digits: 6, period: PERIOD_SEC });
}

/**
 * Checks a code within ±1 step of `nowMs`. On success returns the RFC 6238 time step that
 * matched: the caller MUST refuse a later code whose step is not greater than the last used one.
 */
export async function verifyTotp(secret: string, code: string, nowMs: number = Date.now()): Promise<TotpVerdict> {
  const token = totpDigits(code);
  if (token === null) return { ok: false, malformed: true };
  try {
    const result = await verify({
      secret,
      token,
      epoch: Math.floor(nowMs / 1000),
      epochTolerance: TOLERANCE_SEC,
      algorithm: 'sha1',
      digits: 6,
      period: PERIOD_SEC,
    });
    // The functional API's result type also covers HOTP, which has no time step.
    return result.valid && 'timeStep' in result ? { ok: true, step: result.timeStep } : { ok: false, malformed: false };
  } catch {
    // otplib throws on a malformed or too-short secret: that is a failed check, not a crash.
    return { ok: false, malformed: false };
  }
}
