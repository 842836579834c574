/**
 * @module Every admin op says what it changes (OpSpec.changes), and a viewer's session is refused each op that changes
 * the server, on a real store: `forbidden`, audited, before its audit intent or anything else is written; also when the
 * account was made a viewer after the session began. Records from before roles read as operators.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '../../../src/admin/dispatch.js';
import { LoginThrottle } from '../../../src/admin/login-throttle.js';
import { createOperator, roleOf } from '../../../src/admin/operators.js';
import { OP_CHANGES, type Connection, type OpChanges, type OpsContext } from '../../../src/admin/op-spec.js';
import { OPS } from '../../../src/admin/ops.js';
import { Sessions } from '../../../src/admin/sessions.js';
import { createLogger } from '../../../src/logger.js';
import type { AdminReply } from '../../../src/protocol/types.js';
import { openTempStore } from '../../helpers/actor-store.js';

/**
 * The ops a viewer may run, pinned: an op added to any table (ops.ts, vpn-ops.ts, or one spread into them) that a viewer
 * could run shows up here as a difference, to be agreed to on purpose.
 */
const VIEWER_MAY_RUN = [
  'login', 'resume', 'logout', 'totp.enroll', 'totp.confirm',
  'terminals.list', 'terminals.get', 'pairing.list', 'pairing.get', 'unknown.list', 'subscribe', 'unsubscribe', 'audit.list',
  'deposit.list', 'gate.status', 'server.status', 'vpn.get', 'vpn.crl', 'cash.list', 'cash.export', 'cash.next',
];

const serverOps = (): string[] => Object.entries(OPS).filter(([, spec]) => spec.changes === 'server').map(([name]) => name);

describe('the op tables', () => {
  it('declare for every op what it changes, one of nothing, own-account, server', () => {
    for (const [name, spec] of Object.entries(OPS)) expect(OP_CHANGES, name).toContain(spec.changes);
  });

  it('let a viewer run exactly the reads, subscribe, unsubscribe and its own login, logout and 2FA enrolment', () => {
    expect(Object.keys(OPS).filter((name) => OPS[name]!.changes !== 'server').sort()).toEqual([...VIEWER_MAY_RUN].sort());
  });

  it('give every op that changes the server a session to check and an audit entry for a refusal', () => {
    expect(serverOps().length).toBeGreaterThan(10);
    for (const name of serverOps()) {
      expect(OPS[name]!.access, name).not.toBe('none');
      expect(OPS[name]!.audit, name).toBe(true);
    }
  });
});

const temp = openTempStore('op-changes');
const store = temp.store;
const clock = Date.parse('2026-01-01T00:00:00Z');
const sessions = new Sessions(store, { idleMs: 3_600_000, maxAgeMs: 7_200_000 }, () => clock);
const ctx = {
  store, sessions, logins: new LoginThrottle(() => clock), events: () => undefined, now: () => clock,
  log: createLogger({ level: 'silent', pretty: false }),
  // vpn.set's audit entry keeps the settings it would replace: read before the refusal, as for any op.
  vpn: { status: () => ({ host: null, port: 1194, proto: 'udp', subnet: '10.8.0.0/24', masterUrl: null }) },
} as unknown as OpsContext; // a refused op reaches no other part; terminals.create uses none other

afterAll(async () => {
  await temp.close();
});

/** LMDB's last committed transaction id (mdb_env_info), which lmdb-js adds to the root database's stats. */
const lastTxnId = (): number => (store.root.getStats() as { lastTxnId: number }).lastTxnId;

async function send(conn: Connection, op: string, args: Record<string, unknown>): Promise<{ reply: AdminReply; commits: number }> {
  await store.root.committed;
  const before = lastTxnId();
  const reply = await dispatch(ctx, conn, JSON.stringify({ id: 1, op, args }));
  await store.root.committed;
  return { reply, commits: lastTxnId() - before };
}

async function sessionOf(name: string): Promise<Connection> {
  const { session } = await sessions.create(store.operators.get(name)!);
  return { session, remoteAddress: '192.0.2.7', subscribe: () => undefined,
    unsubscribe: () => ({ topics: [], cashSerial: null }), unsubscribeAll: () => undefined };
}

describe('a viewer\'s session', () => {
  let conn: Connection;

  beforeAll(async () => {
    await createOperator(store, 'vera', 'correct horse battery staple', { with2fa: false, by: 'test' });
    conn = await sessionOf('vera');
    // Made a viewer while the session lives, as a `users role` racing a login would leave it (the command ends the
    // sessions it finds; this one it did not): the role is the store's now, not the login's.
    await store.durable(store.operators.put('vera', { ...store.operators.get('vera')!, role: 'viewer' }));
  });

  it('is refused every op that changes the server with forbidden, audited, and nothing else written', async () => {
    const entries = store.audit.getKeysCount();
    for (const op of serverOps()) {
      const { reply, commits } = await send(conn, op, { serial: 'VIEW-1' });
      expect(reply, op).toMatchObject({ ok: false, error: 'forbidden', message: expect.stringContaining(`vera is a viewer`) });
      // Its refusal's entry alone: no intent written ahead, no change.
      expect(commits, op).toBe(1);
    }
    const written = [...store.audit.getRange({ start: entries + 1 }).map(({ value }) => value)];
    expect(written.map((e) => [e.user, e.action, e.detail?.result])).toEqual(serverOps().map((op) => ['vera', op, 'forbidden']));
    expect(store.auditIntents.getKeysCount()).toBe(0);
    expect(store.terminals.get('VIEW-1')).toBe(undefined);
  });

  it('subscribes to cash events as it may read them (cash.list), and would be refused them with cash.list', async () => {
    expect((await send(conn, 'subscribe', { topics: ['cash'] })).reply).toMatchObject({ ok: true, result: { topics: ['cash'] } });
    // The subscription asks cash.list's own rule: were cash.list closed to viewers, so would the pushes be.
    const cashList = OPS['cash.list'] as { changes: OpChanges };
    cashList.changes = 'server';
    try {
      expect((await send(conn, 'subscribe', { topics: ['terminals', 'cash'] })).reply).toMatchObject({ ok: false, error: 'forbidden', message: expect.stringContaining('cash.list') });
      expect((await send(conn, 'subscribe', { topics: ['terminals'] })).reply).toMatchObject({ ok: true });
    } finally {
      cashList.changes = 'nothing';
    }
  });

  it('still runs the ops that change nothing, and its own logout', async () => {
    expect((await send(conn, 'audit.list', {})).reply).toMatchObject({ ok: true });
    expect((await send(conn, 'deposit.list', {})).reply).toMatchObject({ ok: true, result: [] });
    expect((await send(conn, 'logout', {})).reply).toMatchObject({ ok: true, result: { loggedOut: true } });
  });
});

describe('an account from before roles', () => {
  it('reads as an operator and may change the server', async () => {
    await createOperator(store, 'olga', 'correct horse battery staple', { with2fa: false, by: 'test' });
    const { role: _role, ...old } = store.operators.get('olga')!;
    await store.durable(store.operators.put('olga', old));
    expect(store.operators.get('olga')).not.toHaveProperty('role');
    expect(roleOf(store.operators.get('olga')!)).toBe('operator');
    const { reply } = await send(await sessionOf('olga'), 'terminals.create', { serial: 'OLD-1' });
    expect(reply).toMatchObject({ ok: true, result: { serial: 'OLD-1' } });
  });
});
