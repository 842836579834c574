/**
 * @module One terminal's cash events on a store written before their index by terminal, against the real server: the
 * events paired terminals sent, and more written by the store as master writes them (seven in one millisecond), then
 * the index taken away and the server started again on the same data dir. What must hold: the index is built at start
 * (and logged), `cash.list` then pages each terminal's events in received order, whatever their ids sort as, an event
 * sent since is listed first, a deleted terminal's events are still listed, and an export of one terminal goes in
 * received order.
 */
import { open } from 'lmdb';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import type { CashEventView } from '../../src/protocol/types.js';
import type { CashEventRecord } from '../../src/store/records.js';
import { Store } from '../../src/store/store.js';
import { addOperator, connectOperator, pairRawTerminal, type TestOperator } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

interface Page { events: CashEventView[]; next: string | null }

/** Sent in this order: the id that sorts first is the last sent. */
const SENT = ['zz-first', 'mm-second', 'aa-third'];
/** Written by the store: one event, seven in one millisecond, one more; the seven's ids in no order. */
const SEEDED = { serial: 'UPG-SEEDED', at: Date.UTC(2026, 2, 1, 12), same: ['s4', 's1', 's6', 's0', 's3', 's5', 's2'] };

let server: ServerProcess;
let bob: AdminClient;
let terminal: RawTerminal;
let bobOp: TestOperator;

const send = async (eventId: string): Promise<void> => {
  const reply = await terminal.send(server.masterUrl, '/api/v1/cash-events', { body: JSON.stringify({ eventId, currency: 'EUR', denomination: 10, count: 1, at: new Date().toISOString() }) });
  expect(reply.json).toEqual({ accepted: true, duplicate: false });
};

beforeAll(async () => {
  server = await startServerProcess();
  const aliceOp = await addOperator(server.dataDir, 'alice');
  // Bob logs in after the restart: the TOTP helper hands alice one code per 30 s step.
  bobOp = await addOperator(server.dataDir, 'bob');
  const alice = await connectOperator(server, aliceOp);
  await alice.request('gate.open', { minutes: 10 });
  terminal = RawTerminal.create('UPG-SENT');
  await pairRawTerminal(alice, server, terminal);
  for (const eventId of SENT) await send(eventId);
  await alice.close();
  await server.stop();

  const store = Store.open(server.dataDir, { fieldKey: false });
  const record = (eventId: string, receivedAt: number): CashEventRecord =>
    ({ serial: SEEDED.serial, eventId, currency: 'USD', denomination: 5, count: 2, at: new Date(receivedAt).toISOString(), receivedAt });
  await store.atomically(() => {
    store.putCashEventSync(record('before', SEEDED.at - 1));
    for (const eventId of SEEDED.same) store.putCashEventSync(record(eventId, SEEDED.at));
    store.putCashEventSync(record('after', SEEDED.at + 1));
  });
  await store.close();
  // As a store written before the index: the events without it.
  const root = open({ path: path.join(server.dataDir, 'store'), maxDbs: 64, compression: false });
  await root.openDB({ name: 'cash-events-by-serial' }).clearAsync();
  await root.close();

  server = await startServerProcess({ dataDir: server.dataDir, ports: server.ports });
  bob = await connectOperator(server, bobOp);
}, 90_000);

afterAll(async () => {
  await bob?.close();
  await server?.stop();
});

/** Every page of a terminal's events, newest first, as the web page and cas follow them. */
async function listAll(serial: string, limit: number): Promise<string[][]> {
  const pages: string[][] = [];
  let before: string | undefined;
  do {
    const page = await bob.request<Page>('cash.list', { serial, limit, ...(before !== undefined && { before }) });
    pages.push(page.events.map((e) => e.eventId));
    before = page.next ?? undefined;
  } while (before !== undefined && pages.length < 100);
  return pages;
}

describe('cash events of a store written before their index by terminal', () => {
  it('are indexed at start-up, and the start says so', async () => {
    const indexed = await server.waitForLog((l) => l.msg === 'indexed the cash events of an older store by terminal');
    expect(indexed.events).toBe(SENT.length + SEEDED.same.length + 2);
  });

  it('are listed newest first by when they were received, whatever their ids sort as', async () => {
    expect(await listAll('UPG-SENT', 2)).toEqual([['aa-third', 'mm-second'], ['zz-first']]);
  });

  it('are paged through a millisecond shared by seven, each once, by event id last first', async () => {
    expect(await listAll(SEEDED.serial, 3)).toEqual([['after', 's6', 's5'], ['s4', 's3', 's2'], ['s1', 's0', 'before']]);
  });

  it('are followed by what the terminal sends since, listed first', async () => {
    await send('00-since');
    expect((await listAll('UPG-SENT', 10)).flat()).toEqual(['00-since', 'aa-third', 'mm-second', 'zz-first']);
  });

  it('of one terminal are exported in received order, a page at a time', async () => {
    const pages = [await bob.request<Page>('cash.export', { serial: SEEDED.serial, limit: 4 })];
    while (pages.at(-1)!.next !== null) pages.push(await bob.request<Page>('cash.next', { cursor: pages.at(-1)!.next, limit: 4 }));
    expect(pages.map((p) => p.events.map((e) => e.eventId))).toEqual([['before', 's0', 's1', 's2'], ['s3', 's4', 's5', 's6'], ['after']]);
  });

  it('sent again on many connections at once are stored once, with one place among the terminal\'s', async () => {
    // A retry whose first answer was lost may meet the first on another thread: a second place in the index, at another
    // receivedAt, would list the banknotes twice.
    const body = JSON.stringify({ eventId: 'retried', currency: 'EUR', denomination: 50, count: 3, at: new Date().toISOString() });
    const replies = await Promise.all(Array.from({ length: 16 }, () => terminal.send(server.masterUrl, '/api/v1/cash-events', { body })));
    expect(replies.map((r) => r.status)).toEqual(Array(16).fill(200));
    expect(replies.filter((r) => (r.json as { duplicate: boolean }).duplicate === false)).toHaveLength(1);
    expect((await listAll('UPG-SENT', 2)).flat()).toEqual(['retried', '00-since', 'aa-third', 'mm-second', 'zz-first']);
  });

  it('stay listed when the terminal is deleted', async () => {
    await bob.request('terminals.unpair', { serial: 'UPG-SENT' });
    await bob.request('terminals.delete', { serial: 'UPG-SENT' });
    expect((await listAll('UPG-SENT', 10)).flat()).toEqual(['retried', '00-since', 'aa-third', 'mm-second', 'zz-first']);
  });
});
