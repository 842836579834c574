/** @module Operator accounts: creation with a memory-hard password hash, TOTP enrolment, and login checks that accept each TOTP code once. */
import QRCode from 'qrcode';
import { AppError } from '../errors.js';
import { hashPassword, verifyPassword } from '../crypto/password.js';
import { newTotpSecret, totpUri, verifyTotp } from '../crypto/totp.js';
import type { EnrolmentCodeRecord, OperatorRecord, OperatorRole } from '../store/records.js';
import { enrolmentCodeDigits, enrolmentCodeMatches, newEnrolmentCode } from './enrolment-code.js';
import { openField, sealField } from '../store/field-crypto.js';
import type { Store } from '../store/store.js';

export const TOTP_ISSUER = 'Terminal Pairing Server';
export const USER_PATTERN = /^[a-z0-9][a-z0-9._-]{0,31}$/;

/**
 * The operator a login named, or null when it named none: a password typed into the name field (`hunter2hunter2` is a
 * possible user name) must not be written into the log and the audit log, which keeps every entry. A failed login is
 * audited under it (dispatch.ts). Which names exist is no secret to this entry's readers: operators list them.
 */
export function nameTried(store: Store, user: unknown): string | null {
  return typeof user === 'string' && USER_PATTERN.test(user) && store.operators.get(user) !== undefined ? user : null;
}

export interface CreatedOperator {
  user: string;
  /** base32; shown once to enrol an authenticator, null for a user created without 2FA. */
  totpSecret: string | null;
  otpauthUri: string | null;
  /** For a user created without 2FA: the code they enrol with (shown once), and until when it works. */
  enrolmentCode: string | null;
  enrolmentCodeExpiresAt: string | null;
}

/** The secret, or else the enrolment code, an account gets when it is created or its 2FA is reset; shown once. */
export function secondFactorFor(key: Buffer, name: string, with2fa: boolean, now: number): {
  shown: Omit<CreatedOperator, 'user'>; totpSecret: string | null; enrolmentCode: EnrolmentCodeRecord | null;
} {
  if (with2fa) {
    const totpSecret = newTotpSecret();
    return { shown: { totpSecret, otpauthUri: totpUri(name, totpSecret, TOTP_ISSUER), enrolmentCode: null, enrolmentCodeExpiresAt: null }, totpSecret, enrolmentCode: null };
  }
  const { code, record } = newEnrolmentCode(key, name, now);
  return {
    shown: { totpSecret: null, otpauthUri: null, enrolmentCode: code, enrolmentCodeExpiresAt: new Date(record.expiresAt).toISOString() },
    totpSecret: null, enrolmentCode: record,
  };
}

/** A fixed hash to verify against when the user does not exist, so timing does not tell which part failed. */
let decoyHash: Promise<string> | null = null;

/** Whether `user` may do what 2FA guards: the account exists and has TOTP enrolled. */
export const hasTwoFactor = (store: Store, user: string): boolean => store.operators.get(user)?.totpSecret != null;

/** Records written before `role` existed lack it: they are operators, as every account was then. */
export const roleOf = (record: Pick<OperatorRecord, 'role'>): OperatorRole => record.role ?? 'operator';

/** Records written before `disabledAt` existed lack it: they are enabled. */
export const isDisabled = (record: OperatorRecord): boolean => record.disabledAt != null;

/**
 * Whether the account as stored now is still the one a login checked: not disabled, the same password and TOTP secret.
 * `users passwd|disable|reset-2fa` may run (in another process) while a login's hash runs.
 */
export const stillAsChecked = (latest: OperatorRecord | undefined, checked: OperatorRecord): latest is OperatorRecord =>
  latest !== undefined && !isDisabled(latest) && latest.passwordHash === checked.passwordHash && latest.totpSecret === checked.totpSecret;

/** The rule for every password an operator gets (`users add`, `users passwd`). */
export function checkPasswordRule(password: string): void {
  if (password.length < 12 || password.length > 1024) throw new AppError('invalid_field', 'password: 12 to 1024 characters');
}

/** Not audited here: the caller audits the outcome, refusals included (server/users-cli.ts, like dispatch.ts for ops). */
export async function createOperator(store: Store, name: string, password: string, opts: { with2fa: boolean; by: string; role?: OperatorRole }): Promise<CreatedOperator & { role: OperatorRole }> {
  if (!USER_PATTERN.test(name)) throw new AppError('invalid_field', 'user: 1-32 characters of a-z 0-9 . _ - starting with a letter or digit');
  checkPasswordRule(password);
  const now = Date.now();
  const factor = secondFactorFor(store.fieldKey, name, opts.with2fa, now);
  const record: OperatorRecord = {
    name, passwordHash: await hashPassword(password), totpSecret: factor.totpSecret && sealField(store.fieldKey, factor.totpSecret, name), pendingTotpSecret: null,
    lastTotpStep: 0, createdAt: now, createdBy: opts.by, disabledAt: null, enrolmentCode: factor.enrolmentCode,
    role: opts.role ?? 'operator',
  };
  const created = await store.durable(store.operators.ifNoExists(name, () => store.operators.put(name, record)));
  if (!created) throw new AppError('already_exists', `operator ${name} already exists`);
  return { user: name, role: record.role!, ...factor.shown };
}

function totpRefusal(verdict: { malformed: boolean }): AppError {
  return new AppError('totp_required', verdict.malformed ? 'a TOTP code is the 6 digits the authenticator app shows' : 'the TOTP code is wrong or expired');
}

/**
 * Checks password then TOTP. A wrong user or password, or a disabled user, is `login_failed` either way; a 2FA user
 * without a valid, unused code is `totp_required`. The TOTP step is consumed atomically so a code works once.
 */
export async function checkLogin(
  store: Store, name: string, password: string, totp: string | undefined, now = Date.now(),
  /** Runs the hash in its turn (LoginThrottle.checkPassword): scrypt shares libuv's threads with the store's commits. */
  turn: (check: () => Promise<boolean>) => Promise<boolean> = (check) => check(),
): Promise<OperatorRecord> {
  const record = store.operators.get(name);
  // An unknown user costs a hash too: the time of the answer must not tell which users exist.
  const passwordOk = await turn(async () => {
    decoyHash ??= hashPassword('decoy password for unknown users');
    return verifyPassword(password, record?.passwordHash ?? (await decoyHash));
  });
  // Disabled after the hash, as a wrong password: neither the answer nor its time tells a disabled account apart.
  if (!record || !passwordOk || isDisabled(record)) throw new AppError('login_failed', 'wrong user or password');
  if (record.totpSecret !== null) {
    if (!totp) throw new AppError('totp_required', 'this user has 2FA: a TOTP code is required');
    const verdict = await verifyTotp(openField(store.fieldKey, record.totpSecret, name), totp, now);
    if (!verdict.ok) throw totpRefusal(verdict);
    await consumeTotpStep(store, name, verdict.step, record.totpSecret);
  }
  // An account changed while the hash ran: the old password or secret no longer logs in.
  const latest = store.operators.get(name);
  if (!stillAsChecked(latest, record)) throw new AppError('login_failed', 'wrong user or password');
  return latest;
}

/**
 * Records `step` as used; refuses it when it (or a later one) was used already, or when the secret it was checked
 * against (`sealedSecret`, as stored) has been replaced since (`users reset-2fa`). Atomic across processes.
 */
export async function consumeTotpStep(store: Store, name: string, step: number, sealedSecret: string): Promise<void> {
  const verdict = await store.atomically(() => {
    const latest = store.operators.get(name);
    if (!latest || latest.totpSecret !== sealedSecret) return 'replaced';
    if (step <= latest.lastTotpStep) return 'used';
    store.operators.putSync(name, { ...latest, lastTotpStep: step });
    return 'ok';
  });
  if (verdict === 'replaced') throw new AppError('login_failed', 'wrong user or password');
  if (verdict === 'used') throw new AppError('totp_required', 'this TOTP code was already used: wait for the next one');
}

/**
 * Ends the operator's sessions, except `keepTokenHash`'s; returns how many. Inside `atomically`, beside the change to
 * the account that makes them void (the keys are read first: the range reads the transaction it would otherwise be changing).
 */
export function endSessionsSync(store: Store, name: string, keepTokenHash?: string): number {
  const tokens = [...store.sessions.getRange().filter(({ key, value }) => value.user === name && key !== keepTokenHash).map(({ key }) => key)];
  for (const token of tokens) store.sessions.removeSync(token);
  return tokens.length;
}

/** Inside a write transaction: the account is disabled, or the session that asked (when one did) has ended meanwhile. */
const askerGone = (store: Store, latest: OperatorRecord, tokenHash: string | undefined): boolean =>
  isDisabled(latest) || (tokenHash !== undefined && store.sessions.get(tokenHash) === undefined);

/**
 * Starts enrolment for a user without 2FA, with the enrolment code an administrator gave them (enrolment-code.ts): the
 * secret is kept pending until a TOTP code confirms it. A wrong enrolment code spends one of its tries, in the same
 * transaction; the last one voids it. `qrSvg` is the URI as a QR code for the web page, drawn here so the page needs
 * no QR code of its own.
 *
 * The pending secret is written onto the record as it is inside the write transaction, never onto one read before:
 * `users disable|passwd|reset-2fa` rewrite the record from another process, and a stale copy written back would undo
 * them (the account enabled again, the old password or no 2FA back). Refused when, in that transaction, the account is
 * gone or disabled, has 2FA, or the session that asked (`sessionTokenHash`) has ended: those commands end the sessions.
 */
export async function beginTotpEnrolment(
  store: Store, name: string, enrolmentCode: unknown, sessionTokenHash?: string, now = Date.now(),
): Promise<{ totpSecret: string; otpauthUri: string; qrSvg: string }> {
  const digits = enrolmentCodeDigits(enrolmentCode);
  if (digits === null) throw new AppError('invalid_field', 'code: the 12-digit enrolment code your administrator gave you with the password, e.g. 1234-5678-9012');
  const secret = newTotpSecret();
  const sealed = sealField(store.fieldKey, secret, name);
  const verdict = await store.atomically(() => {
    const latest = store.operators.get(name);
    if (!latest) return { is: 'not_found' } as const;
    if (askerGone(store, latest, sessionTokenHash)) return { is: 'ended' } as const;
    if (latest.totpSecret !== null) return { is: 'enrolled' } as const;
    const issued = latest.enrolmentCode;
    if (!issued || issued.expiresAt <= now) return { is: 'no_code', expired: issued != null } as const;
    if (!enrolmentCodeMatches(store.fieldKey, name, issued, digits)) {
      const triesLeft = issued.triesLeft - 1;
      store.operators.putSync(name, { ...latest, enrolmentCode: triesLeft > 0 ? { ...issued, triesLeft } : null });
      return { is: 'mismatch', triesLeft } as const;
    }
    store.operators.putSync(name, { ...latest, pendingTotpSecret: sealed });
    return { is: 'ok' } as const;
  });
  const askAdmin = `an administrator issues a new one: pairing-server users reset-2fa ${name} --no-2fa`;
  if (verdict.is === 'not_found') throw new AppError('not_found', `no operator ${name}`);
  if (verdict.is === 'ended') throw new AppError('session_expired', 'the session is unknown or expired: log in again');
  if (verdict.is === 'enrolled') throw new AppError('invalid_state', '2FA is already enrolled for this user (a lost authenticator: an administrator runs pairing-server users reset-2fa NAME)');
  if (verdict.is === 'no_code') throw new AppError('invalid_state', `${verdict.expired ? 'the enrolment code has expired' : `${name} has no enrolment code`}: ${askAdmin}`);
  if (verdict.is === 'mismatch') {
    throw new AppError('code_mismatch', verdict.triesLeft > 0
      ? `wrong enrolment code: ${verdict.triesLeft} ${verdict.triesLeft === 1 ? 'try' : 'tries'} left`
      : `wrong enrolment code, the last try: the code no longer works; ${askAdmin}`, { attemptsLeft: verdict.triesLeft });
  }
  const otpauthUri = totpUri(name, secret, TOTP_ISSUER);
  return { totpSecret: secret, otpauthUri, qrSvg: await QRCode.toString(otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 }) };
}

/**
 * Confirms the pending secret with a code from it. The operator's OTHER sessions end in the same transaction (as
 * `users passwd|reset-2fa` end them): approving needs 2FA, and a session that never showed a code (one a leaked password
 * opened, say) must not gain that right because the operator enrolled elsewhere. `keepTokenHash`: the confirming
 * session, which has just shown a code and stays; when it no longer exists the confirm is refused (`session_expired`).
 * Resolves with how many sessions ended.
 */
export async function confirmTotpEnrolment(store: Store, name: string, code: string, now = Date.now(), keepTokenHash?: string): Promise<{ sessionsEnded: number }> {
  const record = store.operators.get(name);
  if (!record?.pendingTotpSecret) throw new AppError('invalid_state', 'no 2FA enrolment in progress: start with cas totp enroll --code ENROLMENT_CODE (or Set up 2FA on the web page)');
  const verdict = await verifyTotp(openField(store.fieldKey, record.pendingTotpSecret, name), code, now);
  if (!verdict.ok) throw totpRefusal(verdict);
  const secret = record.pendingTotpSecret;
  const confirmed = await store.atomically(() => {
    const latest = store.operators.get(name);
    // `users reset-2fa` clears a pending enrolment: the secret it replaced MUST NOT come back through a late confirm.
    if (!latest || latest.pendingTotpSecret !== secret) return 'replaced';
    if (askerGone(store, latest, keepTokenHash)) return 'ended';
    // The enrolment code is spent: it enrolled one authenticator, and a second needs an administrator.
    store.operators.putSync(name, { ...latest, totpSecret: secret, pendingTotpSecret: null, lastTotpStep: verdict.step, enrolmentCode: null });
    return endSessionsSync(store, name, keepTokenHash);
  });
  if (confirmed === 'replaced') throw new AppError('invalid_state', 'the 2FA enrolment was replaced meanwhile: start again with cas totp enroll --code ENROLMENT_CODE (or Set up 2FA on the web page)');
  if (confirmed === 'ended') throw new AppError('session_expired', 'the session is unknown or expired: log in again');
  return { sessionsEnded: confirmed };
}
