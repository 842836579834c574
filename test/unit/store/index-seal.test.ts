/**
 * @module Unit tests: the seal a clean stop leaves on the store (index-seal.ts), on a real LMDB store reopened between
 * "runs". What must hold: a start after a clean stop reads no index; a start after anything else wrote checks every
 * index entry by entry, and repairs those a build without them left wrong with the counts still equal (events removed
 * and others added, a terminal renamed, one deleted and another created); a start removes the seal, so that a run cut
 * short leaves none.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { breakSeal, KEPT_INDEXES, lastTxnId, sealIntact, sealStore, writeKeepingSeal, type IndexSeal } from '../../../src/store/index-seal.js';
import type { CashEventRecord, TerminalRecord } from '../../../src/store/records.js';
import { upgradeStore } from '../../../src/store/store-upgrade.js';
import { compositeKey, foldSerial, Store } from '../../../src/store/store.js';
import { searchEntry } from '../../../src/store/terminal-search.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const nowSec = Math.floor(NOW / 1000);
let dataDir: string;
let store: Store | null = null;

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'index-seal-'));
});

afterEach(async () => {
  await store?.close();
  store = null;
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** One run of a server of this version: opened, upgraded (what main.ts does first), `act`, sealed at its clean stop. */
async function run(act: (s: Store) => void = () => undefined, opts: { seal?: boolean } = {}): Promise<ReturnType<typeof upgradeStore>> {
  store = Store.open(dataDir, { fieldKey: false, cashEventTimes: true });
  const upgrade = upgradeStore(store, nowSec, 300);
  await store.atomically(() => act(store!));
  if (opts.seal !== false) expect(await sealStore(store, NOW)).toBe(true);
  await store.close();
  store = null;
  return upgrade;
}

/** A build without the indexes: it writes the records alone, straight into their tables, and seals nothing. */
async function olderBuild(act: (s: Store) => void): Promise<void> {
  const older = Store.open(dataDir, { fieldKey: false });
  await older.atomically(() => act(older));
  await older.close();
}

const event = (serial: string, eventId: string, receivedAt: number): CashEventRecord =>
  ({ serial, eventId, currency: 'EUR', denomination: 20, count: 1, at: new Date(receivedAt).toISOString(), receivedAt });

const terminal = (serial: string, name: string): TerminalRecord => ({
  serial, name, location: '', contact: '', vpn: false, createdAt: NOW, createdBy: 'test',
  tfp: null, certDer: null, pairedAt: null, pairedBy: null, lastSeenAt: null,
});

/** What cash.list pages through for `serial`, and what the retention reads, by event id. */
function indexed(s: Store, serial: string): { bySerial: string[]; byTime: string[] } {
  return {
    bySerial: s.cashEventsBySerial.newest(serial, null, 1_000).map((e) => e.eventId),
    byTime: s.cashEventTimes.oldest(Number.MAX_SAFE_INTEGER, 1_000).filter((e) => e.serial === serial).map((e) => e.eventId),
  };
}

const NOTHING = { timeline: 0, foldedSerials: 0, searchEntries: 0, cashEventTimes: 0, cashEventsBySerial: 0, auditTimes: 0 };

describe('the store\'s seal', () => {
  it('after a clean stop: the next start reads no index, and removes the seal, so a start after a run cut short checks them', async () => {
    expect(await run((s) => s.putCashEventSync(event('ATM-1', 'a', NOW)))).toMatchObject({ verified: true });
    expect(await run()).toMatchObject({ verified: false, ...NOTHING });
    // A run that ended without its stop (a crash, a kill) left no seal: everything is checked, and found whole.
    await run(() => undefined, { seal: false });
    expect(await run()).toMatchObject({ verified: true, ...NOTHING });
    store = Store.open(dataDir, { fieldKey: false });
    expect(store.settings.get('index-seal')).toMatchObject({ indexes: [...KEPT_INDEXES, 'cashEventTimes'], sealedAt: NOW });
    expect(breakSeal(store)).toEqual({ indexes: new Set([...KEPT_INDEXES, 'cashEventTimes']), sealedAt: NOW });
    expect(store.settings.get('index-seal')).toBeUndefined();
    expect(breakSeal(store)).toBeNull();
  });

  it('is kept by readers: a backup taken of a sealed store leaves the next start unchecked', async () => {
    await run((s) => s.putCashEventSync(event('ATM-1', 'a', NOW)));
    const reader = Store.open(dataDir, { fieldKey: false });
    expect(reader.cashEventsBySerial.newest('ATM-1', null, 10)).toHaveLength(1);
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'index-seal-copy-'));
    await reader.root.backup(copy, true);
    expect(fs.existsSync(path.join(copy, 'data.mdb'))).toBe(true);
    fs.rmSync(copy, { recursive: true, force: true });
    await reader.close();
    expect(await run()).toMatchObject({ verified: false });
  });

  it('is broken by any write after it, by a process of this version too: the next start checks the indexes', async () => {
    await run((s) => s.putCashEventSync(event('ATM-1', 'a', NOW)));
    // An offline command of this version, which keeps the indexes: nothing to repair, but nothing vouches for that.
    const offline = Store.open(dataDir, { fieldKey: false, cashEventTimes: true });
    await offline.atomically(() => offline.putCashEventSync(event('ATM-1', 'b', NOW + 1)));
    await offline.close();
    expect(await run()).toMatchObject({ verified: true, ...NOTHING });
  });

  it('missing after a build without the indexes wrote, with every count equal: each index is checked entry by entry and repaired', async () => {
    await run((s) => {
      for (const id of ['a', 'b', 'c']) s.putCashEventSync(event('ATM-1', id, NOW + id.charCodeAt(0)));
      for (const serial of ['ATM-1', 'ATM-2']) s.putTerminalSync(terminal(serial, `Kiosk ${serial}`));
      for (const serial of ['ATM-1', 'ATM-2']) s.foldedSerials.putSync(foldSerial(serial), serial);
    });
    // An older build after a downgrade: its retention forgets `a`, a terminal reports `d`; an operator renames ATM-1,
    // deletes ATM-2 and creates atm-3. Every table keeps its count, so counts alone saw nothing to do.
    await olderBuild((s) => {
      s.cashEvents.removeSync(compositeKey('ATM-1', 'a'));
      s.cashEvents.putSync(compositeKey('ATM-1', 'd'), event('ATM-1', 'd', NOW + 1_000));
      s.terminals.putSync('ATM-1', terminal('ATM-1', 'Moved to Zürich'));
      s.terminals.removeSync('ATM-2');
      s.terminals.putSync('atm-3', terminal('atm-3', 'New'));
    });
    store = Store.open(dataDir, { fieldKey: false, cashEventTimes: true });
    expect(indexed(store, 'ATM-1')).toEqual({ bySerial: ['c', 'b', 'a'], byTime: ['a', 'b', 'c'] });

    expect(upgradeStore(store, nowSec, 300)).toMatchObject({ verified: true, cashEventsBySerial: 3, cashEventTimes: 3, searchEntries: 2, foldedSerials: 2 });
    expect(indexed(store, 'ATM-1')).toEqual({ bySerial: ['d', 'c', 'b'], byTime: ['b', 'c', 'd'] });
    expect(store.terminalSearch.db.get('ATM-1')).toEqual(searchEntry(terminal('ATM-1', 'Moved to Zürich')));
    expect([...store.terminalSearch.db.getKeys()]).toEqual(['ATM-1', 'atm-3']);
    expect(Object.fromEntries(store.foldedSerials.getRange().map(({ key, value }) => [key, value]))).toEqual({ 'ATM-1': 'ATM-1', 'ATM-3': 'atm-3' });
    // Repaired once: a start after that (unsealed: this one did not stop) finds every index whole.
    expect(upgradeStore(store, nowSec, 300)).toMatchObject({ verified: true, ...NOTHING });
  });

  it('checks both cash indexes in one read of the events: the one that is wrong is refilled and the other left alone, both when both are wrong', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const at = (id: string): number => NOW + id.charCodeAt(0);
    const right = { bySerial: [...ids].reverse(), byTime: ids };
    await run((s) => {
      for (const id of ids) s.putCashEventSync(event('ATM-1', id, at(id)));
    });
    // An entry gone and one of no event, the counts equal: the first event's in one index, the last's in the other.
    const stray = event('ATM-1', 'zz', NOW + 5_000);
    const damage = (index: 'cashEventTimes' | 'cashEventsBySerial', id: string) => (s: Store): void => {
      s[index].removeSync(event('ATM-1', id, at(id)));
      s[index].putSync(stray);
    };
    const upgrade = async (): Promise<ReturnType<typeof upgradeStore>> => {
      store = Store.open(dataDir, { fieldKey: false, cashEventTimes: true });
      const done = upgradeStore(store, nowSec, 300);
      expect(indexed(store, 'ATM-1')).toEqual(right);
      await store.close();
      store = null;
      return done;
    };

    await olderBuild(damage('cashEventTimes', 'a'));
    expect(await upgrade()).toMatchObject({ verified: true, cashEventTimes: 5, cashEventsBySerial: 0 });
    await olderBuild(damage('cashEventsBySerial', 'a'));
    expect(await upgrade()).toMatchObject({ verified: true, cashEventTimes: 0, cashEventsBySerial: 5 });
    // The second found wrong only at the read's last event, after the first dropped out at its first.
    await olderBuild((s) => {
      damage('cashEventTimes', 'a')(s);
      damage('cashEventsBySerial', 'e')(s);
    });
    expect(await upgrade()).toMatchObject({ verified: true, cashEventTimes: 5, cashEventsBySerial: 5 });
    expect(await upgrade()).toMatchObject({ verified: true, ...NOTHING });
  });

  it('of a run that kept no cash events by time does not vouch for that index: a run that keeps them checks it', async () => {
    store = Store.open(dataDir, { fieldKey: false });
    upgradeStore(store, nowSec, 300);
    // --cash-event-days off: events are written without their place in time, and the counts of this run stay equal
    // only by chance (an older time entry of an event forgotten by a build without the index).
    await store.atomically(() => {
      store!.cashEventTimes.putSync(event('ATM-1', 'gone', NOW - 1));
      store!.putCashEventSync(event('ATM-1', 'a', NOW));
    });
    expect(await sealStore(store, NOW)).toBe(true);
    await store.close();
    store = null;
    expect(await run()).toMatchObject({ verified: false, cashEventTimes: 1, cashEventsBySerial: 0 });
    store = Store.open(dataDir, { fieldKey: false, cashEventTimes: true });
    expect(indexed(store, 'ATM-1').byTime).toEqual(['a']);
  });

  it('vouches only for the indexes it names: a seal of a version that did not keep one has that one checked', async () => {
    await run((s) => {
      s.putTerminalSync(terminal('ATM-1', 'Kiosk'));
      s.foldedSerials.putSync(foldSerial('ATM-1'), 'ATM-1');
    });
    /** What an older version that seals, but keeps no search index, leaves after writing: its own seal, intact. */
    const sealedBy = async (seal: Omit<IndexSeal, 'txnId'>, act: (s: Store) => void): Promise<void> => {
      const older = Store.open(dataDir, { fieldKey: false });
      older.settings.get('index-seal') && older.root.transactionSync(() => older.settings.removeSync('index-seal'));
      await older.atomically(() => act(older));
      older.root.transactionSync(() => older.settings.putSync('index-seal', { ...seal, txnId: lastTxnId(older.root) + 1 }));
      await older.close();
    };
    const withoutSearch = KEPT_INDEXES.filter((index) => index !== 'terminalSearch');
    await sealedBy({ indexes: withoutSearch, sealedAt: NOW }, (s) => s.terminals.putSync('ATM-1', terminal('ATM-1', 'Moved')));
    store = Store.open(dataDir, { fieldKey: false });
    expect(upgradeStore(store, nowSec, 300)).toMatchObject({ verified: true, ...NOTHING, searchEntries: 1 });
    expect(store.terminalSearch.db.get('ATM-1')).toEqual(searchEntry(terminal('ATM-1', 'Moved')));
    await store.close();
    store = null;
    // A seal from before the list (a build of this version's first days) names none: everything is checked.
    await sealedBy({ cashEventTimes: true, sealedAt: NOW } as unknown as Omit<IndexSeal, 'txnId'>, (s) => s.terminals.putSync('ATM-1', terminal('ATM-1', 'Back')));
    store = Store.open(dataDir, { fieldKey: false });
    expect(upgradeStore(store, nowSec, 300)).toMatchObject({ verified: true, ...NOTHING, searchEntries: 1 });
  });

  it('takes the audit log\'s time index on its count, unread (append-only in every version); a build without it that appended has it refilled', async () => {
    await run();
    store = Store.open(dataDir, { fieldKey: false });
    for (const n of [1, 2, 3]) await store.appendAudit({ at: NOW + n, user: 'admin', action: 'test', target: null, detail: {} });
    // What nothing reads (every entry's value is `true`): a check entry by entry would find it and write the index anew.
    await store.root.openDB<unknown, [number, number]>({ name: 'audit-times' }).put([NOW + 2, 2], 'not read');
    await store.close();
    store = Store.open(dataDir, { fieldKey: false });
    expect(upgradeStore(store, nowSec, 300)).toMatchObject({ verified: true, auditTimes: 0 });
    await store.close();
    // An older build appends two entries without their times: the counts differ, and the index is filled anew.
    await olderBuild((s) => {
      for (const seq of [4, 5]) s.audit.putSync(seq, { seq, at: NOW + seq, user: 'admin', action: 'test', target: null, detail: {}, prevHash: '', hash: '' });
    });
    store = Store.open(dataDir, { fieldKey: false });
    expect(upgradeStore(store, nowSec, 300)).toMatchObject({ verified: true, auditTimes: 5 });
  });

  it('is written after this run\'s writes that nobody awaited, so that their commit at the close does not break it', async () => {
    await run();
    store = Store.open(dataDir, { fieldKey: false, cashEventTimes: true });
    upgradeStore(store, nowSec, 300);
    // As a session's touch: queued, committed by lmdb-js in a later batch.
    void store.root.put('a write nobody awaited', 1);
    expect(await sealStore(store, NOW)).toBe(true);
    await store.close();
    store = Store.open(dataDir, { fieldKey: false, cashEventTimes: true });
    expect(upgradeStore(store, nowSec, 300)).toMatchObject({ verified: false });
  });

  it('is kept by an offline tool\'s own whole writes (writeKeepingSeal: the fleet benchmark emptying its cash events), and not made where there was none', async () => {
    await run((s) => s.putCashEventSync(event('ATM-1', 'a', NOW)));
    const clearCash = (s: Store) => (): void => {
      s.cashEvents.clearSync();
      s.cashEventTimes.clearSync();
      s.cashEventsBySerial.clearSync();
    };
    store = Store.open(dataDir, { fieldKey: false, cashEventTimes: true });
    expect(sealIntact(store)).toBe(true);
    expect((await writeKeepingSeal(store, clearCash(store))).sealed).toBe(true);
    expect(sealIntact(store)).toBe(true);
    await store.close();
    expect(await run()).toMatchObject({ verified: false, ...NOTHING });

    // Written since the seal by another: the tool's writes keep nothing, and the next start checks.
    await olderBuild((s) => s.cashEvents.putSync('b', event('ATM-1', 'b', NOW)));
    store = Store.open(dataDir, { fieldKey: false, cashEventTimes: true });
    expect(sealIntact(store)).toBe(false);
    expect((await writeKeepingSeal(store, () => store!.cashEvents.putSync('c', event('ATM-1', 'c', NOW)))).sealed).toBe(false);
    await store.close();
    store = Store.open(dataDir, { fieldKey: false, cashEventTimes: true });
    expect(upgradeStore(store, nowSec, 300)).toMatchObject({ verified: true, cashEventsBySerial: 2 });
  });

  it('leaves a stop sealed, and saying so, when a backup\'s write kept the seal just after it (no false warning at the stop), and gives what the write returned', async () => {
    store = Store.open(dataDir, { fieldKey: false, cashEventTimes: true });
    upgradeStore(store, nowSec, 300);
    const s = store;
    // In this order: the stop's seal commits first, then the backup's entry, before the stop reads the store's last id.
    const sealing = sealStore(s, NOW);
    const keeping = writeKeepingSeal(s, () => s.appendAuditSync({ at: NOW, user: 'cli:root', action: 'server.backup', target: null, detail: { result: 'ok' } }));
    // With what its writes returned: the entry, as the audit log holds it.
    const kept = await keeping;
    expect(kept).toEqual({ sealed: true, value: expect.objectContaining({ action: 'server.backup', seq: expect.any(Number) }) });
    expect(s.audit.get(kept.value.seq)).toEqual(kept.value);
    expect(await sealing).toBe(true);
    await s.close();
    store = null;
    expect(await run()).toMatchObject({ verified: false, ...NOTHING });
  });

  it('resolves once its writes are on disk, not at their commit: a backup\'s or an identity change\'s audit entry is durable before the command reports', async () => {
    await run();
    store = Store.open(dataDir, { fieldKey: false, cashEventTimes: true });
    const s = store;
    const order: string[] = [];
    await writeKeepingSeal(s, () => {
      s.appendAuditSync({ at: NOW, user: 'cli:root', action: 'server.backup', target: null, detail: { result: 'ok' } });
      // Once transactionSync has returned (this runs inside it): the flush lmdb then has pending is this write's.
      queueMicrotask(() => void Promise.resolve(s.root.flushed).then(() => order.push('on disk')));
    }).then(() => order.push('resolved'));
    expect(order).toEqual(['on disk', 'resolved']);
  });
});
