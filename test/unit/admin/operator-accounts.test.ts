/**
 * @module Operator account changes on a real store: disable/enable, a new TOTP secret, a new password, a role. Each ends
 * the operator's sessions; a session or a login that raced the change cannot outlive it; records from before
 * `disabledAt` read as enabled, and those from before `role` as operators.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { disableOperator, enableOperator, listOperators, resetOperatorTotp, setOperatorPassword, setOperatorRole } from '../../../src/admin/operator-accounts.js';
import { beginTotpEnrolment, checkLogin, confirmTotpEnrolment, consumeTotpStep, createOperator } from '../../../src/admin/operators.js';
import { Sessions } from '../../../src/admin/sessions.js';
import { totpCode } from '../../../src/crypto/totp.js';
import { AppError } from '../../../src/errors.js';
import type { OperatorRecord } from '../../../src/store/records.js';
import { Store } from '../../../src/store/store.js';
import { SERVER_CLI } from '../../helpers/server-process.js';
import { refusalCode } from '../../helpers/refusal.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'operator-accounts-test-'));
const store = Store.open(dataDir);
const sessions = new Sessions(store, { idleMs: 60 * 60_000, maxAgeMs: 12 * 60 * 60_000 });
const PASSWORD = 'correct horse battery staple';
const NOW = Date.parse('2026-03-01T12:00:10Z');
/** Secrets of the operators of the current test, as `users add` printed them. */
const secrets = new Map<string, string | null>();
/** Enrolment codes of the current test's operators without 2FA, as `users add --no-2fa` printed them. */
const enrolmentCodes = new Map<string, string | null>();

afterAll(async () => {
  await store.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await store.atomically(() => {
    store.operators.clearSync();
    store.sessions.clearSync();
  });
  secrets.clear();
});

async function add(name: string, with2fa = true): Promise<void> {
  const created = await createOperator(store, name, PASSWORD, { with2fa, by: 'test' });
  secrets.set(name, created.totpSecret);
  enrolmentCodes.set(name, created.enrolmentCode);
}

/** A login at NOW + `steps` TOTP steps (each code is accepted once). */
async function login(name: string, opts: { password?: string; secret?: string | null; steps?: number } = {}): Promise<OperatorRecord> {
  const at = NOW + (opts.steps ?? 0) * 30_000;
  const secret = opts.secret === undefined ? secrets.get(name) : opts.secret;
  return checkLogin(store, name, opts.password ?? PASSWORD, secret ? await totpCode(secret, at) : undefined, at);
}

/** A session as a login writes it, for the operator's account as the store holds it now. */
const open = (name: string) => sessions.create(store.operators.get(name)!);

/** A session record as a login racing an account change could have left it, written past Sessions.create's last look. */
async function racedSession(user: string): Promise<{ token: string; session: { tokenHash: string } }> {
  const token = crypto.randomBytes(32).toString('base64url');
  const tokenHash = crypto.createHash('sha256').update(token).digest('hex');
  await store.durable(store.sessions.put(tokenHash, { user, createdAt: Date.now(), lastSeenAt: Date.now(), expiresAt: Date.now() + 3_600_000 }));
  return { token, session: { tokenHash } };
}

describe('users disable / enable', () => {
  it('a disabled operator\'s login is login_failed after the same password hash, and enable lets them in again', async () => {
    await add('alice');
    await add('bob');
    await disableOperator(store, 'bob', { force: false }, NOW);
    let hashes = 0;
    const counted = (check: () => Promise<boolean>): Promise<boolean> => (hashes++, check());
    expect(await refusalCode(checkLogin(store, 'bob', PASSWORD, await totpCode(secrets.get('bob')!, NOW), NOW, counted))).toBe('login_failed');
    // Without a code too: totp_required would tell that the password was right.
    expect(await refusalCode(checkLogin(store, 'bob', PASSWORD, undefined, NOW, counted))).toBe('login_failed');
    expect(await refusalCode(checkLogin(store, 'bob', 'a wrong password!!', undefined, NOW, counted))).toBe('login_failed');
    expect(hashes).toBe(3);
    expect(listOperators(store).find((u) => u.user === 'bob')).toMatchObject({ disabled: true, disabledAt: new Date(NOW).toISOString() });
    await enableOperator(store, 'bob');
    expect((await login('bob', { steps: 1 })).name).toBe('bob');
    expect(listOperators(store).find((u) => u.user === 'bob')).toMatchObject({ disabled: false, disabledAt: null });
  });

  it('ends every session of the operator at once, and only theirs', async () => {
    await add('alice');
    await add('bob');
    const bob = [await open('bob'), await open('bob')];
    const alice = await open('alice');
    expect(await disableOperator(store, 'bob', { force: false })).toEqual({ user: 'bob', sessionsEnded: 2, disabledSince: null });
    for (const { token, session } of bob) {
      expect(sessions.isLive(session.tokenHash)).toBe(false);
      expect(() => sessions.resume(token)).toThrow(expect.objectContaining({ code: 'session_expired' }));
    }
    expect(sessions.check(alice.session.tokenHash).user).toBe('alice');
  });

  it('refuses a session of a disabled or missing operator even when its record is there (a login that raced the disable)', async () => {
    await add('alice');
    await add('bob');
    await disableOperator(store, 'bob', { force: false });
    const late = await racedSession('bob');
    expect(sessions.isLive(late.session.tokenHash)).toBe(false);
    expect(() => sessions.check(late.session.tokenHash)).toThrow(expect.objectContaining({ code: 'session_expired' }));
    expect(() => sessions.resume(late.token)).toThrow(expect.objectContaining({ code: 'session_expired' }));
    const ghost = await racedSession('nobody');
    expect(() => sessions.check(ghost.session.tokenHash)).toThrow(expect.objectContaining({ code: 'session_expired' }));
    // Enable ends the late one too: it must not come back to life.
    expect((await enableOperator(store, 'bob')).sessionsEnded).toBe(1);
  });

  it('enabling an operator who is not disabled changes nothing and ends none of their sessions', async () => {
    await add('bob');
    const held = await open('bob');
    const before = store.operators.get('bob');
    expect(await enableOperator(store, 'bob')).toEqual({ user: 'bob', sessionsEnded: 0, wasDisabled: false });
    expect(sessions.check(held.session.tokenHash).user).toBe('bob');
    expect(store.operators.get('bob')).toEqual(before);
  });

  it('tells a TOTP code that is not six digits from a wrong one', async () => {
    await add('bob');
    const refusal = async (totp: string): Promise<string> => {
      try {
        await checkLogin(store, 'bob', PASSWORD, totp, NOW);
      } catch (error) {
        if (error instanceof AppError) return `${error.code}: ${error.message}`;
        throw error;
      }
      return 'ok';
    };
    expect(await refusal('12345')).toBe('totp_required: a TOTP code is the 6 digits the authenticator app shows');
    expect(await refusal('123 45x')).toBe('totp_required: a TOTP code is the 6 digits the authenticator app shows');
    const near = await Promise.all([-30_000, 0, 30_000].map((d) => totpCode(secrets.get('bob')!, NOW + d)));
    const wrong = ['000000', '111111', '222222', '333333'].find((code) => !near.includes(code))!;
    expect(await refusal(wrong)).toBe('totp_required: the TOTP code is wrong or expired');
  });

  it('refuses to disable the last enabled operator with 2FA unless forced, and changes nothing then', async () => {
    await add('alice');
    await add('carol', false);
    await add('dave');
    await disableOperator(store, 'dave', { force: false });
    const held = await open('alice');
    expect(await refusalCode(disableOperator(store, 'alice', { force: false }))).toBe('invalid_state');
    expect(sessions.isLive(held.session.tokenHash)).toBe(true);
    expect(listOperators(store).find((u) => u.user === 'alice')!.disabled).toBe(false);
    // Operators without 2FA are never the last approver.
    await disableOperator(store, 'carol', { force: false });
    expect(await disableOperator(store, 'alice', { force: true })).toEqual({ user: 'alice', sessionsEnded: 1, disabledSince: null });
    expect(listOperators(store).every((u) => u.disabled)).toBe(true);
  });

  it('keeps the first disabledAt when disabled twice, and answers not_found for an unknown operator', async () => {
    await add('alice');
    await add('bob');
    await disableOperator(store, 'bob', { force: false }, NOW);
    await disableOperator(store, 'bob', { force: false }, NOW + 60_000);
    expect(store.operators.get('bob')!.disabledAt).toBe(NOW);
    const changes = [
      () => disableOperator(store, 'zed', { force: true }), () => enableOperator(store, 'zed'),
      () => resetOperatorTotp(store, 'zed', { with2fa: true }), () => setOperatorPassword(store, 'zed', PASSWORD),
    ];
    for (const change of changes) expect(await refusalCode(change())).toBe('not_found');
    expect(store.operators.get('zed')).toBeUndefined();
  });
});

describe('records from before disabledAt', () => {
  it('read as enabled: login, sessions and the list', async () => {
    await add('old', false);
    const { disabledAt, ...older } = store.operators.get('old')!;
    expect(disabledAt).toBe(null);
    await store.durable(store.operators.put('old', older as OperatorRecord));
    expect('disabledAt' in store.operators.get('old')!).toBe(false);
    expect((await login('old')).name).toBe('old');
    const { session } = await open('old');
    expect(sessions.check(session.tokenHash).user).toBe('old');
    expect(listOperators(store)).toEqual([expect.objectContaining({ user: 'old', disabled: false, disabledAt: null })]);
  });
});

describe('users role', () => {
  it('makes an operator a viewer and back, ending their sessions; the same role again changes nothing', async () => {
    await add('alice');
    await add('bob');
    expect(listOperators(store).map((u) => u.role)).toEqual(['operator', 'operator']);
    const held = await open('bob');
    expect(await setOperatorRole(store, 'bob', 'viewer', { force: false })).toEqual({ user: 'bob', role: 'viewer', previous: 'operator', sessionsEnded: 1 });
    expect(sessions.isLive(held.session.tokenHash)).toBe(false);
    expect(listOperators(store).find((u) => u.user === 'bob')!.role).toBe('viewer');
    const again = await open('bob');
    expect(await setOperatorRole(store, 'bob', 'viewer', { force: false })).toEqual({ user: 'bob', role: 'viewer', previous: 'viewer', sessionsEnded: 0 });
    expect(sessions.isLive(again.session.tokenHash)).toBe(true);
    expect(await setOperatorRole(store, 'bob', 'operator', { force: false })).toMatchObject({ previous: 'viewer', sessionsEnded: 1 });
    expect(await refusalCode(setOperatorRole(store, 'zed', 'viewer', { force: true }))).toBe('not_found');
  });

  it('refuses to make the last enabled operator with 2FA a viewer unless forced; a viewer with 2FA approves nothing', async () => {
    await add('alice');
    await createOperator(store, 'vic', PASSWORD, { with2fa: true, by: 'test', role: 'viewer' });
    expect(await refusalCode(setOperatorRole(store, 'alice', 'viewer', { force: false }))).toBe('invalid_state');
    expect(await refusalCode(disableOperator(store, 'alice', { force: false }))).toBe('invalid_state');
    expect(store.operators.get('alice')!.role).toBe('operator');
    expect(await setOperatorRole(store, 'alice', 'viewer', { force: true })).toMatchObject({ role: 'viewer', previous: 'operator' });
  });

  it('reads a record from before roles as an operator', async () => {
    await add('old');
    const { role, ...older } = store.operators.get('old')!;
    expect(role).toBe('operator');
    await store.durable(store.operators.put('old', older));
    expect('role' in store.operators.get('old')!).toBe(false);
    expect(listOperators(store)).toEqual([expect.objectContaining({ user: 'old', role: 'operator' })]);
    expect(await setOperatorRole(store, 'old', 'operator', { force: false })).toMatchObject({ previous: 'operator', sessionsEnded: 0 });
  });
});

describe('users reset-2fa', () => {
  it('a new secret: the old codes fail, the new ones work at once, sessions end, a pending enrolment is dropped', async () => {
    await add('alice');
    const old = secrets.get('alice')!;
    await login('alice', { steps: 2 });
    const held = await open('alice');
    const reset = await resetOperatorTotp(store, 'alice', { with2fa: true });
    expect(reset).toMatchObject({ user: 'alice', sessionsEnded: 1, otpauthUri: expect.stringContaining(`secret=${reset.totpSecret}`) });
    expect(reset.totpSecret).not.toBe(old);
    expect(sessions.isLive(held.session.tokenHash)).toBe(false);
    expect(await refusalCode(login('alice', { secret: old, steps: 3 }))).toBe('totp_required');
    // Step 2 was used with the old secret; the new secret's code of that same step is its first use.
    expect((await login('alice', { secret: reset.totpSecret, steps: 2 })).name).toBe('alice');
    expect(store.operators.get('alice')!.lastTotpStep).toBe(Math.floor(NOW / 30_000) + 2);
  });

  it('--no-2fa: the operator logs in with the password alone, and enrols again', async () => {
    await add('alice');
    const reset = await resetOperatorTotp(store, 'alice', { with2fa: false });
    expect(reset).toMatchObject({ totpSecret: null, otpauthUri: null });
    expect((await login('alice', { secret: null })).totpSecret).toBe(null);
    const again = await beginTotpEnrolment(store, 'alice', reset.enrolmentCode);
    await confirmTotpEnrolment(store, 'alice', await totpCode(again.totpSecret, NOW), NOW);
    expect((await login('alice', { secret: again.totpSecret, steps: 1 })).name).toBe('alice');
  });

  it('a confirm of an enrolment that the reset dropped while its code was checked does not bring that secret back', async () => {
    await add('alice', false);
    const pending = await beginTotpEnrolment(store, 'alice', enrolmentCodes.get('alice'));
    // The confirm reads the pending secret and awaits the code check; the reset's transaction is queued meanwhile.
    const confirming = confirmTotpEnrolment(store, 'alice', await totpCode(pending.totpSecret, NOW), NOW);
    const resetting = resetOperatorTotp(store, 'alice', { with2fa: true });
    expect(await refusalCode(confirming)).toBe('invalid_state');
    const reset = await resetting;
    expect(store.operators.get('alice')!.pendingTotpSecret).toBe(null);
    expect(await refusalCode(login('alice', { secret: pending.totpSecret }))).toBe('totp_required');
    expect((await login('alice', { secret: reset.totpSecret })).name).toBe('alice');
  });

  it('a login that checked a code of the old secret while the reset ran is refused, and consumes no step of the new one', async () => {
    await add('alice');
    const old = secrets.get('alice')!;
    const sealedOld = store.operators.get('alice')!.totpSecret!;
    let reset: Awaited<ReturnType<typeof resetOperatorTotp>> | null = null;
    const racing = checkLogin(store, 'alice', PASSWORD, await totpCode(old, NOW), NOW, async (check) => {
      const ok = await check();
      reset = await resetOperatorTotp(store, 'alice', { with2fa: true });
      return ok;
    });
    expect(await refusalCode(racing)).toBe('login_failed');
    expect(await refusalCode(consumeTotpStep(store, 'alice', Math.floor(NOW / 30_000) + 5, sealedOld))).toBe('login_failed');
    expect(store.operators.get('alice')!.lastTotpStep).toBe(0);
    expect((await login('alice', { secret: reset!.totpSecret })).name).toBe('alice');
  });
});

describe('users passwd', () => {
  it('the old password fails, the new one works, sessions end; the password rule of users add holds', async () => {
    await add('alice', false);
    const held = await open('alice');
    expect(await setOperatorPassword(store, 'alice', 'a brand new passphrase')).toEqual({ user: 'alice', sessionsEnded: 1 });
    expect(sessions.isLive(held.session.tokenHash)).toBe(false);
    expect(await refusalCode(login('alice'))).toBe('login_failed');
    expect((await login('alice', { password: 'a brand new passphrase' })).name).toBe('alice');
    expect(await refusalCode(setOperatorPassword(store, 'alice', 'too short'))).toBe('invalid_field');
    expect(await refusalCode(setOperatorPassword(store, 'alice', 'x'.repeat(1025)))).toBe('invalid_field');
    expect((await login('alice', { password: 'a brand new passphrase' })).name).toBe('alice');
  });

  it('a login whose hash ran while the password changed is refused', async () => {
    await add('alice', false);
    const racing = checkLogin(store, 'alice', PASSWORD, undefined, NOW, async (check) => {
      const ok = await check();
      await setOperatorPassword(store, 'alice', 'a brand new passphrase');
      return ok;
    });
    expect(await refusalCode(racing)).toBe('login_failed');
  });

  it('a login checked before the password or 2FA changed gets no session, even when the change came after all its checks', async () => {
    await add('alice', false);
    const checked = await login('alice');
    await setOperatorPassword(store, 'alice', 'a brand new passphrase');
    expect(await refusalCode(sessions.create(checked))).toBe('login_failed');
    const checkedAgain = await login('alice', { password: 'a brand new passphrase' });
    await resetOperatorTotp(store, 'alice', { with2fa: true });
    expect(await refusalCode(sessions.create(checkedAgain))).toBe('login_failed');
    expect([...store.sessions.getRange()]).toEqual([]);
    // Nothing changed since the check: the session is written.
    await disableOperator(store, 'alice', { force: true });
    await enableOperator(store, 'alice');
    expect(await refusalCode(sessions.create(store.operators.get('alice')!))).toBe('ok');
  });
});

describe('totp.enroll racing users disable / passwd / reset-2fa (another process)', () => {
  /**
   * The real CLI, run while this process is blocked: it commits after the enrolment read the account (the old code read
   * it at once) and before the enrolment's own write, which lmdb starts only once this turn of the event loop ends.
   */
  const usersCli = (args: string[], stdin = ''): string =>
    execFileSync(process.execPath, [SERVER_CLI, 'users', ...args, '--data-dir', dataDir], { input: stdin, env: { ...process.env, PAIRING_LOG_PRETTY: '0' } }).toString();

  const changes: [string, string[], string, (bob: OperatorRecord) => void][] = [
    ['disable', ['disable', 'bob'], '', (bob) => expect(bob.disabledAt).not.toBe(null)],
    ['passwd', ['passwd', 'bob', '--password-stdin'], 'a brand new passphrase\n', () => undefined],
    ['reset-2fa', ['reset-2fa', 'bob', '--json'], '', (bob) => expect(bob.totpSecret).not.toBe(null)],
  ];
  for (const [name, args, stdin, stays] of changes) {
    it(`does not undo users ${name} that committed between its read and its write, and is refused`, async () => {
      await add('alice');
      await add('bob', false);
      const held = await open('bob');
      const enrolling = beginTotpEnrolment(store, 'bob', enrolmentCodes.get('bob'), held.session.tokenHash);
      usersCli(args, stdin);
      const enrolled = await refusalCode(enrolling);
      const bob = store.operators.get('bob')!;
      stays(bob);
      // The leaked password no longer logs in, whatever the change was (disabled, replaced, or now needs a code).
      expect(await refusalCode(login('bob', { secret: null }))).not.toBe('ok');
      expect(sessions.isLive(held.session.tokenHash)).toBe(false);
      // The enrolment asked for by a session that the change ended is refused, and leaves no pending secret.
      expect(enrolled).toBe('session_expired');
      expect(bob.pendingTotpSecret).toBe(null);
    });
  }

  it('writes the pending secret onto the latest record and refuses an account that has 2FA meanwhile', async () => {
    await add('bob', false);
    const held = await open('bob');
    const pending = await beginTotpEnrolment(store, 'bob', enrolmentCodes.get('bob'), held.session.tokenHash);
    expect(store.operators.get('bob')!.pendingTotpSecret).not.toBe(null);
    await confirmTotpEnrolment(store, 'bob', await totpCode(pending.totpSecret, NOW), NOW);
    expect(await refusalCode(beginTotpEnrolment(store, 'bob', enrolmentCodes.get('bob')))).toBe('invalid_state');
    expect(await refusalCode(beginTotpEnrolment(store, 'nobody', '0000-0000-0000'))).toBe('not_found');
    // The code is spent: no second authenticator with it, after a reset to 2FA and back neither.
    expect(store.operators.get('bob')!.enrolmentCode).toBe(null);
  });

  it('needs the enrolment code: a wrong one spends a try, the last voids it, and an expired one does not work', async () => {
    await add('bob', false);
    const code = enrolmentCodes.get('bob')!;
    const wrong = code === '0000-0000-0000' ? '1111-1111-1111' : '0000-0000-0000';
    expect(await refusalCode(beginTotpEnrolment(store, 'bob', undefined))).toBe('invalid_field');
    expect(await refusalCode(beginTotpEnrolment(store, 'bob', '1234'))).toBe('invalid_field');
    expect(await refusalCode(beginTotpEnrolment(store, 'bob', wrong))).toBe('code_mismatch');
    expect(store.operators.get('bob')!.enrolmentCode).toMatchObject({ triesLeft: 4 });
    // Not stored in the clear.
    expect(JSON.stringify(store.operators.get('bob'))).not.toContain(code.replace(/-/g, ''));
    // Spaces and dashes as typed are fine; past its week it no longer works.
    const expiresAt = store.operators.get('bob')!.enrolmentCode!.expiresAt;
    expect(await refusalCode(beginTotpEnrolment(store, 'bob', code.replace(/-/g, ' '), undefined, expiresAt))).toBe('invalid_state');
    expect(await refusalCode(beginTotpEnrolment(store, 'bob', code.replace(/-/g, ' '), undefined, expiresAt - 1))).toBe('ok');
    for (let i = 0; i < 4; i++) expect(await refusalCode(beginTotpEnrolment(store, 'bob', wrong))).toBe('code_mismatch');
    expect(store.operators.get('bob')!.enrolmentCode).toBe(null);
    expect(await refusalCode(beginTotpEnrolment(store, 'bob', code))).toBe('invalid_state');
    // An administrator issues a new one.
    const reset = await resetOperatorTotp(store, 'bob', { with2fa: false });
    expect(reset.enrolmentCode).toMatch(/^\d{4}-\d{4}-\d{4}$/);
    expect(await refusalCode(beginTotpEnrolment(store, 'bob', reset.enrolmentCode))).toBe('ok');
  });
});
