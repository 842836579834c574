/**
 * @module The operators' lists against the real server: terminals a page at a time in serial order, searched and
 * filtered on the server; pairing requests newest first, a page at a time; and a store written before the pairing
 * timeline, indexed at start-up.
 */
import { open } from 'lmdb';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/admin/admin-client.js';
import { formatFingerprint } from '../../src/crypto/fingerprint.js';
import type { PairingView, TerminalView } from '../../src/protocol/types.js';
import { ok } from '../helpers/cli.js';
import { addOperator, casSession, connectOperator, nextPush, pairRawTerminal, type TestOperator } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

interface TerminalPage { terminals: TerminalView[]; next: string | null; total: number; matching: number | null }
interface PairingPage { requests: PairingView[]; next: string | null }

let server: ServerProcess;
let operator: TestOperator;
let alice: AdminClient;
const paired: RawTerminal[] = [];
let pendingRequestId: string;

const terminals = (args: Record<string, unknown> = {}) => alice.request<TerminalPage>('terminals.list', args);
const pairing = (args: Record<string, unknown> = {}) => alice.request<PairingPage>('pairing.list', args);
const serial = (i: number) => `LST-${String(i).padStart(4, '0')}`;
const CREATED = 230;

/** Every page of a listing, following `next` as a client does. */
async function allTerminals(args: Record<string, unknown>): Promise<{ pages: TerminalPage[]; serials: string[] }> {
  const pages: TerminalPage[] = [];
  let after: string | null = null;
  do {
    const page: TerminalPage = await terminals({ ...args, ...(after && { after }) });
    pages.push(page);
    after = page.next;
  } while (after);
  return { pages, serials: pages.flatMap((p) => p.terminals.map((t) => t.serial)) };
}

beforeAll(async () => {
  server = await startServerProcess();
  operator = await addOperator(server.dataDir, 'alice');
  alice = await connectOperator(server, operator);
  await alice.request('gate.open', { minutes: 10 });
  // Created in shuffled order: the listing's order must be the store's, not the order of creation.
  const order = Array.from({ length: CREATED }, (_, i) => i).sort((a, b) => ((a * 7919) % CREATED) - ((b * 7919) % CREATED));
  for (const i of order) {
    await alice.request('terminals.create', { serial: serial(i), name: i === 170 ? 'Café Zürich' : `Kiosk ${i}`, location: `Street ${i}`, contact: i === 180 ? '+15550180' : '' });
  }
  for (const i of [3, 120, 201]) {
    const terminal = RawTerminal.create(`LST-P${i}`);
    await pairRawTerminal(alice, server, terminal);
    paired.push(terminal);
  }
  await alice.request('terminals.create', { serial: 'LST-WAIT' });
  ({ requestId: pendingRequestId } = await RawTerminal.create('LST-WAIT').requestPairing(server.gateUrl, server.sfp));
}, 120_000);

afterAll(async () => {
  await alice?.close();
  await server?.stop();
});

describe('terminals.list', () => {
  it('gives 100 terminals a page in serial order, and every terminal once over all pages', async () => {
    const { pages, serials } = await allTerminals({});
    const all = CREATED + paired.length + 1;
    expect(pages.map((p) => p.terminals.length)).toEqual([100, 100, all - 200]);
    expect(pages.every((p) => p.total === all && p.matching === all)).toBe(true);
    expect(pages.at(-1)!.next).toBeNull();
    expect(serials).toEqual([...serials].sort());
    expect(new Set(serials).size).toBe(all);
    expect(serials).toContain('LST-WAIT');
  });

  it('continues after the serial given, with the page size asked for', async () => {
    const page = await terminals({ after: serial(9), limit: 3 });
    expect(page.terminals.map((t) => t.serial)).toEqual([serial(10), serial(11), serial(12)]);
    expect(page.next).toBe(serial(12));
    // A serial that is not in the store is a position all the same.
    expect((await terminals({ after: 'LST-0009A', limit: 1 })).terminals[0]!.serial).toBe(serial(10));
  });

  it('searches on the server without case, accents or separators, across every page', async () => {
    expect((await terminals({ query: 'cafe zurich' })).terminals.map((t) => t.serial)).toEqual([serial(170)]);
    expect((await terminals({ query: '+1 555 0180' })).terminals.map((t) => t.serial)).toEqual([serial(180)]);
    const tfp = formatFingerprint(paired[1]!.tfp).slice(0, 20);
    expect((await terminals({ query: tfp })).terminals.map((t) => t.serial)).toEqual(['LST-P120']);
    const none = await terminals({ query: 'no such terminal anywhere' });
    expect(none).toEqual({ terminals: [], next: null, total: CREATED + paired.length + 1, matching: 0 });
    // A search with more matches than a page pages like the whole list.
    const { pages, serials } = await allTerminals({ query: 'kiosk 1', limit: 50 });
    expect(pages.length).toBe(3);
    expect(serials).toEqual([...serials].sort());
    expect(serials.length).toBe(1 + 10 + 100 - 1); // Kiosk 1, 10–19, 100–199, but 170 is the café
    // The first page counts every match, past its own 50; the pages after it do not read the table again to count.
    expect(pages.map((p) => p.matching)).toEqual([110, null, null]);
  });

  it('finds a terminal by what an operator changed, and no longer by what was there before', async () => {
    await alice.request('terminals.update', { serial: serial(42), contact: '+44 20 7946 0958', name: 'Kiosk Dvořák' });
    expect((await terminals({ query: '442079460958' })).terminals.map((t) => t.serial)).toEqual([serial(42)]);
    expect((await terminals({ query: 'dvorak' })).terminals.map((t) => t.serial)).toEqual([serial(42)]);
    expect((await terminals({ query: 'kiosk 42' })).terminals).toEqual([]);
  });

  it('filters by state', async () => {
    expect((await allTerminals({ state: 'paired' })).serials).toEqual(['LST-P120', 'LST-P201', 'LST-P3']);
    expect((await terminals({ state: 'pending' })).terminals.map((t) => [t.serial, t.state])).toEqual([['LST-WAIT', 'pending']]);
    // The requests that wait are a few: counted on every page, the ones before it too.
    expect(await terminals({ state: 'pending', after: 'LST-WAIT' })).toMatchObject({ terminals: [], matching: 1 });
    expect((await terminals({ state: 'paired', limit: 1 })).matching).toBe(3);
    const expected = await allTerminals({ state: 'expected', limit: 1000 });
    expect(expected.serials.length).toBe(CREATED);
    expect((await terminals({ state: 'paired', query: 'p2' })).terminals.map((t) => t.serial)).toEqual(['LST-P201']);
  });

  it('lists an unpaired terminal as expected, and no longer finds it by the TFP it had', async () => {
    const terminal = paired[2]; // LST-P201
    await alice.request('terminals.unpair', { serial: terminal!.serial });
    expect((await terminals({ query: terminal!.tfp.slice(0, 16) })).terminals).toEqual([]);
    expect((await terminals({ state: 'expected', query: terminal!.serial })).terminals.map((t) => t.serial)).toEqual([terminal!.serial]);
    expect((await allTerminals({ state: 'paired' })).serials).toEqual(['LST-P120', 'LST-P3']);
  });

  it('refuses a page size, a state or a position it does not know', async () => {
    for (const args of [{ limit: 0 }, { limit: 1001 }, { limit: 2.5 }, { state: 'lost' }, { after: '../etc' }, { query: 'q'.repeat(129) }]) {
      await expect(terminals(args)).rejects.toMatchObject({ code: 'invalid_field' });
    }
  });
});

describe('cas terminals list', () => {
  /** Long enough to be cut in the table, as a contact with a name and an extension is. */
  const LONG = 'Front desk, ask for Mrs Nunez: +44 20 7946 0958 ext 123';

  it('shows the location contact, cut in its middle when long, and how many terminals there are and match', async () => {
    await alice.request('terminals.update', { serial: serial(181), contact: LONG });
    // Another operator: alice's logins in this file already take the TOTP steps they may.
    const cas = await casSession(server, await addOperator(server.dataDir, 'bob'), { json: false });
    const out = (await cas(['terminals', 'list', '--search', 'street 18'])).stdout.split('\n');
    expect(out[0]).toMatch(/^SERIAL\s+STATE\s+NAME\s+LOCATION\s+CONTACT\s+TFP\s+LAST SEEN$/);
    const contact = (row: string | undefined): string => row!.slice(out[0]!.indexOf('CONTACT'), out[0]!.indexOf('TFP')).trim();
    expect(contact(out.find((row) => row.startsWith(serial(180))))).toBe('+15550180');
    expect(contact(out.find((row) => row.startsWith(serial(181))))).toBe(`${LONG.slice(0, 14)}…${LONG.slice(-13)}`);
    const all = CREATED + paired.length + 1;
    // Street 18 and 180–189.
    expect(out.filter((row) => row.startsWith('LST-')).length).toBe(11);
    expect(out.at(-2)).toBe(`11 of ${all} terminals match; 11 shown`);
    expect((await cas(['terminals', 'list', '--search', 'street 18', '--limit', '4'])).stdout.split('\n').at(-2)).toBe(`11 of ${all} terminals match; the first 4 shown`);
    expect((await cas(['terminals', 'list', '--limit', '2'])).stdout.split('\n').at(-2)).toBe(`${all} terminals; the first 2 shown`);

    // --json: the same facts as fields, the contact whole.
    const json = ok(await cas(['--json', 'terminals', 'list', '--search', 'street 18', '--limit', '4']));
    expect(json).toMatchObject({ total: all, matching: 11, shown: 4, more: true });
    expect(json.terminals.map((t: TerminalView) => t.serial)).toEqual([serial(18), serial(180), serial(181), serial(182)]);
    expect(json.terminals[2].contact).toBe(LONG);
    expect(ok(await cas(['--json', 'terminals', 'list', '--search', 'no such terminal']))).toEqual({ terminals: [], total: all, matching: 0, shown: 0, more: false });
  });
});

describe('pairing.list', () => {
  it('gives requests newest first, a page at a time, and each once', async () => {
    const first = await pairing({ limit: 2 });
    expect(first.requests.map((r) => r.serial)).toEqual(['LST-WAIT', 'LST-P201']);
    expect(first.next).toEqual(expect.any(String));
    const rest = await pairing({ before: first.next, limit: 10 });
    expect(rest.requests.map((r) => r.serial)).toEqual(['LST-P120', 'LST-P3']);
    expect(rest.next).toBeNull();
  });

  it('filters by state and by serial', async () => {
    expect((await pairing({ state: 'pending' })).requests.map((r) => r.requestId)).toEqual([pendingRequestId]);
    expect((await pairing({ state: 'approved' })).requests.map((r) => r.serial)).toEqual(['LST-P201', 'LST-P120', 'LST-P3']);
    expect((await pairing({ serial: 'LST-P120' })).requests.map((r) => [r.serial, r.state])).toEqual([['LST-P120', 'approved']]);
    expect(await pairing({ state: 'rejected' })).toEqual({ requests: [], next: null });
  });

  it('refuses a cursor it did not give', async () => {
    for (const before of ['yesterday', '1~pr_x~y', '99999999999999999~pr_abc', '']) {
      await expect(pairing({ before })).rejects.toMatchObject({ code: 'invalid_field' });
    }
  });
});

describe('audit.list', () => {
  interface Entry { seq: number; user: string; action: string; target: string | null; detail: Record<string, unknown> }
  const audit = (args: Record<string, unknown> = {}) => alice.request<Entry[]>('audit.list', args);

  it('gives a terminal\'s story: the ops on its serial and the decisions on its pairing requests', async () => {
    const story = await audit({ serial: 'LST-P120' });
    expect(story.map((e) => e.action)).toEqual(['pairing.approve', 'terminals.create']);
    expect(story[0]).toMatchObject({ target: expect.stringMatching(/^pr_/), detail: expect.objectContaining({ serial: 'LST-P120', result: 'ok' }) });
  });

  it('pages back from a seq, and filters by operator and action', async () => {
    const newest = await audit({ limit: 5 });
    const older = await audit({ limit: 5, before: newest[4]!.seq });
    expect(older[0]!.seq).toBe(newest[4]!.seq - 1);
    expect([...newest, ...older].map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => newest[0]!.seq - i));
    const creates = await audit({ action: 'terminals.create', user: 'alice', limit: 10_000 });
    expect(creates.length).toBe(CREATED + paired.length + 1);
    expect(await audit({ user: 'nobody' })).toEqual([]);
    await expect(audit({ before: 0 })).rejects.toMatchObject({ code: 'invalid_field' });
  });
});

describe('a store written before the pairing timeline', () => {
  it('is indexed at start-up, and lists the same requests', async () => {
    const before = await pairing();
    await alice.close();
    await server.stop();
    // What a store of the version before holds: the requests, and no timeline.
    const root = open({ path: path.join(server.dataDir, 'store'), maxDbs: 64, compression: false });
    const timeline = root.openDB({ name: 'pairing-timeline' });
    const search = root.openDB({ name: 'terminal-search' });
    const awaiting = root.openDB({ name: 'pairing-awaiting' });
    expect([...awaiting.getKeys()]).toEqual([pendingRequestId]);
    const keys = [...timeline.getKeys()];
    expect(keys.length).toBe(before.requests.length);
    const searchKeys = [...search.getKeys()];
    expect(searchKeys.length).toBe(CREATED + paired.length + 1);
    await root.transaction(() => {
      for (const key of keys) timeline.removeSync(key);
      for (const key of searchKeys) search.removeSync(key);
      awaiting.removeSync(pendingRequestId); // filled with the timeline, for a store from before both
    });
    await root.close();

    server = await startServerProcess({ dataDir: server.dataDir, ports: server.ports });
    expect(await server.waitForLog((l) => l.msg === 'indexed the pairing requests of an older store by time')).toMatchObject({ requests: before.requests.length });
    alice = await connectOperator(server, operator);
    expect(await server.waitForLog((l) => l.msg === 'indexed the terminals of an older store for search')).toMatchObject({ terminals: CREATED + paired.length + 1 });
    expect(await pairing()).toEqual(before);
    expect((await terminals({ query: 'cafe zurich' })).terminals.map((t) => t.serial)).toEqual([serial(170)]);
    expect((await allTerminals({ state: 'paired' })).serials).toEqual(['LST-P120', 'LST-P3']);
    expect((await terminals({ state: 'pending' })).terminals.map((t) => t.serial)).toEqual(['LST-WAIT']);
  }, 60_000);
});

describe('a paired terminal that another key asks for', () => {
  it('is listed as paired, not pending, until it is unpaired; then its views say pending everywhere', async () => {
    // A factory reset, or someone at the gate claiming the serial: a request with a code waits beside the pin.
    const claimant = RawTerminal.create('LST-P3');
    await claimant.requestPairing(server.gateUrl, server.sfp);
    expect((await terminals({ state: 'pending' })).terminals.map((t) => t.serial)).toEqual(['LST-WAIT']);
    expect((await terminals({ query: 'LST-P3' })).terminals.map((t) => t.state)).toEqual(['paired']);

    await alice.request('subscribe', { topics: ['terminals'] });
    const pushed = nextPush(alice, (push) => push.event === 'terminal.unpaired');
    const answered = await alice.request<TerminalView>('terminals.unpair', { serial: 'LST-P3' });
    expect(answered.state).toBe('pending');
    expect(((await pushed).data as { terminal: TerminalView }).terminal.state).toBe('pending');
    expect((await alice.request<TerminalView>('terminals.get', { serial: 'LST-P3' })).state).toBe('pending');
    expect((await terminals({ state: 'pending' })).terminals.map((t) => t.serial)).toEqual(['LST-P3', 'LST-WAIT']);
  });
});
