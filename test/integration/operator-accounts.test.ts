/**
 * @module `pairing-server users disable|enable|reset-2fa|passwd` run by the real CLI while the real server runs: the
 * operator's open connections are told `session.ended` and their next op answers `session_expired`, the old password
 * or TOTP secret no longer logs in and the new one does, the other operators get `operator.changed`, every run is
 * audited (refusals included) and logged as `operator action` (those made while the server was stopped at its next
 * start), and no secret reaches the log or the audit entries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/admin/admin-client.js';
import { totpCode } from '../../src/crypto/totp.js';
import type { AdminPush } from '../../src/protocol/types.js';
import { serverCli, type CliResult } from '../helpers/cli.js';
import { addOperator, arrived, nextPush, nextTotp, type TestOperator } from '../helpers/operator.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { refusalCode } from '../helpers/refusal.js';

const started: ServerProcess[] = [];
const clients: AdminClient[] = [];
/** Every password, TOTP secret and session token of the run: none may show in the server's output or the audit log. */
const secrets: string[] = [];

afterAll(async () => {
  for (const client of clients) await client.close();
  for (const server of started) await server.stop();
});

async function start(): Promise<ServerProcess> {
  const server = await startServerProcess();
  started.push(server);
  return server;
}

async function add(server: ServerProcess, user: string, with2fa: boolean): Promise<TestOperator> {
  const op = await addOperator(server.dataDir, user, { with2fa });
  secrets.push(op.password, ...(op.totpSecret ? [op.totpSecret] : []), ...(op.enrolmentCode ? [op.enrolmentCode, op.enrolmentCode.replace(/-/g, '')] : []));
  return op;
}

/** Logs in over a new admin connection; `totp`: the code to send (default: the operator's next one). */
async function login(server: ServerProcess, op: TestOperator, totp?: string): Promise<AdminClient> {
  const client = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
  clients.push(client);
  const { token } = await client.login(op.user, op.password, totp ?? (await nextTotp(op)));
  secrets.push(token);
  return client;
}

const users = (server: ServerProcess, args: string[], stdin?: string): Promise<CliResult> =>
  serverCli(['users', ...args, '--data-dir', server.dataDir], stdin);

/**
 * The operator's connections were told, by the running server's watch of the audit log (a poll a second), not at the
 * next session sweep (15 s), and their next op is refused. The watch ends the sessions before it tells every logged-in
 * operator of the change (`told`, a watcher's push of it): once that has come, an op sent now on `client` is answered
 * after its session.ended push. A 5 s deadline from the command's return, before, measured the machine as well.
 */
async function expectEnded(client: AdminClient, ended: Promise<AdminPush>, told: Promise<AdminPush>): Promise<void> {
  const heard = arrived(ended);
  await told;
  expect(await refusalCode(client.request('gate.status', {}))).toBe('session_expired');
  expect(heard()?.data).toMatchObject({ error: 'session_expired' });
}

/** Listened for before the command runs. */
const sessionEnded = (client: AdminClient): Promise<AdminPush> => nextPush(client, (p) => p.event === 'session.ended', 60_000);

const changedPush = (watcher: AdminClient, user: string, action: string): Promise<AdminPush> =>
  nextPush(watcher, (p) => p.event === 'operator.changed' && p.data.user === user && p.data.action === action && p.data.result === 'ok');

interface AuditEntry { user: string; action: string; target: string; detail: Record<string, unknown> }

describe('account changes while the server runs', () => {
  let server: ServerProcess;
  let alice: TestOperator;
  let watcher: AdminClient;

  beforeAll(async () => {
    server = await start();
    alice = await add(server, 'alice', true);
    watcher = await login(server, alice);
  }, 60_000);

  it('users disable ends every session of the operator at once and refuses their logins; users enable lets them back', async () => {
    const bob = await add(server, 'bob', false);
    const [first, second] = [await login(server, bob), await login(server, bob)];
    const ended = [sessionEnded(first), sessionEnded(second)];
    const told = changedPush(watcher, 'bob', 'users.disable');

    const disabled = await users(server, ['disable', 'bob', '--json']);
    expect(disabled.code, disabled.stderr).toBe(0);
    expect(disabled.json).toEqual({ user: 'bob', disabled: true, sessionsEnded: 2 });
    await expectEnded(first, ended[0]!, told);
    await expectEnded(second, ended[1]!, told);
    expect((await told).data).toMatchObject({ user: 'bob', by: expect.stringMatching(/^cli:/), action: 'users.disable', result: 'ok' });
    // Disabled again: said so, and the first time kept.
    const since = (await users(server, ['list', '--json'])).json.find((u: { user: string }) => u.user === 'bob').disabledAt as string;
    expect((await users(server, ['disable', 'bob'])).stdout).toBe(`operator bob was disabled already (since ${since}); 0 sessions ended\n`);
    expect(await refusalCode(login(server, bob))).toBe('login_failed');
    expect(await refusalCode(login(server, { ...bob, password: 'not the password at all' }))).toBe('login_failed');
    const listed = (await users(server, ['list', '--json'])).json as Record<string, unknown>[];
    expect(listed.find((u) => u.user === 'bob')).toMatchObject({ disabled: true, disabledAt: expect.any(String) });
    expect(listed.find((u) => u.user === 'alice')).toMatchObject({ disabled: false, disabledAt: null });
    await server.waitForLog((l) => l.msg === 'operator action' && l.action === 'users.disable' && l.target === 'bob' && l.result === 'ok');

    const enabledTold = changedPush(watcher, 'bob', 'users.enable');
    const enabled = await users(server, ['enable', 'bob', '--json']);
    expect(enabled.json).toEqual({ user: 'bob', disabled: false, wasDisabled: true, sessionsEnded: 0 });
    await enabledTold;
    const back = await login(server, bob);
    expect(await back.request('gate.status', {})).toMatchObject({ open: false });
    // Enabling an enabled operator says so, and leaves their session alone.
    const again = await users(server, ['enable', 'bob']);
    expect(again.stdout).toBe('operator bob was not disabled: nothing changed\n');
    expect(await back.request('gate.status', {})).toMatchObject({ open: false });
    expect(((await users(server, ['list', '--json'])).json as Record<string, unknown>[]).find((u) => u.user === 'bob')).toMatchObject({ disabled: false });
  }, 60_000);

  it('users reset-2fa: the old codes stop working, the printed secret logs in; --no-2fa leaves the password alone', async () => {
    const carol = await add(server, 'carol', true);
    const held = await login(server, carol);
    const ended = sessionEnded(held);
    const told = changedPush(watcher, 'carol', 'users.reset_2fa');

    const reset = await users(server, ['reset-2fa', 'carol', '--json']);
    expect(reset.code, reset.stderr).toBe(0);
    const { totpSecret } = reset.json as { totpSecret: string };
    secrets.push(totpSecret);
    expect(reset.json).toEqual({
      user: 'carol', totpSecret: expect.stringMatching(/^[A-Z2-7]+$/), otpauthUri: expect.stringContaining(`secret=${totpSecret}`), enrolmentCode: null, enrolmentCodeExpiresAt: null, sessionsEnded: 1,
    });
    expect(totpSecret).not.toBe(carol.totpSecret);
    await expectEnded(held, ended, told);
    expect((await told).data).toMatchObject({ user: 'carol', action: 'users.reset_2fa', result: 'ok' });
    expect(await refusalCode(login(server, carol, await totpCode(carol.totpSecret!)))).toBe('totp_required');
    const renewed = { ...carol, totpSecret };
    const again = await login(server, renewed);

    const dropped = sessionEnded(again);
    const droppedTold = changedPush(watcher, 'carol', 'users.reset_2fa');
    const none = await users(server, ['reset-2fa', 'carol', '--no-2fa']);
    expect(none.code, none.stderr).toBe(0);
    const code = /the enrolment code (\d{4}-\d{4}-\d{4}) \(shown once; until (\S+), 5 tries\)/.exec(none.stdout);
    expect(code, none.stdout).not.toBe(null);
    secrets.push(code![1]!, code![1]!.replace(/-/g, ''));
    expect(none.stdout).toContain(`cas totp enroll --code ${code![1]}`);
    expect(none.stdout).not.toContain('otpauth://');
    await expectEnded(again, dropped, droppedTold);
    const without = await login(server, { ...carol, totpSecret: null });
    expect(await without.request('gate.status', {})).toMatchObject({ open: false });
    expect(((await users(server, ['list', '--json'])).json as Record<string, unknown>[]).find((u) => u.user === 'carol')).toMatchObject({ has2fa: false });
  }, 60_000);

  it('users passwd: the old password stops working, the new one logs in; the rules of users add hold', async () => {
    const dave = await add(server, 'dave', false);
    const held = await login(server, dave);
    const ended = sessionEnded(held);
    const told = changedPush(watcher, 'dave', 'users.passwd');
    const password = 'a brand new passphrase for dave';
    secrets.push(password);

    const changed = await users(server, ['passwd', 'dave', '--password-stdin', '--json'], `${password}\n`);
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.json).toEqual({ user: 'dave', sessionsEnded: 1 });
    await expectEnded(held, ended, told);
    expect((await told).data).toMatchObject({ user: 'dave', action: 'users.passwd', result: 'ok' });
    expect(await refusalCode(login(server, dave))).toBe('login_failed');
    await login(server, { ...dave, password });

    const short = await users(server, ['passwd', 'dave', '--password-stdin'], 'too short\n');
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/^error: invalid_field: /);
    const asArgument = await users(server, ['passwd', 'dave', password]);
    expect(asArgument.code).toBe(2);
    expect(asArgument.stderr).toMatch(/^error: bad_request: /);
  }, 60_000);

  it('audits every run with its outcome, keeps the chain intact, and no secret reaches the log or the audit entries', async () => {
    const entries = (await watcher.request('audit.list', { limit: 1000 })) as AuditEntry[];
    const offline = entries.filter((e) => e.action.startsWith('users.') && e.action !== 'users.add').reverse();
    expect(offline.map(({ action, target, detail }) => ({ action, target, detail }))).toEqual([
      { action: 'users.disable', target: 'bob', detail: { force: false, sessionsEnded: 2, result: 'ok' } },
      { action: 'users.disable', target: 'bob', detail: { force: false, sessionsEnded: 0, result: 'ok' } },
      { action: 'users.enable', target: 'bob', detail: { sessionsEnded: 0, wasDisabled: true, result: 'ok' } },
      { action: 'users.enable', target: 'bob', detail: { sessionsEnded: 0, wasDisabled: false, result: 'ok' } },
      { action: 'users.reset_2fa', target: 'carol', detail: { has2fa: true, sessionsEnded: 1, result: 'ok' } },
      { action: 'users.reset_2fa', target: 'carol', detail: { has2fa: false, sessionsEnded: 1, result: 'ok' } },
      { action: 'users.passwd', target: 'dave', detail: { sessionsEnded: 1, result: 'ok' } },
      { action: 'users.passwd', target: 'dave', detail: { result: 'invalid_field' } },
    ]);
    expect(offline.every((e) => /^cli:/.test(e.user))).toBe(true);
    // Every entry is an 'operator action' line too, the refusal at warn.
    const refused = await server.waitForLog((l) => l.msg === 'operator action' && l.action === 'users.passwd' && l.result === 'invalid_field');
    expect(refused.level).toBe(40);
    expect((await serverCli(['audit', 'verify', '--json', '--data-dir', server.dataDir])).json).toMatchObject({ ok: true });
    const audit = JSON.stringify(entries);
    const output = server.output();
    // Positive control: the search does see what is written on purpose.
    expect(output).toContain('users.reset_2fa');
    expect(secrets.length).toBeGreaterThan(10);
    expect(secrets.filter((secret) => output.includes(secret) || audit.includes(secret))).toEqual([]);
  });
});

describe('account changes while the server is stopped', () => {
  const actionLines = (server: ServerProcess) => server.logs.filter((l) => l.msg === 'operator action')
    .map(({ action, target, result, whileStopped, level }) => ({ action, target, result, whileStopped, level }));

  it('are logged at the next start, marked whileStopped, once: the changes of the run before are not logged again', async () => {
    const first = await start();
    await add(first, 'keeper', true);
    await first.waitForLog((l) => l.msg === 'operator action' && l.action === 'users.add' && l.target === 'keeper');
    const { dataDir, ports } = first;
    await first.stop();

    // With the server stopped, nobody logged in is told and the server logs nothing: someone with the data dir adds an
    // account, and tries to disable one that does not exist.
    await add(first, 'intruder', false);
    expect((await serverCli(['users', 'disable', 'nobody', '--data-dir', dataDir])).code).toBe(1);

    const second = await startServerProcess({ dataDir, ports });
    started.push(second);
    expect(actionLines(second)).toEqual([
      { action: 'users.add', target: 'intruder', result: 'ok', whileStopped: true, level: 30 },
      { action: 'users.disable', target: 'nobody', result: 'not_found', whileStopped: true, level: 40 },
    ]);
    expect(second.logs.find((l) => l.target === 'intruder')?.at).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
    // The lines come from the audit entries, which hold no secret: no password of the run is in them.
    expect(second.output()).toContain('intruder');
    expect(secrets.filter((secret) => second.output().includes(secret))).toEqual([]);
    // While it runs, a change is logged as it happens, not marked.
    await add(second, 'later', false);
    await second.waitForLog((l) => l.msg === 'operator action' && l.target === 'later');
    await second.stop();

    const third = await startServerProcess({ dataDir, ports });
    started.push(third);
    expect(actionLines(third)).toEqual([]);
  }, 60_000);
});

describe('refusals', () => {
  it('an unknown operator: not_found, exit 1, audited and pushed as refused', async () => {
    const server = await start();
    const solo = await add(server, 'solo', true);
    const watcher = await login(server, solo);
    for (const [command, stdin] of [['disable'], ['enable'], ['reset-2fa'], ['passwd', 'a long enough password\n']] as const) {
      const told = nextPush(watcher, (p) => p.event === 'operator.changed' && p.data.user === 'ghost' && p.data.result === 'not_found');
      const result = await users(server, [command, 'ghost', ...(stdin ? ['--password-stdin'] : [])], stdin);
      expect({ command, code: result.code }).toEqual({ command, code: 1 });
      expect(result.stderr).toMatch(/^error: not_found: no operator ghost/);
      await told;
    }
    const entries = (await watcher.request('audit.list', { limit: 100 })) as AuditEntry[];
    expect(entries.filter((e) => e.target === 'ghost').map((e) => `${e.action} ${String(e.detail.result)}`).reverse())
      .toEqual(['users.disable not_found', 'users.enable not_found', 'users.reset_2fa not_found', 'users.passwd not_found']);
    expect(((await users(server, ['list', '--json'])).json as unknown[]).length).toBe(1);
  }, 60_000);

  it('the last enabled operator with 2FA is not disabled without --force, and the error says so', async () => {
    const server = await start();
    const last = await add(server, 'last', true);
    const looker = await login(server, await add(server, 'looker', false));
    const held = await login(server, last);

    const refused = await users(server, ['disable', 'last']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: invalid_state: .*last enabled operator with 2FA.*--force/);
    // Nothing changed: the session lives on, and the operator is listed as enabled.
    expect(await held.request('gate.status', {})).toMatchObject({ open: false });
    expect(((await users(server, ['list', '--json'])).json as Record<string, unknown>[]).find((u) => u.user === 'last')).toMatchObject({ disabled: false });

    const ended = sessionEnded(held);
    const told = changedPush(looker, 'last', 'users.disable');
    const forced = await users(server, ['disable', 'last', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('operator last disabled');
    await expectEnded(held, ended, told);
    expect((await users(server, ['list'])).stdout).toMatch(/^last\t2fa=yes\t\S+\tdisabled=yes since \S+\trole=operator$/m);

    const auditor = await login(server, await add(server, 'auditor', false));
    const entries = (await auditor.request('audit.list', { limit: 10 })) as AuditEntry[];
    expect(entries.filter((e) => e.action === 'users.disable').map((e) => e.detail).reverse()).toEqual([
      { force: false, result: 'invalid_state' },
      { force: true, sessionsEnded: 1, result: 'ok' },
    ]);
  }, 60_000);
});

describe('2FA enrolment (totp.confirm)', () => {
  const unknownRequest = { requestId: 'no-such-request', code: '123456789012' };

  it('ends the operator\'s other sessions: one that never showed a code does not gain the right to approve', async () => {
    const server = await start();
    const erin = await add(server, 'erin', false);
    // A session opened with the leaked password, and the operator's own, both without 2FA.
    const thief = await login(server, erin);
    const own = await login(server, erin);
    expect(await refusalCode(thief.request('pairing.approve', unknownRequest))).toBe('requires_2fa');

    // The leaked password alone does not enrol the thief's authenticator: that needs the enrolment code too.
    expect(await refusalCode(thief.request('totp.enroll', {}))).toBe('invalid_field');
    const wrongCode = erin.enrolmentCode === '0000-0000-0000' ? '111111111111' : '000000000000';
    await expect(thief.request('totp.enroll', { code: wrongCode })).rejects.toMatchObject({ code: 'code_mismatch', message: 'wrong enrolment code: 4 tries left' });

    const ended = arrived(sessionEnded(thief));
    const { totpSecret } = (await own.request('totp.enroll', { code: erin.enrolmentCode })) as { totpSecret: string };
    secrets.push(totpSecret);
    const confirmed = await own.request('totp.confirm', { totp: await totpCode(totpSecret) });
    // The other session's next op is refused before the 2FA check (before the fix it passed it: not_found), and its
    // connection was told at once: before the confirm was answered, so before this answer on its own connection.
    expect(await refusalCode(thief.request('pairing.approve', unknownRequest))).toBe('session_expired');
    expect(ended()?.data).toMatchObject({ error: 'session_expired' });
    expect(confirmed).toEqual({ has2fa: true, sessionsEnded: 1 });
    // The confirming session showed a code: it keeps its rights, now past the 2FA check (the request is unknown).
    expect(await refusalCode(own.request('pairing.approve', unknownRequest))).toBe('not_found');
    // The password alone no longer logs in.
    expect(await refusalCode(login(server, erin))).toBe('totp_required');
    // Audited, tries left included, and never the code.
    const entries = (await own.request('audit.list', { action: 'totp.enroll' })) as { user: string; detail: Record<string, unknown> }[];
    expect(entries.map((e) => e.detail.result)).toEqual(['ok', 'code_mismatch', 'invalid_field']);
    expect(entries[1]!.detail.attemptsLeft).toBe(4);
    expect(JSON.stringify(entries)).not.toContain(erin.enrolmentCode!.replace(/-/g, ''));
  }, 60_000);

  it('spends an enrolment code on its fifth wrong try, and users reset-2fa --no-2fa issues a new one', async () => {
    const server = await start();
    const fay = await add(server, 'fay', false);
    const session = await login(server, fay);
    const wrongCode = fay.enrolmentCode === '0000-0000-0000' ? '111111111111' : '000000000000';
    const left: unknown[] = [];
    for (let i = 0; i < 5; i++) left.push(await session.request('totp.enroll', { code: wrongCode }).catch((e: { details?: unknown; message: string }) => e.message));
    expect(left.at(-1)).toBe('wrong enrolment code, the last try: the code no longer works; an administrator issues a new one: pairing-server users reset-2fa fay --no-2fa');
    await expect(session.request('totp.enroll', { code: fay.enrolmentCode })).rejects.toMatchObject({ code: 'invalid_state', message: expect.stringContaining('fay has no enrolment code') });
    const reissued = await users(server, ['reset-2fa', 'fay', '--no-2fa', '--json']);
    const { enrolmentCode } = reissued.json as { enrolmentCode: string };
    secrets.push(enrolmentCode);
    expect(enrolmentCode).toMatch(/^\d{4}-\d{4}-\d{4}$/);
    const fresh = await login(server, fay);
    expect(await fresh.request('totp.enroll', { code: enrolmentCode })).toMatchObject({ otpauthUri: expect.stringContaining('otpauth://') });
  }, 60_000);
});
