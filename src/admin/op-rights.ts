/**
 * @module Whether an operator's account may run an op, by its role and its 2FA: dispatch.ts asks it for every op, and
 * an op that hands out what another op reads (`subscribe` to `cash` pushes what `cash.list` reads) asks it for that op.
 */
import { AppError } from '../errors.js';
import { roleOf } from './operators.js';
import type { OpSpec, OpsContext } from './op-spec.js';

export function checkRights(ctx: OpsContext, user: string, { access, changes }: Pick<OpSpec, 'access' | 'changes'>, op: string): void {
  if (changes !== 'server' && access !== '2fa') return;
  // One read of the account for both checks.
  const account = ctx.store.operators.get(user);
  // The role as stored now, never as it was at login: a session outlives a `users role` only in a race (the command ends
  // the sessions it finds), and then too it runs as a viewer. Before the 2FA check: enrolling would not help a viewer.
  if (changes === 'server' && roleOf(account ?? {}) === 'viewer') {
    throw new AppError('forbidden', `${user} is a viewer: a read-only account can look but not change anything, and ${op} changes the server. An administrator can make the account an operator (pairing-server users role ${user} operator)`);
  }
  if (access === '2fa' && account?.totpSecret == null) {
    throw new AppError('requires_2fa', 'only operators with 2FA enrolled may do this: enrol TOTP first with the enrolment code your administrator gave you (cas totp enroll --code CODE, or Set up 2FA on the web page)');
  }
}
