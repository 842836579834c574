/**
 * @module `pairing-server users …`: operator accounts, managed on the data dir's store (also while the server runs:
 * LMDB shares it). Every command but `list` is audited, refusals included; the running server sees the entry within a
 * second and tells the operators logged in (main.ts).
 */
import { UsageError } from '../cli-errors.js';
import { isRawInput, readFirstLine, readHiddenTwice } from '../cli-input.js';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { disableOperator, enableOperator, listOperators, resetOperatorTotp, setOperatorPassword, setOperatorRole } from '../admin/operator-accounts.js';
import { createOperator, roleOf, type CreatedOperator } from '../admin/operators.js';
import { intendAudit, settleInterruptedAudits } from '../store/audit-intents.js';
import type { OperatorRole } from '../store/records.js';
import { processRuns } from '../process-runs.js';
import { Store } from '../store/store.js';
import { requireDataDir } from './data-dir.js';
import { cliUser } from './os-account.js';

export const USERS_COMMANDS = ['add', 'list', 'disable', 'enable', 'reset-2fa', 'passwd', 'role'] as const;
export type UsersCommand = `users ${(typeof USERS_COMMANDS)[number]}`;

export interface UsersFlags {
  json: boolean;
  /** `--no-2fa` not given (add, reset-2fa). */
  with2fa: boolean;
  force: boolean;
  /** The role `users add` gives (`--role`), or `users role` sets (its second argument). */
  role: OperatorRole;
}

/**
 * Runs `act` and audits its outcome, as dispatch.ts does for the admin channel's ops: by the OS user, `detail.result`
 * `ok` or the refusal's code. `detail` and `okDetail` MUST hold no password, TOTP secret or token.
 */
async function audited<T>(
  store: Store, action: string, name: string, detail: Record<string, unknown>, act: () => Promise<T>,
  okDetail: (value: T) => Record<string, unknown> = () => ({}),
): Promise<T> {
  const entry = { at: Date.now(), user: cliUser(), action, target: name.slice(0, 64) };
  // Written ahead (audit-intents.ts): a command killed after its change and before its entry is audited as interrupted.
  const intent = await intendAudit(store, 'command', { ...entry, detail });
  const audit = (more: Record<string, unknown>): Promise<unknown> => store.appendAudit({ ...entry, at: Date.now(), detail: { ...detail, ...more } }, intent);
  let value: T;
  try {
    value = await act();
  } catch (error) {
    // Any failure: an intent left standing would read as interrupted at the next start.
    await audit({ result: error instanceof AppError ? error.code : 'internal_error' });
    throw error;
  }
  await audit({ ...okDetail(value), result: 'ok' });
  return value;
}

const ended = ({ sessionsEnded }: { sessionsEnded: number }): Record<string, unknown> => ({ sessionsEnded });
const sessions = (n: number): string => `${n} session${n === 1 ? '' : 's'} ended`;

/** The secret or enrolment code is printed here once, never stored in the clear, logged or audited. */
function printSecret(created: CreatedOperator, role: OperatorRole): void {
  if (role === 'viewer') {
    // A viewer needs no 2FA for what it may do: its enrolment code is offered, not pressed as an operator's is.
    process.stdout.write(`${created.user} is a viewer: can look at the fleet, pairing requests and audit log, cannot change anything\n`);
    if (!created.otpauthUri) {
      process.stdout.write(`enrolment code for 2FA, if they want it (shown once; until ${created.enrolmentCodeExpiresAt}, 5 tries): ${created.enrolmentCode}\n`);
      return;
    }
  }
  if (created.otpauthUri) {
    process.stdout.write(`enrol this URI in an authenticator app (it is shown once):\n${created.otpauthUri}\n`);
    return;
  }
  process.stdout.write(`no 2FA yet: ${created.user} can look but cannot approve pairing, set payout addresses, set contacts,\n`
    + `unpair or delete terminals until they enrol an authenticator with\n`
    + `the enrolment code ${created.enrolmentCode} (shown once; until ${created.enrolmentCodeExpiresAt}, 5 tries):\n`
    + `cas totp enroll --code ${created.enrolmentCode}, or Set up 2FA on the web page. Hand it over apart from the password.\n`);
}

/**
 * The first line of stdin; typed at a terminal, read twice without echo after a prompt, as cas and terminal read theirs: a
 * password run in by hand was otherwise shown on the screen and left in its scrollback.
 */
async function readPassword(command: UsersCommand, name: string): Promise<string> {
  if (!isRawInput(process.stdin)) {
    const piped = (await readFirstLine(process.stdin)) ?? '';
    // Nothing piped in is a command line that forgot the pipe, not a password too short (invalid_field, audited as a refusal).
    if (piped === '') throw new UsageError(`no password on standard input: pipe it in, e.g. echo '…' | pairing-server ${command} ${name} --password-stdin`, command);
    return piped;
  }
  // For `users add`, a slip typed blind would be an account only `users passwd` can open.
  return readHiddenTwice(process.stdin, [`password for ${name} (not shown): `, `password for ${name} again: `], process.stderr, {
    cancelled: () => new UsageError('cancelled; nothing was changed', command),
    // Enter alone at the prompt: the person is at a terminal already, and advice to pipe the password in would mislead.
    empty: () => new UsageError('no password typed; nothing was changed', command),
    differ: () => new UsageError('the two passwords typed differ; nothing was changed', command),
  });
}

/**
 * `name`: the operator, for every command but `list`; `store` is opened here and closed before this returns.
 *
 * A command that writes leaves the seal of a server's clean stop broken, so that the next start checks every index
 * (index-seal.ts). `identity prepare|promote` and `backup` keep it (writeKeepingSeal: one check, write and re-seal per
 * transaction); the users commands' writes are the account module's own asynchronous transactions (operator-accounts.ts),
 * and they take no data dir lock (they run beside a server too). Nothing here may seal: without the lock, a commit between
 * two of a command's transactions may be any process's, of any build.
 */
export async function runUsersCommand(command: UsersCommand, config: Config, name: string, flags: UsersFlags): Promise<void> {
  requireDataDir(config.dataDir);
  const password = command === 'users add' || command === 'users passwd' ? await readPassword(command, name) : '';
  const store = Store.open(config.dataDir);
  const out = (json: unknown, text: string): void => void process.stdout.write(flags.json ? JSON.stringify(json) + '\n' : text);
  try {
    // An earlier command killed between its change and its entry is audited now, not at the server's next start.
    const cutShort = await settleInterruptedAudits(store, { server: false, now: Date.now(), running: processRuns });
    for (const entry of cutShort) {
      process.stderr.write(`note: an earlier ${entry.action.replace('.', ' ')} ${entry.target ?? ''} was cut short before its outcome was audited: audited as interrupted (audit entry ${entry.seq}); it may or may not have taken effect: run it again\n`);
    }
    switch (command) {
      case 'users add': {
        const created = await audited(store, 'users.add', name, { has2fa: flags.with2fa, role: flags.role }, () => createOperator(store, name, password, { with2fa: flags.with2fa, by: cliUser(), role: flags.role }));
        out(created, `${created.role} ${created.user} created\n`);
        if (!flags.json) printSecret(created, created.role);
        return;
      }
      case 'users list': {
        const list = listOperators(store);
        const twoFactor = (u: (typeof list)[number]): string => (u.has2fa ? 'yes' : u.enrolmentCodeUntil ? `no (enrolment code until ${u.enrolmentCodeUntil})` : 'no');
        out(list, list.map((u) => `${u.user}\t2fa=${twoFactor(u)}\t${u.createdAt}\tdisabled=${u.disabledAt ? `yes since ${u.disabledAt}` : 'no'}\trole=${u.role}\n`).join(''));
        return;
      }
      case 'users disable': {
        const { disabledSince, ...done } = await audited(store, 'users.disable', name, { force: flags.force }, () => disableOperator(store, name, { force: flags.force }), ended);
        out({ ...done, disabled: true }, disabledSince !== null
          ? `operator ${name} was disabled already (since ${new Date(disabledSince).toISOString()}); ${sessions(done.sessionsEnded)}\n`
          : `operator ${name} disabled: cannot log in; ${sessions(done.sessionsEnded)}\n`);
        return;
      }
      case 'users enable': {
        const { wasDisabled, ...done } = await audited(store, 'users.enable', name, {}, () => enableOperator(store, name), (r) => ({ ...ended(r), wasDisabled: r.wasDisabled }));
        out({ ...done, disabled: false, wasDisabled }, wasDisabled
          ? `operator ${name} enabled: can log in again; ${sessions(done.sessionsEnded)}\n`
          : `operator ${name} was not disabled: nothing changed\n`);
        return;
      }
      case 'users reset-2fa': {
        const reset = await audited(store, 'users.reset_2fa', name, { has2fa: flags.with2fa }, () => resetOperatorTotp(store, name, { with2fa: flags.with2fa }), ended);
        out(reset, `2FA of ${name} reset: the old codes no longer work; ${sessions(reset.sessionsEnded)}\n`);
        if (!flags.json) printSecret(reset, roleOf(store.operators.get(name) ?? {}));
        return;
      }
      case 'users role': {
        const done = await audited(store, 'users.role', name, { role: flags.role, force: flags.force }, () => setOperatorRole(store, name, flags.role, { force: flags.force }),
          (r) => ({ previous: r.previous, sessionsEnded: r.sessionsEnded }));
        const as = done.role === 'viewer' ? 'a viewer' : 'an operator';
        out(done, done.previous === done.role
          ? `${name} is ${as} already: nothing changed\n`
          : `${name} is now ${as}${done.role === 'viewer' ? ' (can look, cannot change anything)' : ''}; ${sessions(done.sessionsEnded)}\n`);
        return;
      }
      case 'users passwd': {
        const done = await audited(store, 'users.passwd', name, {}, () => setOperatorPassword(store, name, password), ended);
        out(done, `password of ${name} changed; ${sessions(done.sessionsEnded)}\n`);
        return;
      }
    }
  } finally {
    await store.close();
  }
}
