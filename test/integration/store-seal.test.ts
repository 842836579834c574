/**
 * @module The store's seal against the real server (src/store/index-seal.ts): server processes started and stopped on
 * one data dir, the store written between runs as an older build without the indexes writes it. What must hold: a
 * start after a clean stop (SIGTERM) checks no index; a start after a kill, or after another process wrote the store,
 * checks them all (and says so); and one after an older build forgot one terminal's event and stored another, the
 * counts equal, repairs the index `cash.list` pages through, so that it lists what the store holds. An offline command
 * that holds the data dir's lock (`identity prepare|promote`), and a backup, keep the seal: the start after checks nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CashEventView } from '../../src/protocol/types.js';
import type { CashEventRecord } from '../../src/store/records.js';
import { compositeKey, Store } from '../../src/store/store.js';
import { ok, serverCli } from '../helpers/cli.js';
import { addOperator, connectOperator } from '../helpers/operator.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const CHECKED = /^checked the store's indexes entry by entry/;
const SERIAL = 'SEAL-1';
const AT = Date.UTC(2026, 2, 1, 12);

let server: ServerProcess;

/** Stops the server (a clean stop unless `signal` says otherwise), runs `between` on its data dir, and starts it again. */
async function restart(between: () => Promise<void> = async () => undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<boolean> {
  const { dataDir, ports } = server;
  await server.stop(signal);
  await between();
  server = await startServerProcess({ dataDir, ports });
  // Logged before `listening`, which startServerProcess waits for.
  return server.logs.some((l) => typeof l.msg === 'string' && CHECKED.test(l.msg));
}

/** Writes straight into the cash events' own table, as a build without their indexes does; `fieldKey: false`: no secrets. */
async function asOlderBuild(write: (store: Store) => void): Promise<void> {
  const store = Store.open(server.dataDir, { fieldKey: false });
  try {
    await store.atomically(() => write(store));
  } finally {
    await store.close();
  }
}

const event = (eventId: string, receivedAt: number): CashEventRecord =>
  ({ serial: SERIAL, eventId, currency: 'EUR', denomination: 10, count: 1, at: new Date(receivedAt).toISOString(), receivedAt });

beforeAll(async () => {
  server = await startServerProcess();
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

describe('the store\'s seal across restarts', () => {
  it('a first start checks the indexes; a start after a clean stop does not; one after a kill does', async () => {
    expect(server.logs.some((l) => typeof l.msg === 'string' && CHECKED.test(l.msg))).toBe(true);
    expect(await restart()).toBe(false);
    expect(await restart(undefined, 'SIGKILL')).toBe(true);
    expect(await restart()).toBe(false);
  }, 60_000);

  it('after another process wrote the store, checks every index, and repairs one an older build left wrong with the counts equal', async () => {
    // A store as this version writes it, the events with their places (an offline write: the next start checks)…
    expect(await restart(() => asOlderBuild((store) => {
      for (const [i, id] of ['a', 'b', 'c'].entries()) store.putCashEventSync(event(id, AT + i));
    }))).toBe(true);
    expect(await restart()).toBe(false);
    // …then an older build after a downgrade: its retention forgets `a`, the terminal reports `d`, neither in the index.
    expect(await restart(() => asOlderBuild((store) => {
      store.cashEvents.removeSync(compositeKey(SERIAL, 'a'));
      store.cashEvents.putSync(compositeKey(SERIAL, 'd'), event('d', AT + 10));
    }))).toBe(true);
    const repaired = await server.waitForLog((l) => l.msg === 'indexed the cash events of an older store by terminal');
    expect(repaired.events).toBe(3);
    const alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
    try {
      const page = await alice.request<{ events: CashEventView[] }>('cash.list', { serial: SERIAL, limit: 10 });
      expect(page.events.map((e) => e.eventId)).toEqual(['d', 'c', 'b']);
    } finally {
      await alice.close();
    }
  }, 90_000);

  it('identity prepare, promote and a backup on the stopped server keep its seal: the next start checks no index, and each is audited', async () => {
    const identity = (command: string) => async (): Promise<void> => void ok(await serverCli(['identity', command, '--json', '--data-dir', server.dataDir]));
    expect(await restart()).toBe(false);
    expect(await restart(identity('prepare'))).toBe(false);
    expect(await restart(identity('promote'))).toBe(false);
    // A backup takes no lock, and keeps the seal all the same: its write checks the seal in its own transaction.
    expect(await restart(async () => void ok(await serverCli(['backup', '--out', `${server.dataDir}-backup`, '--json', '--data-dir', server.dataDir])))).toBe(false);
    const store = Store.open(server.dataDir, { fieldKey: false });
    try {
      const entries = [...store.audit.getRange({ reverse: true, limit: 3 })].map(({ value }) => [value.action, value.detail?.result]);
      expect(entries).toEqual([['server.backup', 'ok'], ['server.identity_promote', 'ok'], ['server.identity_prepare', 'ok']]);
      expect(store.auditIntents.getCount()).toBe(0);
    } finally {
      await store.close();
    }
  }, 90_000);
});
