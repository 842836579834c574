/**
 * @module What a refused admin op costs the store, counted in LMDB transactions on a real store: a request refused for
 * its arguments or for what it names is refused before its audit intent is written (OpSpec.args, precondition), so it
 * costs its refusal's entry alone, and nothing once the operator's refusal budget is spent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '../../../src/admin/dispatch.js';
import { LoginThrottle } from '../../../src/admin/login-throttle.js';
import { createOperator } from '../../../src/admin/operators.js';
import type { Connection, OpsContext } from '../../../src/admin/op-spec.js';
import { REFUSALS_PER_USER_MINUTE } from '../../../src/admin/refusal-budget.js';
import { Sessions } from '../../../src/admin/sessions.js';
import { createLogger } from '../../../src/logger.js';
import type { AdminReply } from '../../../src/protocol/types.js';
import { openTempStore } from '../../helpers/actor-store.js';

const temp = openTempStore('dispatch-commits');
const store = temp.store;
// A clock that stands still: no session slides, so every transaction counted is the op's own.
const clock = Date.parse('2026-01-01T00:00:00Z');
const sessions = new Sessions(store, { idleMs: 3_600_000, maxAgeMs: 7_200_000 }, () => clock);
let conn: Connection;
const ctx = {
  store, sessions, logins: new LoginThrottle(() => clock), events: () => undefined, now: () => clock,
  log: createLogger({ level: 'silent', pretty: false }),
} as unknown as OpsContext; // the ops sent here use no other part

beforeAll(async () => {
  await createOperator(store, 'alice', 'correct horse battery staple', { with2fa: false, by: 'test' });
  const { session } = await sessions.create(store.operators.get('alice')!);
  conn = { session, remoteAddress: '192.0.2.9', subscribe: () => undefined,
    unsubscribe: () => ({ topics: [], cashSerial: null }), unsubscribeAll: () => undefined };
});

afterAll(async () => {
  await temp.close();
});

/** LMDB's last committed transaction id (mdb_env_info), which lmdb-js adds to the root database's stats. */
const lastTxnId = (): number => (store.root.getStats() as { lastTxnId: number }).lastTxnId;

/** Sends one op and counts the transactions it committed. */
async function commitsOf(op: string, args: Record<string, unknown>): Promise<{ reply: AdminReply; commits: number }> {
  await store.root.committed;
  const before = lastTxnId();
  const reply = await dispatch(ctx, conn, JSON.stringify({ id: 1, op, args }));
  await store.root.committed;
  return { reply, commits: lastTxnId() - before };
}

describe('a refused admin op', () => {
  it('costs one commit, its audit entry, when refused for its arguments or for what it names; none past the budget', async () => {
    const refusals: [string, Record<string, unknown>, string][] = [
      ['terminals.create', { serial: 12 }, 'invalid_field'],
      ['terminals.update', { serial: 'NO-SUCH-1' }, 'invalid_field'],
      ['terminals.update', { serial: 'NO-SUCH-1', name: 'Lobby' }, 'not_found'],
      ['terminals.unpair', { serial: 'NO-SUCH-1' }, 'requires_2fa'],
      ['terminals.create', { serial: 'COMMITS-0', contact: '+1 555 0100' }, 'requires_2fa'],
      ['pairing.reject', { requestId: 'no-such-request' }, 'not_found'],
      ['gate.open', { minutes: 0 }, 'invalid_field'],
    ];
    const entries = store.audit.getKeysCount();
    for (const [op, args, error] of refusals) {
      const { reply, commits } = await commitsOf(op, args);
      expect(reply, op).toMatchObject({ ok: false, error });
      expect(commits, `${op} ${JSON.stringify(args)}`).toBe(1);
    }
    expect(store.audit.getKeysCount()).toBe(entries + refusals.length);
    expect(store.auditIntents.getKeysCount()).toBe(0);

    // The rest of the minute's budget, then refusals that are counted, not written: no commit at all.
    for (let i = refusals.length; i < REFUSALS_PER_USER_MINUTE; i++) await commitsOf('pairing.reject', { requestId: 'no-such-request' });
    for (const [op, args, error] of refusals) {
      const { reply, commits } = await commitsOf(op, args);
      expect(reply, op).toMatchObject({ ok: false, error });
      expect(commits, `${op} past the budget`).toBe(0);
    }
    expect(store.auditIntents.getKeysCount()).toBe(0);
  });

  it('still writes its intent ahead of an op that runs: created, the terminal has its entry and no intent is left', async () => {
    const { reply, commits } = await commitsOf('terminals.create', { serial: 'COMMITS-1' });
    expect(reply).toMatchObject({ ok: true });
    // The intent, the terminal, and the entry that settles the intent.
    expect(commits).toBe(3);
    expect(store.auditIntents.getKeysCount()).toBe(0);
  });
});
