/**
 * @module Changes to an operator's account made on the server (`pairing-server users disable|enable|reset-2fa|passwd|role`):
 * each rewrites the latest record and ends the operator's sessions in one transaction, so the running server's next
 * check of their tokens answers `session_expired`. Not audited here: the caller audits the outcome (users-cli.ts).
 */
import { AppError } from '../errors.js';
import { hashPassword } from '../crypto/password.js';
import type { OperatorRecord, OperatorRole } from '../store/records.js';
import { sealField } from '../store/field-crypto.js';
import type { Store } from '../store/store.js';
import { checkPasswordRule, endSessionsSync, isDisabled, roleOf, secondFactorFor, type CreatedOperator } from './operators.js';

export interface AccountChange {
  user: string;
  /** Sessions of the operator that ended with the change. */
  sessionsEnded: number;
}

/** An operator as `users list` shows them. */
export interface OperatorSummary {
  user: string;
  has2fa: boolean;
  /** `operator` for accounts created before roles. */
  role: OperatorRole;
  createdAt: string;
  disabled: boolean;
  disabledAt: string | null;
  /** Until when the operator can enrol 2FA with the code they were given; null when they have none that works. */
  enrolmentCodeUntil: string | null;
}

const iso = (ms: number | null | undefined): string | null => (ms == null ? null : new Date(ms).toISOString());

export function listOperators(store: Store, now = Date.now()): OperatorSummary[] {
  return [...store.operators.getRange().map(({ value }) => ({
    user: value.name, has2fa: value.totpSecret !== null, role: roleOf(value), createdAt: iso(value.createdAt)!, disabled: isDisabled(value), disabledAt: iso(value.disabledAt),
    enrolmentCodeUntil: value.enrolmentCode && value.enrolmentCode.expiresAt > now ? iso(value.enrolmentCode.expiresAt) : null,
  }))];
}

const noOperator = (name: string): AppError => new AppError('not_found', `no operator ${name.slice(0, 64)} (pairing-server users list names them)`);

/**
 * Applies `update` to the record as it is inside the write transaction, never to one read before: a login consuming a
 * TOTP step meanwhile (consumeTotpStep) can neither be lost nor write an old secret back. `update` returning null
 * changes nothing, sessions included. `before`: the record `update` was given.
 */
async function change(store: Store, name: string, update: (latest: OperatorRecord) => OperatorRecord | null): Promise<{ changed: AccountChange; before: OperatorRecord }> {
  return store.atomically(() => {
    const before = store.operators.get(name);
    if (!before) throw noOperator(name);
    const after = update(before);
    if (after === null) return { changed: { user: name, sessionsEnded: 0 }, before };
    store.operators.putSync(name, after);
    return { changed: { user: name, sessionsEnded: endSessionsSync(store, name) }, before };
  });
}

/**
 * Inside the write transaction of a change that takes `name`'s power to approve (disable, demote to viewer): refused
 * (`invalid_state`) unless `force` when they are the last who has it, an enabled operator (role) with 2FA: nobody left
 * could approve a pairing. `becomes`: what they are made, for the message.
 */
function keepAnApprover(store: Store, name: string, force: boolean, becomes: string): void {
  const approvers = [...store.operators.getRange().filter(({ value }) => value.totpSecret !== null && !isDisabled(value) && roleOf(value) === 'operator')];
  if (!force && approvers.length === 1 && approvers[0]!.key === name) {
    throw new AppError('invalid_state', `${name} is the last enabled operator with 2FA: ${becomes}, nobody could approve a pairing. Give another operator 2FA first (users add, users reset-2fa, or their cas totp enroll), or pass --force`);
  }
}

/**
 * Refused (`invalid_state`) for the last enabled operator with 2FA unless `force`: nobody left could approve a
 * pairing. Disabling a disabled operator keeps the first `disabledAt`, and says since when (`disabledSince`).
 */
export async function disableOperator(store: Store, name: string, opts: { force: boolean }, now = Date.now()): Promise<AccountChange & { disabledSince: number | null }> {
  const { changed, before } = await change(store, name, (latest) => {
    keepAnApprover(store, name, opts.force, 'without them');
    return { ...latest, disabledAt: latest.disabledAt ?? now };
  });
  return { ...changed, disabledSince: before.disabledAt ?? null };
}

/**
 * Also ends sessions: one a login wrote while the operator was being disabled must not come back to life. An operator
 * who was not disabled is left as they are (`wasDisabled: false`): enabling them must not log them out.
 */
export async function enableOperator(store: Store, name: string): Promise<AccountChange & { wasDisabled: boolean }> {
  const { changed, before } = await change(store, name, (latest) => (isDisabled(latest) ? { ...latest, disabledAt: null } : null));
  return { ...changed, wasDisabled: isDisabled(before) };
}

/**
 * A new TOTP secret (shown once, as `users add` does), or with `with2fa: false` none and a new enrolment code (the
 * operator enrols later with it). The old secret's codes and enrolment code stop working; a pending enrolment is
 * dropped; step 0, since no code of the new secret was used.
 */
export async function resetOperatorTotp(store: Store, name: string, opts: { with2fa: boolean }, now = Date.now()): Promise<CreatedOperator & AccountChange> {
  const factor = secondFactorFor(store.fieldKey, name, opts.with2fa, now);
  const sealed = factor.totpSecret && sealField(store.fieldKey, factor.totpSecret, name);
  const { changed } = await change(store, name, (latest) => ({ ...latest, totpSecret: sealed, pendingTotpSecret: null, lastTotpStep: 0, enrolmentCode: factor.enrolmentCode }));
  return { ...changed, ...factor.shown };
}

/**
 * Gives the operator `role`. Their sessions end, as with every change to what an account may do: the role is read from
 * the store on every op (dispatch.ts), so a live session could not keep a power it lost anyway, but a page or `cas watch`
 * opened under the old role would go on offering the buttons it had (or lack the ones it gained) until a reload. The
 * same role again changes nothing, sessions included (`previous` says so). Making the last enabled operator with 2FA a
 * viewer is refused unless `force`, as disabling them is.
 */
export async function setOperatorRole(store: Store, name: string, role: OperatorRole, opts: { force: boolean }): Promise<AccountChange & { role: OperatorRole; previous: OperatorRole }> {
  const { changed, before } = await change(store, name, (latest) => {
    if (roleOf(latest) === role) return null;
    if (role === 'viewer') keepAnApprover(store, name, opts.force, 'made a viewer');
    return { ...latest, role };
  });
  return { ...changed, role, previous: roleOf(before) };
}

export async function setOperatorPassword(store: Store, name: string, password: string): Promise<AccountChange> {
  checkPasswordRule(password);
  // Before the hash: an unknown name is told at once, not after a second of scrypt.
  if (!store.operators.get(name)) throw noOperator(name);
  const passwordHash = await hashPassword(password);
  return (await change(store, name, (latest) => ({ ...latest, passwordHash }))).changed;
}
