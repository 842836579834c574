/**
 * @module Operators reading the cash events real paired terminals sent: `cash.list` (one terminal's, newest first, a
 * page at a time), `cash.export` / `cash.next` (every event of a received-time range, audited once per export), and
 * `cas cash-events list|export`, on a server that keeps events for ever (pages by key) and on one with
 * `--cash-event-days` (pages by its time index).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import type { AuditEntry, CashEventView } from '../../src/protocol/types.js';
import { addOperator, casSession, connectOperator, pairRawTerminal, type Cas, type TestOperator } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, tempDir, type ServerProcess } from '../helpers/server-process.js';
import { refusalCode } from '../helpers/refusal.js';

interface Page { events: CashEventView[]; next: string | null }

/** Events per terminal: CSH-A has more than several pages of 4. */
const SENT = { 'CSH-A': 23, 'CSH-B': 9, 'CSH-C': 4 } as const;
type Serial = keyof typeof SENT;
const CURRENCIES = ['USD', 'EUR', 'CHF'];

const id = (e: Pick<CashEventView, 'serial' | 'eventId'>): string => `${e.serial}/${e.eventId}`;

// Operators of their own per server: the TOTP helper hands each user one code per 30 s step, across servers too.
describe.each([
  { mode: 'kept for ever (pages by key)', extraArgs: [] as string[], users: ['alice', 'bob'] },
  { mode: 'with --cash-event-days (pages by the time index)', extraArgs: ['--cash-event-days', '30'], users: ['carol', 'dave'] },
])('cash events for operators, $mode', ({ extraArgs, users: [first, second] }) => {
  let server: ServerProcess;
  let alice: AdminClient;
  let bob: AdminClient;
  let cas: Cas;
  let bobOp: TestOperator;
  const dir = tempDir('cash-export');
  /** What each terminal sent, in the order sent. */
  const sent = new Map<Serial, { eventId: string; currency: string; denomination: number; count: number; at: string }[]>();
  const byTime = extraArgs.length > 0;

  beforeAll(async () => {
    server = await startServerProcess({ extraArgs });
    const aliceOp = await addOperator(server.dataDir, first!);
    alice = await connectOperator(server, aliceOp);
    bobOp = await addOperator(server.dataDir, second!);
    bob = await connectOperator(server, bobOp);
    cas = await casSession(server, aliceOp);
    await alice.request('gate.open', { minutes: 10 });
    const terminals = new Map<Serial, RawTerminal>();
    for (const serial of Object.keys(SENT) as Serial[]) {
      const terminal = RawTerminal.create(serial);
      await pairRawTerminal(alice, server, terminal);
      terminals.set(serial, terminal);
      sent.set(serial, []);
    }
    await alice.request('terminals.create', { serial: 'CSH-NONE' });
    // Interleaved, as a fleet sends them; ids rise with the order sent, so events received in one millisecond keep it.
    const total = Math.max(...Object.values(SENT));
    for (let i = 0; i < total; i++) {
      for (const serial of Object.keys(SENT) as Serial[]) {
        if (i >= SENT[serial]) continue;
        const event = { eventId: `ev-${String(i).padStart(3, '0')}`, currency: CURRENCIES[i % 3]!, denomination: [5, 20, 0.5][i % 3]!, count: i + 1, at: new Date(Date.now() - 60_000 + i).toISOString() };
        const reply = await terminals.get(serial)!.send(server.masterUrl, '/api/v1/cash-events', { body: JSON.stringify(event) });
        expect(reply.json).toEqual({ accepted: true, duplicate: false });
        sent.get(serial)!.push(event);
      }
    }
  }, 120_000);

  afterAll(async () => {
    await alice?.close();
    await bob?.close();
    await server?.stop();
  });

  const list = (args: Record<string, unknown>) => alice.request<Page>('cash.list', args);

  /** Every page of an export, as a client follows them. */
  async function exportAll(client: AdminClient, args: Record<string, unknown>, limit: number): Promise<{ pages: Page[]; events: CashEventView[] }> {
    const pages = [await client.request<Page>('cash.export', { ...args, limit })];
    while (pages.at(-1)!.next !== null) pages.push(await client.request<Page>('cash.next', { cursor: pages.at(-1)!.next, limit }));
    return { pages, events: pages.flatMap((p) => p.events) };
  }

  it('lists a terminal\'s events newest first, with what it sent and when the server received them', async () => {
    for (const serial of Object.keys(SENT) as Serial[]) {
      const page = await list({ serial });
      expect(page.next).toBeNull();
      expect(page.events).toEqual([...sent.get(serial)!].reverse().map((e) => ({ serial, ...e, receivedAt: expect.any(String) })));
      const received = page.events.map((e) => Date.parse(e.receivedAt));
      expect(received).toEqual([...received].sort((a, b) => b - a));
    }
    expect(await list({ serial: 'CSH-NONE' })).toEqual({ events: [], next: null });
  });

  it('pages a terminal\'s events without losing or repeating one', async () => {
    const all = (await list({ serial: 'CSH-A' })).events;
    const seen: CashEventView[] = [];
    let before: string | null = null;
    let pages = 0;
    do {
      const page: Page = await list({ serial: 'CSH-A', limit: 4, ...(before !== null && { before }) });
      expect(page.events.length).toBe(page.next === null ? all.length % 4 || 4 : 4);
      seen.push(...page.events);
      before = page.next;
      pages++;
    } while (before !== null);
    expect(pages).toBe(Math.ceil(SENT['CSH-A'] / 4));
    expect(seen).toEqual(all);
  });

  it('refuses an unknown serial and bad arguments with their codes', async () => {
    expect(await refusalCode(list({ serial: 'CSH-NOBODY' }))).toBe('not_found');
    expect(await refusalCode(alice.request('cash.export', { serial: 'CSH-NOBODY' }))).toBe('not_found');
    for (const args of [{}, { serial: 'bad serial' }, { serial: 'CSH-A', limit: 0 }, { serial: 'CSH-A', limit: 1001 }, { serial: 'CSH-A', before: 'yesterday' }]) {
      expect(await refusalCode(list(args)), JSON.stringify(args)).toBe('invalid_field');
    }
    for (const args of [{ since: 'yesterday' }, { since: '2026-12-02T00:00:00Z', until: '2026-12-01T00:00:00Z' }, { limit: 0 }]) {
      expect(await refusalCode(alice.request('cash.export', args)), JSON.stringify(args)).toBe('invalid_field');
    }
    expect(await refusalCode(alice.request('cash.next', {}))).toBe('invalid_field');
    expect(await refusalCode(alice.request('cash.next', { cursor: 'eyJ1c2VyIjoiYWxpY2UifQ.AAAAAAAAAAAAAAAAAAAAAA' }))).toBe('invalid_field');
  });

  it('exports every event once, a page at a time, and audits the export once', async () => {
    const auditedBefore = (await alice.request<AuditEntry[]>('audit.list', { action: 'cash.export' })).length;
    const { pages, events } = await exportAll(alice, {}, 5);
    expect(pages.length).toBeGreaterThan(2);
    const expected = [...sent].flatMap(([serial, evs]) => evs.map((e) => ({ serial, ...e, receivedAt: expect.any(String) })));
    expect(events.length).toBe(expected.length);
    expect(new Set(events.map(id)).size).toBe(events.length);
    expect([...events].sort((a, b) => id(a).localeCompare(id(b)))).toEqual(expected.sort((a, b) => id(a).localeCompare(id(b))));
    if (byTime) {
      const received = events.map((e) => Date.parse(e.receivedAt));
      expect(received).toEqual([...received].sort((a, b) => a - b));
    }
    const audited = await alice.request<AuditEntry[]>('audit.list', { action: 'cash.export' });
    expect(audited.length).toBe(auditedBefore + 1);
    expect(audited[0]).toMatchObject({ user: first, action: 'cash.export', target: null, detail: { result: 'ok', since: null, until: null } });
  });

  it('exports one terminal\'s events, and the events received in a time range', async () => {
    const one = await exportAll(alice, { serial: 'CSH-B' }, 4);
    expect(one.events.map((e) => e.eventId).sort()).toEqual(sent.get('CSH-B')!.map((e) => e.eventId));
    expect(one.events.every((e) => e.serial === 'CSH-B')).toBe(true);

    const everything = (await exportAll(alice, {}, 1000)).events;
    const times = [...new Set(everything.map((e) => e.receivedAt))].sort();
    const since = times[Math.floor(times.length / 3)]!;
    const until = times[Math.floor((2 * times.length) / 3)]!;
    const inRange = everything.filter((e) => e.receivedAt >= since && e.receivedAt < until).map(id).sort();
    expect(inRange.length).toBeGreaterThan(0);
    expect(inRange.length).toBeLessThan(everything.length);
    const ranged = await exportAll(alice, { since, until }, 3);
    expect(ranged.events.map(id).sort()).toEqual(inRange);
    const audited = await alice.request<AuditEntry[]>('audit.list', { action: 'cash.export', limit: 1 });
    expect(audited[0]).toMatchObject({ detail: { since, until, result: 'ok' } });
  });

  it('continues only the exports the operator began: another operator\'s cursor, or an edited one, is refused', async () => {
    const first = await alice.request<Page>('cash.export', { limit: 2 });
    expect(first.next).not.toBeNull();
    expect(await refusalCode(bob.request('cash.next', { cursor: first.next }))).toBe('invalid_field');
    const [body, mac] = first.next!.split('.');
    const edited = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), user: second })).toString('base64url');
    expect(await refusalCode(bob.request('cash.next', { cursor: `${edited}.${mac}` }))).toBe('invalid_field');
    expect((await alice.request<Page>('cash.next', { cursor: first.next, limit: 2 })).events.length).toBe(2);
  });

  it('continues one terminal\'s export only for that terminal and that operator: its cursor edited to another serial is refused', async () => {
    const first = await alice.request<Page>('cash.export', { serial: 'CSH-B', limit: 1 });
    expect(first.next).not.toBeNull();
    const [body, mac] = first.next!.split('.');
    const cursor = JSON.parse(Buffer.from(body!, 'base64url').toString());
    // Read through the terminal's index: where it stopped among that terminal's events.
    expect(cursor).toMatchObject({ range: { serial: 'CSH-B' }, at: { by: 'serial' } });
    const edit = (changed: object): string => `${Buffer.from(JSON.stringify({ ...cursor, ...changed })).toString('base64url')}.${mac}`;
    expect(await refusalCode(alice.request('cash.next', { cursor: edit({ range: { ...cursor.range, serial: 'CSH-A' } }) }))).toBe('invalid_field');
    expect(await refusalCode(alice.request('cash.next', { cursor: edit({ at: { by: 'serial', after: { ...cursor.at.after, receivedAt: 0 } } }) }))).toBe('invalid_field');
    expect(await refusalCode(bob.request('cash.next', { cursor: first.next }))).toBe('invalid_field');
    const next = await alice.request<Page>('cash.next', { cursor: first.next, limit: 1000 });
    expect([...first.events, ...next.events].every((e) => e.serial === 'CSH-B')).toBe(true);
  });

  it('cas cash-events list prints the newest events, as a table or as JSON', async () => {
    const json = await cas(['cash-events', 'list', 'CSH-A', '--limit', '5']);
    expect(json.code).toBe(0);
    expect((json.json as CashEventView[]).map((e) => e.eventId)).toEqual(['ev-022', 'ev-021', 'ev-020', 'ev-019', 'ev-018']);
    const human = await casSession(server, bobOp, { json: false });
    const table = await human(['cash-events', 'list', 'CSH-C']);
    expect(table.code, table.stderr).toBe(0);
    const [head, ...rows] = table.stdout.trimEnd().split('\n');
    expect(head!.split(/\s+/)).toEqual(['TIME', 'EVENT', 'CURRENCY', 'DENOMINATION', 'COUNT', 'RECEIVED']);
    expect(rows.map((r) => r.split(/\s+/)[2])).toEqual(['ev-003', 'ev-002', 'ev-001', 'ev-000']);
    // Cut short by --limit (or the default 100): the table says older ones were left out, and how to get them.
    const cut = (await human(['cash-events', 'list', 'CSH-A', '--limit', '3'])).stdout.trimEnd().split('\n');
    expect(cut).toHaveLength(5);
    expect(cut.at(-1)).toBe('the newest 3 shown, older ones left out: --limit N, or every one with cas cash-events export --serial CSH-A --out FILE');
    const whole = (await human(['cash-events', 'list', 'CSH-A', '--limit', String(SENT['CSH-A'])])).stdout.trimEnd().split('\n');
    expect(whole).toHaveLength(1 + SENT['CSH-A']);
    const none = await cas(['cash-events', 'list', 'CSH-NONE']);
    expect(none.json).toEqual([]);
    const unknown = await cas(['cash-events', 'list', 'CSH-NOBODY']);
    expect(unknown.code).toBe(1);
    expect(unknown.json).toMatchObject({ error: 'not_found' });
  });

  it('cas cash-events export writes every event and nothing else, as CSV or JSON Lines', async () => {
    const expected = [...sent].flatMap(([serial, evs]) => evs.map((e) => `${serial}/${e.eventId}`)).sort();
    const csvFile = path.join(dir, 'all.csv');
    const csv = await cas(['cash-events', 'export', '--out', csvFile]);
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.json).toMatchObject({ out: csvFile, format: 'csv', events: expected.length, serial: null });
    expect(csv.stderr).toContain(`${expected.length} cash events written`);
    const [header, ...rows] = fs.readFileSync(csvFile, 'utf8').trimEnd().split('\n');
    expect(header).toBe('serial,eventId,currency,denomination,count,at,receivedAt');
    expect(rows.map((r) => r.split(',').slice(0, 2).join('/')).sort()).toEqual(expected);
    const a0 = rows.find((r) => r.startsWith('CSH-A,ev-001,'))!.split(',');
    expect(a0.slice(2, 6)).toEqual(['EUR', '20', '2', sent.get('CSH-A')![1]!.at]);
    expect(fs.statSync(csvFile).mode & 0o777).toBe(0o600);

    const jsonlFile = path.join(dir, 'b.jsonl');
    const jsonl = await cas(['cash-events', 'export', '--out', jsonlFile, '--format', 'jsonl', '--serial', 'CSH-B', '--since', '2000-01-01']);
    expect(jsonl.code, jsonl.stderr).toBe(0);
    const lines = fs.readFileSync(jsonlFile, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as CashEventView);
    expect(lines.map((e) => e.eventId).sort()).toEqual(sent.get('CSH-B')!.map((e) => e.eventId));
    expect(lines[0]).toEqual({ serial: 'CSH-B', ...sent.get('CSH-B')!.find((e) => e.eventId === lines[0]!.eventId), receivedAt: expect.any(String) });
    // Written whole: no temporary file is left beside it.
    expect(fs.readdirSync(dir).sort()).toEqual(['all.csv', 'b.jsonl']);

    // Dates alone, as for cas audit: --until names the last day exported, not the first left out.
    const days = rows.map((r) => r.split(',')[6]!.slice(0, 10)).sort();
    const byDay = await cas(['cash-events', 'export', '--out', path.join(dir, 'days.csv'), '--since', days[0]!, '--until', days.at(-1)!]);
    expect(byDay.code, byDay.stderr).toBe(0);
    expect(byDay.json).toMatchObject({ events: expected.length });
    fs.rmSync(path.join(dir, 'days.csv'));

    const empty = await cas(['cash-events', 'export', '--out', path.join(dir, 'future.csv'), '--since', '2999-01-01']);
    expect(empty.json).toMatchObject({ events: 0 });
    expect(fs.readFileSync(path.join(dir, 'future.csv'), 'utf8')).toBe('serial,eventId,currency,denomination,count,at,receivedAt\n');
  });

  it('cas cash-events export refuses bad flags before asking the server (exit 2), and a failed export leaves no file', async () => {
    for (const args of [[], ['--out', path.join(dir, 'x.csv'), '--format', 'xml'], ['--out', path.join(dir, 'x.csv'), '--since', '1 Dec'], ['--out', path.join(dir, 'x.csv'), '--since', '2026-02-30'],
      ['--out', path.join(dir, 'no-such-dir', 'x.csv')], ['--out', dir], ['--out', path.join(dir, 'x.csv'), '--since', '2026-12-02', '--until', '2026-12-01']]) {
      const res = await cas(['cash-events', 'export', ...args]);
      expect(res.code, args.join(' ')).toBe(2);
    }
    const refused = await cas(['cash-events', 'export', '--out', path.join(dir, 'nobody.csv'), '--serial', 'CSH-NOBODY']);
    expect(refused.code).toBe(1);
    expect(refused.json).toMatchObject({ error: 'not_found' });
    expect(fs.existsSync(path.join(dir, 'nobody.csv'))).toBe(false);
    // A file the export would have replaced stays as it was.
    fs.writeFileSync(path.join(dir, 'kept.csv'), 'last month\n');
    expect((await cas(['cash-events', 'export', '--out', path.join(dir, 'kept.csv'), '--serial', 'CSH-NOBODY'])).code).toBe(1);
    expect(fs.readFileSync(path.join(dir, 'kept.csv'), 'utf8')).toBe('last month\n');
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('keeps a deleted terminal\'s events readable', async () => {
    await alice.request('terminals.unpair', { serial: 'CSH-C' });
    await alice.request('terminals.delete', { serial: 'CSH-C' });
    expect((await list({ serial: 'CSH-C' })).events.map((e) => e.eventId)).toEqual(sent.get('CSH-C')!.map((e) => e.eventId).reverse());
  });

  it('exports what was received before the export began: its cursor, kept, reads nothing a terminal sent since', async () => {
    const first = await alice.request<Page>('cash.export', { limit: 1 });
    expect(first.next).not.toBeNull();
    const late = RawTerminal.create('CSH-LATE');
    await pairRawTerminal(alice, server, late);
    // Its serial sorts after every one sent before: an export paging by key would reach it too.
    const reply = await late.send(server.masterUrl, '/api/v1/cash-events', { body: JSON.stringify({ eventId: 'z-late', currency: 'USD', denomination: 5, count: 1, at: new Date().toISOString() }) });
    expect(reply.json).toEqual({ accepted: true, duplicate: false });
    for (let replay = 0; replay < 2; replay++) {
      const events = [...first.events];
      let next = first.next;
      while (next !== null) {
        const page: Page = await alice.request<Page>('cash.next', { cursor: next, limit: 1000 });
        events.push(...page.events);
        next = page.next;
      }
      expect(events.length).toBe(Object.values(SENT).reduce((a, b) => a + b, 0));
      expect(events.map((e) => e.serial)).not.toContain('CSH-LATE');
    }
    // A new export has it.
    expect((await exportAll(alice, {}, 1000)).events.map((e) => e.eventId)).toContain('z-late');
  });
});
