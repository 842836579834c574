/**
 * @module `audit.list` bounded by dates against the real server: exactly the entries made in the range, over page
 * boundaries, with entries on both sides of each edge; an entry appended late with an earlier time is in its day; a
 * store written before the audit's time index is indexed at start-up; `cas audit --since/--until` says the same.
 */
import { open } from 'lmdb';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import type { AuditEntry } from '../../src/protocol/types.js';
import { Store } from '../../src/store/store.js';
import { ok } from '../helpers/cli.js';
import { addOperator, casSession, connectOperator, type Cas, type TestOperator } from '../helpers/operator.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let operator: TestOperator;
let alice: AdminClient;
let cas: Cas;
let human: Cas;

const ms = (iso: string): number => Date.parse(iso);
/** The day asked for, 2026-03-05 UTC, and what was written on it and around it. */
const INSIDE: string[] = [
  '2026-03-05T00:00:00.000Z',
  ...Array.from({ length: 21 }, (_, i) => new Date(ms('2026-03-05T01:00:00Z') + i * 3_600_000 / 2).toISOString()),
  '2026-03-05T23:59:59.999Z',
];
const OUTSIDE = ['2026-03-03T12:00:00.000Z', '2026-03-04T23:59:59.999Z', '2026-03-06T00:00:00.000Z', '2026-03-07T08:00:00.000Z'];
/** Appended after all the others, with a time inside the day: as an `interrupted` entry is, at the next start. */
const LATE = '2026-03-05T12:00:00.250Z';

const list = (args: Record<string, unknown>) => alice.request<AuditEntry[]>('audit.list', args);

/** Every page of a listing, passing the last entry's seq back as `before`, as the page and cas do. */
async function allPages(args: Record<string, unknown>, limit: number): Promise<{ pages: AuditEntry[][]; entries: AuditEntry[] }> {
  const pages: AuditEntry[][] = [];
  let before: number | undefined;
  for (;;) {
    const page = await list({ ...args, limit, ...(before !== undefined && { before }) });
    pages.push(page);
    if (page.length < limit) break;
    before = page.at(-1)!.seq;
  }
  return { pages, entries: pages.flat() };
}

beforeAll(async () => {
  server = await startServerProcess();
  operator = await addOperator(server.dataDir, 'alice', { with2fa: true });
  await server.stop();
  // Entries of past days, written by the store itself, in an order of times that the day's edges cut through; then the
  // time index taken away, as a store written before it has none.
  const store = Store.open(server.dataDir, { fieldKey: false });
  const shuffled = [...INSIDE, ...OUTSIDE].sort((a, b) => ms(a) - ms(b));
  for (const at of shuffled) await store.appendAudit({ at: ms(at), user: 'seed', action: at.startsWith('2026-03-05') ? 'seed.inside' : 'seed.outside', target: at, detail: { result: 'ok' } });
  await store.appendAudit({ at: ms(LATE), user: 'seed', action: 'seed.inside', target: LATE, detail: { result: 'interrupted' } });
  await store.close();
  const root = open({ path: path.join(server.dataDir, 'store'), maxDbs: 64, compression: false });
  await root.openDB({ name: 'audit-times' }).clearAsync();
  await root.close();

  server = await startServerProcess({ dataDir: server.dataDir, ports: server.ports });
  alice = await connectOperator(server, operator);
  // One session for both outputs: a second login in the same TOTP step would be refused.
  human = await casSession(server, operator, { json: false });
  cas = (args, stdin) => human(['--json', ...args], stdin);
}, 60_000);

afterAll(async () => {
  await alice?.close();
  await server?.stop();
});

describe('audit.list with since and until', () => {
  it('indexes the entries of a store written before the time index at start-up', async () => {
    // The seeded entries and the one `users add` wrote before them.
    const indexed = await server.waitForLog((l) => l.msg === 'indexed the audit entries of an older store by time');
    expect(indexed.entries).toBeGreaterThanOrEqual(INSIDE.length + OUTSIDE.length + 1);
  });

  it('gives exactly the entries of the day, a page at a time, newest first by time', async () => {
    const { pages, entries } = await allPages({ since: '2026-03-05', until: '2026-03-05' }, 10);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 4]);
    const expected = [...INSIDE, LATE].sort((a, b) => ms(b) - ms(a));
    expect(entries.map((e) => e.at)).toEqual(expected);
    expect(entries.every((e) => e.action === 'seed.inside')).toBe(true);
    // The late entry is where its time is, not where its sequence number is.
    const late = entries.findIndex((e) => e.target === LATE);
    expect(entries[late - 1]!.seq).toBeLessThan(entries[late]!.seq);
  });

  it('takes times with and without offsets (UTC without), `until` before that instant and `since` from it', async () => {
    const hour = await allPages({ since: '2026-03-05T00:00:00+01:00', until: '2026-03-05T01:00:00+01:00' }, 10);
    expect(hour.entries.map((e) => e.at)).toEqual(['2026-03-04T23:59:59.999Z']);
    const edge = await allPages({ since: '2026-03-05 23:59:59.999', until: '2026-03-06T00:00:00.001Z' }, 10);
    expect(edge.entries.map((e) => e.at)).toEqual(['2026-03-06T00:00:00.000Z', '2026-03-05T23:59:59.999Z']);
  });

  it('bounds one side only, and combines with the other filters', async () => {
    const untilDay = await allPages({ until: '2026-03-04' }, 2);
    expect(untilDay.entries.map((e) => e.at)).toEqual(['2026-03-04T23:59:59.999Z', '2026-03-03T12:00:00.000Z']);
    const since = await allPages({ since: '2026-03-06', action: 'seed.outside' }, 1);
    expect(since.entries.map((e) => e.at)).toEqual(['2026-03-07T08:00:00.000Z', '2026-03-06T00:00:00.000Z']);
    // Today's entries (this login) are after every seeded one.
    const today = new Date().toISOString().slice(0, 10);
    const now = await list({ since: today, user: 'alice', action: 'login' });
    expect(now.length).toBeGreaterThan(0);
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
    expect(await list({ since: '2026-03-08', until: twoDaysAgo, user: 'alice' })).toEqual([]);
  });

  it('refuses a date that does not exist, text that is not a date, and an empty range', async () => {
    await expect(list({ since: '2026-02-30' })).rejects.toMatchObject({ code: 'invalid_field', message: expect.stringContaining('since: not a date') });
    await expect(list({ until: 'yesterday' })).rejects.toMatchObject({ code: 'invalid_field' });
    await expect(list({ since: '2026-03-06', until: '2026-03-05' })).rejects.toMatchObject({ code: 'invalid_field', message: expect.stringContaining('until: must be later than since') });
  });
});

describe('cas audit --since/--until', () => {
  it('prints the day\'s entries, pages back with --before, and refuses a bad date as a usage error', async () => {
    const day = ok(await cas(['audit', '--since', '2026-03-05', '--until', '2026-03-05', '--limit', '20'])) as AuditEntry[];
    expect(day.length).toBe(20);
    const rest = ok(await cas(['audit', '--since', '2026-03-05', '--until', '2026-03-05', '--before', String(day.at(-1)!.seq)])) as AuditEntry[];
    expect([...day, ...rest].map((e) => e.at)).toEqual([...INSIDE, LATE].sort((a, b) => ms(b) - ms(a)));
    const bad = await cas(['audit', '--since', '2026-13-01']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since must be a date (2026-03-05) or an ISO time');
    // An empty range is a usage mistake too, before anything is sent, as for cas cash-events export.
    const backwards = await cas(['audit', '--since', '2026-03-06', '--until', '2026-03-05']);
    expect(backwards.code).toBe(2);
    expect(backwards.stderr).toContain('--until must be later than --since (a date alone as --until covers that whole day)');
    // The table shows each entry's SEQ, which --before takes.
    const table = (await human(['audit', '--until', '2026-03-04', '--limit', '1'])).stdout.split('\n');
    expect(table[0]).toMatch(/^SEQ\s+AT\s+USER\s+ACTION/);
    expect(table[1]).toMatch(/^\d+\s+2026-03-04 23:59:59Z\s+seed\s+seed\.outside/);
  });
});
