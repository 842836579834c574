/**
 * @module Operator sessions on a real store: idle expiry slides with operator activity, and not with a page refreshing
 * itself; no session outlives its maximum age.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOperator } from '../../../src/admin/operators.js';
import { dispatch } from '../../../src/admin/dispatch.js';
import { LoginThrottle } from '../../../src/admin/login-throttle.js';
import { createLogger } from '../../../src/logger.js';
import type { Connection, OpsContext } from '../../../src/admin/op-spec.js';
import { OPS } from '../../../src/admin/ops.js';
import { Sessions } from '../../../src/admin/sessions.js';
import { Store } from '../../../src/store/store.js';
import { SERVER_CLI } from '../../helpers/server-process.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sessions-test-'));
const store = Store.open(dataDir);
const IDLE_MS = 10 * 60_000;
let clock = Date.parse('2026-01-01T00:00:00Z');
const MAX_AGE_MS = 60 * 60_000;
const sessions = new Sessions(store, { idleMs: IDLE_MS, maxAgeMs: MAX_AGE_MS }, () => clock);

// A session lives only while its operator exists and is enabled (operator-accounts.test.ts).
beforeAll(async () => {
  for (const name of ['alice', 'bob', 'carol']) await createOperator(store, name, 'correct horse battery staple', { with2fa: false, by: 'test' });
});

afterAll(async () => {
  await store.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Lets lmdb commit the sliding write, which check() leaves to the write thread. */
const committed = (): Promise<boolean> => store.root.committed;

describe('sessions', () => {
  it('extend with activity, not with checks that do not slide, and end after the idle time either way', async () => {
    const { session } = await sessions.create(store.operators.get('alice')!);
    const created = session.expiresAt;
    clock += 5 * 60_000;
    expect(sessions.check(session.tokenHash, false).expiresAt).toBe(created);
    await committed();
    expect(sessions.check(session.tokenHash, false).expiresAt).toBe(created);
    // Polling every 5 s until the idle time is up does not keep it alive.
    while (clock + 5_000 < created) {
      clock += 5_000;
      sessions.check(session.tokenHash, false);
    }
    await committed();
    clock = created;
    expect(() => sessions.check(session.tokenHash, false)).toThrow(/expired/);
    expect(() => sessions.check(session.tokenHash)).toThrow(/expired/);
  });

  it('end at their maximum age after login however busy, and are forgotten then', async () => {
    const { session } = await sessions.create(store.operators.get('carol')!);
    const deadline = clock + MAX_AGE_MS;
    // An op every 5 minutes: each slides the idle end, never past the maximum age.
    while (clock + 5 * 60_000 < deadline) {
      clock += 5 * 60_000;
      expect(sessions.check(session.tokenHash).expiresAt).toBe(Math.min(clock + IDLE_MS, deadline));
      await committed();
    }
    clock = deadline - 1;
    expect(sessions.check(session.tokenHash).user).toBe('carol');
    clock = deadline;
    expect(() => sessions.check(session.tokenHash)).toThrow(/expired/);
    // A record that slid past the maximum age (written by a build without it) is dead all the same.
    await store.durable(store.sessions.put(session.tokenHash, { ...store.sessions.get(session.tokenHash)!, expiresAt: clock + IDLE_MS }));
    expect(sessions.isLive(session.tokenHash)).toBe(false);
    expect(await sessions.forgetExpired()).toBeGreaterThanOrEqual(1);
    expect(store.sessions.get(session.tokenHash)).toBeUndefined();
  });

  it('slide by default', async () => {
    const { session } = await sessions.create(store.operators.get('bob')!);
    clock += 5 * 60_000;
    const extended = sessions.check(session.tokenHash).expiresAt;
    expect(extended).toBe(clock + IDLE_MS);
    await committed();
    clock += 9 * 60_000;
    expect(sessions.check(session.tokenHash, false).expiresAt).toBe(extended);
  });

  it('that expired are forgotten by the periodic sweep; live ones stay', async () => {
    const live = await sessions.create(store.operators.get('alice')!);
    const stale = await sessions.create(store.operators.get('bob')!);
    clock += IDLE_MS - 1;
    sessions.check(live.session.tokenHash); // activity: alice's slides, bob's does not
    await committed();
    clock += 2;
    expect(await sessions.forgetExpired()).toBeGreaterThanOrEqual(1);
    expect(store.sessions.get(stale.session.tokenHash)).toBeUndefined();
    expect(sessions.check(live.session.tokenHash, false).user).toBe('alice');
    expect(await sessions.forgetExpired()).toBe(0);
  });

    it('are not extended by a request the client marks as background, and are by the same request without the mark', async () => {
    const { session } = await sessions.create(store.operators.get('alice')!);
    const conn: Connection = { session, remoteAddress: '192.0.2.7', subscribe: () => undefined,
      unsubscribe: () => ({ topics: [], cashSerial: null }), unsubscribeAll: () => undefined };
    const ctx = { store, sessions, now: () => clock } as unknown as OpsContext; // terminals.list uses no other part
    const frame = (background: boolean) => JSON.stringify({ id: 1, op: 'terminals.list', args: { limit: 1 }, ...(background && { background }) });
    clock += 5 * 60_000;
    expect(await dispatch(ctx, conn, frame(true))).toMatchObject({ ok: true });
    await committed();
    expect(store.sessions.get(session.tokenHash)!.expiresAt).toBe(session.expiresAt);
    expect(await dispatch(ctx, conn, frame(false))).toMatchObject({ ok: true });
    await committed();
    expect(store.sessions.get(session.tokenHash)!.expiresAt).toBe(clock + IDLE_MS);
    // An op that changes something is the operator at work, background or not (terminals.create, audited).
    const before = store.sessions.get(session.tokenHash)!.expiresAt;
    clock += 5 * 60_000;
    const create = JSON.stringify({ id: 3, op: 'terminals.create', args: { serial: 'BG-1' }, background: true });
    const audited = { ...ctx, events: () => undefined, log: createLogger({ level: 'silent', pretty: false }) } as OpsContext;
    expect(await dispatch(audited, conn, create)).toMatchObject({ ok: true });
    await committed();
    expect(store.sessions.get(session.tokenHash)!.expiresAt).toBe(clock + IDLE_MS);
    expect(clock + IDLE_MS).toBeGreaterThan(before);
  });

  it('are not extended by a resume the client marks as background (a page reconnecting by itself)', async () => {
    const { token, session } = await sessions.create(store.operators.get('alice')!);
    const fresh = (): Connection => ({ session: null, remoteAddress: '192.0.2.8', subscribe: () => undefined,
      unsubscribe: () => ({ topics: [], cashSerial: null }), unsubscribeAll: () => undefined });
    const ctx = { store, sessions, now: () => clock, logins: new LoginThrottle(() => clock) } as unknown as OpsContext; // resume uses no other part
    const resume = (background: boolean) => JSON.stringify({ id: 2, op: 'resume', args: { token }, ...(background && { background }) });
    clock += 5 * 60_000;
    expect(await dispatch(ctx, fresh(), resume(true))).toMatchObject({ ok: true, result: { user: 'alice' } });
    await committed();
    expect(store.sessions.get(session.tokenHash)!.expiresAt).toBe(session.expiresAt);
    expect(await dispatch(ctx, fresh(), resume(false))).toMatchObject({ ok: true });
    await committed();
    expect(store.sessions.get(session.tokenHash)!.expiresAt).toBe(clock + IDLE_MS);
  });

  it('that a logout removed stay removed when an op on another connection slid them just before', async () => {
    const { token, session } = await sessions.create(store.operators.get('alice')!);
    clock += 61_000; // the last slide was more than a minute ago: the next op writes one
    // Tab A logs out; tab B's op, in the same turn, still reads the committed record and queues its slide after the removal.
    const logout = sessions.destroy(session.tokenHash);
    expect(sessions.check(session.tokenHash).user).toBe('alice');
    await logout;
    await store.atomically(() => undefined); // every write queued before this one has committed
    expect(store.sessions.get(session.tokenHash)).toBeUndefined();
    expect(sessions.isLive(session.tokenHash)).toBe(false);
    clock += 60 * 60_000;
    expect(() => sessions.resume(token)).toThrow(expect.objectContaining({ code: 'session_expired' }));
  });

  it('that users passwd (another process) ended stay ended when an op slid them just before', async () => {
    const { session } = await sessions.create(store.operators.get('carol')!);
    clock += 61_000;
    expect(sessions.check(session.tokenHash).user).toBe('carol'); // the slide is queued, not yet committed
    // The real CLI, run while this turn of the event loop holds the slide back: it commits its removal first.
    const out = execFileSync(process.execPath, [SERVER_CLI, 'users', 'passwd', 'carol', '--password-stdin', '--data-dir', dataDir], {
      input: 'a brand new passphrase\n', env: { ...process.env, PAIRING_LOG_PRETTY: '0' },
    }).toString();
    expect(out).toContain('1 session ended');
    await store.atomically(() => undefined);
    expect(store.sessions.get(session.tokenHash)).toBeUndefined();
    expect(sessions.isLive(session.tokenHash)).toBe(false);
  });

  it('are not extended by server.status, which the web page may refresh by itself; operator ops extend them', () => {
    expect(OPS['server.status']!.slides).toBe(false);
    expect(OPS['terminals.list']!.slides).toBeUndefined();
    expect(Object.entries(OPS).filter(([, spec]) => spec.slides === false).map(([op]) => op)).toEqual(['server.status']);
  });
});
