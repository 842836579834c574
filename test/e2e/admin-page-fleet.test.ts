/**
 * @module End to end: the operator page on a fleet larger than one page of the list. The server searches and pages
 * the terminals; the page walks the pages, keeps the rows shown current from pushes without reloading, and still
 * shows every pending request with its terminal's contact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { launchChromium, logIn, openPage, type WatchedPage } from '../helpers/browser.js';
import { addOperator, connectOperator, type TestOperator } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

/** The page's global the page-side callbacks touch: the project type-checks without the DOM lib. */
declare const document: { querySelector(selector: string): { setAttribute(name: string, value: string): void } | null };

const FLEET = 250;
const serialOf = (i: number): string => `FL-${String(i).padStart(4, '0')}`;
/** Most terminals are plain; a few carry what the search must find off page 1. */
const ACCENTED = { serial: serialOf(142), name: 'Café de Genève' };
const SPACED = { serial: serialOf(213), contact: '+41225550213', typed: '+41 22 555 0213' };
const PAIRED = serialOf(150);
const PENDING = { serial: serialOf(230), contact: '+1 555 0230' };

let server: ServerProcess;
let browser: Browser;
let admin: AdminClient;
let pageUrl: string;
/** PENDING's request, made before every other in this file but the approved one. */
let pendingRequestId: string;
const operators: TestOperator[] = [];
const opened: WatchedPage[] = [];

/** A page logged in as an operator of its own (each login spends a TOTP step of its user). */
async function loggedInPage(setUp?: (page: Page) => Promise<unknown>): Promise<Page> {
  const watched = await openPage(browser);
  opened.push(watched);
  await setUp?.(watched.page);
  const op = await addOperator(server.dataDir, `op${operators.length + 1}`);
  operators.push(op);
  await logIn(watched.page, pageUrl, op);
  return watched.page;
}

/** A frame the page sent, and when (performance.now() in the page). */
interface Sent { at: number; op: string; args: Record<string, unknown>; background?: boolean }
/** Records in the page every frame it sends, timed there: events relayed to the test arrive with their own delays. */
const recordSends = (page: Page): Promise<unknown> => page.addInitScript(() => {
  const page = globalThis as unknown as { sent: Sent[]; WebSocket: { prototype: { send(data: unknown): void } } };
  page.sent = [];
  const send = page.WebSocket.prototype.send;
  page.WebSocket.prototype.send = function (data) {
    page.sent.push({ at: performance.now(), ...JSON.parse(String(data)) as Omit<Sent, 'at'> });
    send.call(this, data);
  };
});
const sentOps = (page: Page): Promise<Sent[]> => page.evaluate(() => (globalThis as unknown as { sent: Sent[] }).sent);

const rowKeys = (page: Page): Promise<(string | null)[]> => page.locator('#terminals-table tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-key')));
const countLine = (page: Page): Promise<string | null> => page.textContent('#terminals-count');
const serials = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => serialOf(from + i));

/**
 * Waits until the table shows exactly these serials, in this order: as long as the configured poll (10 s), since a
 * push's refresh comes up to a second late by design and a loaded machine adds its own delay to that.
 */
async function showsRows(page: Page, expected: string[]): Promise<void> {
  await expect.poll(() => rowKeys(page)).toEqual(expected);
}

async function search(page: Page, text: string): Promise<void> {
  await page.fill('#terminal-search', text);
}

beforeAll(async () => {
  browser = await launchChromium();
  server = await startServerProcess();
  pageUrl = `https://127.0.0.1:${server.ports.admin}/`;
  admin = await connectOperator(server, await addOperator(server.dataDir, 'fleetadmin'));
  // Created in reverse order: the page's order must be the server's serial order, not the order of creation.
  for (let i = FLEET; i >= 1; i--) {
    const serial = serialOf(i);
    await admin.request('terminals.create', {
      serial,
      name: serial === ACCENTED.serial ? ACCENTED.name : `ATM ${i}`,
      location: `Street ${i}`,
      contact: serial === SPACED.serial ? SPACED.contact : serial === PENDING.serial ? PENDING.contact : `+1 555 9${String(i).padStart(3, '0')}`,
    });
  }
  await admin.request('gate.open', { minutes: 30 });
  const paired = RawTerminal.create(PAIRED);
  const { requestId, code } = await paired.requestPairing(server.gateUrl, server.sfp);
  await admin.request('pairing.approve', { requestId, code });
  ({ requestId: pendingRequestId } = await RawTerminal.create(PENDING.serial).requestPairing(server.gateUrl, server.sfp));
});

afterAll(async () => {
  for (const { context } of opened) await context.close().catch(() => {});
  await browser?.close();
  await admin?.close();
  await server?.stop();
});

describe('operator web page, a fleet larger than one page', () => {
  it('shows the first 100 terminals in serial order; Next and Previous walk the pages', async () => {
    const page = await loggedInPage();
    await showsRows(page, serials(1, 100));
    expect(await countLine(page)).toBe('Showing 1–100 · 250 terminals in all');
    expect(await page.isDisabled('#terminals-prev')).toBe(true);

    await page.click('#terminals-next');
    await showsRows(page, serials(101, 200));
    expect(await countLine(page)).toBe('Showing 101–200 · 250 terminals in all');
    await page.click('#terminals-next');
    await showsRows(page, serials(201, 250));
    expect(await countLine(page)).toBe('Showing 201–250 · 250 terminals in all');
    expect(await page.isDisabled('#terminals-next')).toBe(true);

    await page.click('#terminals-prev');
    await showsRows(page, serials(101, 200));
    await page.click('#terminals-prev');
    await showsRows(page, serials(1, 100));
    expect(await page.isDisabled('#terminals-prev')).toBe(true);
  });

  it('finds terminals that are not on page 1: by serial, by a name typed without accents, by a contact typed with spaces', async () => {
    const page = await loggedInPage();
    await showsRows(page, serials(1, 100));
    await search(page, 'fl-0187');
    await showsRows(page, [serialOf(187)]);
    expect(await countLine(page)).toBe('Showing matches 1–1 · 250 terminals in all');
    await search(page, 'de geneve');
    await showsRows(page, [ACCENTED.serial]);
    await search(page, SPACED.typed);
    await showsRows(page, [SPACED.serial]);
    await search(page, 'nothing like this');
    await page.locator('#terminals-results .empty').waitFor();
    expect(await countLine(page)).toBe('No terminal matches · 250 terminals in all');
    // A search that matches more than a page pages too.
    await search(page, 'street');
    await showsRows(page, serials(1, 100));
    await page.click('#terminals-next');
    await showsRows(page, serials(101, 200));
    await search(page, '');
    await showsRows(page, serials(1, 100));
  });

  it('shows the answer to the last search typed, even when an older one arrives after it', async () => {
    /** Answers to the first search are held back until the second one's answer has reached the page. */
    let held: (() => void)[] | null = [];
    /** Set once the held answers went to the page. */
    let released = false;
    const slowFirst = async (route: WebSocketRoute): Promise<void> => {
      const upstream = route.connectToServer();
      const slowIds = new Set<number>();
      route.onMessage((message) => {
        const frame = JSON.parse(String(message)) as { id: number; op: string; args?: { query?: string } };
        if (frame.op === 'terminals.list' && frame.args?.query === 'FL-01') slowIds.add(frame.id);
        upstream.send(message);
      });
      upstream.onMessage((message) => {
        const frame = JSON.parse(String(message)) as { id?: number; result?: { terminals?: { serial: string }[] } };
        if (frame.id !== undefined && slowIds.has(frame.id) && held) {
          held.push(() => route.send(message));
          return;
        }
        route.send(message);
        // The newer search is on screen: now let the older answer in.
        if (held && frame.result?.terminals?.length === 1) {
          const release = held;
          held = null;
          setTimeout(() => {
            release.forEach((send) => send());
            released = true;
          }, 100);
        }
      });
    };
    const page = await loggedInPage((p) => p.routeWebSocket(/\/admin$/, slowFirst));
    await showsRows(page, serials(1, 100));
    await search(page, 'FL-01');
    // Its request is on its way (the search waits for a pause in typing) before the operator types on.
    await expect.poll(() => page.getAttribute('#terminals-results', 'aria-busy')).toBe('true');
    await search(page, 'FL-0187');
    await showsRows(page, [serialOf(187)]);
    // The older answer (100 rows) has landed once a push sent after it has: frames reach the page in the order sent,
    // and each is handled before the next. A fixed 500 ms, before, could end before it landed, and pass with the page
    // showing whatever answer came last.
    await expect.poll(() => released).toBe(true);
    await admin.request('terminals.update', { serial: serialOf(187), name: 'Renamed after the older answer' });
    await page.locator(`#terminals-table tr[data-key="${serialOf(187)}"] td`, { hasText: 'Renamed after the older answer' }).waitFor();
    expect(await rowKeys(page)).toEqual([serialOf(187)]);
    expect(await page.inputValue('#terminal-search')).toBe('FL-0187');
  });

  it('filters by state, and keeps the filter and the page when coming back from a terminal', async () => {
    const page = await loggedInPage();
    await showsRows(page, serials(1, 100));
    await page.selectOption('#terminal-state', 'paired');
    await showsRows(page, [PAIRED]);
    await page.selectOption('#terminal-state', 'pending');
    await showsRows(page, [PENDING.serial]);
    await page.selectOption('#terminal-state', 'expected');
    await showsRows(page, serials(1, 100));
    await page.click('#terminals-next');
    const second = serials(101, 201).filter((s) => s !== PAIRED);
    await showsRows(page, second);
    expect(await countLine(page)).toBe('Showing matches 101–200 · 250 terminals in all');

    await page.click(`#terminals-table tr[data-key="${serialOf(180)}"] a`);
    await page.locator('#terminal-contact', { hasText: '+1 555 9180' }).waitFor();
    await page.click('.crumbs a');
    await showsRows(page, second);
    expect(await page.inputValue('#terminal-state')).toBe('expected');
    expect(await countLine(page)).toBe('Showing matches 101–200 · 250 terminals in all');
    await page.click('#terminals-prev');
    await showsRows(page, serials(1, 100));
  });

  it('updates a shown row in place on a push, asks nothing for a terminal on another page, and refreshes at most once a second', async () => {
    // When the page sends each terminals.list, timed in the page.
    const page = await loggedInPage(recordSends);
    const sentAt = async (): Promise<number[]> => (await sentOps(page)).filter((frame) => frame.op === 'terminals.list').map((frame) => frame.at);
    await showsRows(page, serials(1, 100));
    // Marks this table: a reload of the page would build a new one.
    await page.evaluate(() => document.querySelector('#terminals-table')!.setAttribute('data-marked', 'yes'));
    const before = (await sentAt()).length;

    await admin.request('terminals.update', { serial: serialOf(42), name: 'Renamed by push' });
    const row = page.locator(`#terminals-table[data-marked] tr[data-key="${serialOf(42)}"]`);
    await row.locator('td', { hasText: 'Renamed by push' }).waitFor();
    // A terminal on page 3 changes: page 1 stays as it is and nothing is asked. A shown row changed after it proves its
    // push handled (pushes arrive in order); a refresh it had wrongly asked for would be sent within the page's second.
    await admin.request('terminals.update', { serial: serialOf(240), name: 'Elsewhere' });
    await admin.request('terminals.update', { serial: serialOf(43), name: 'Renamed after' });
    await page.locator(`#terminals-table[data-marked] tr[data-key="${serialOf(43)}"] td`, { hasText: 'Renamed after' }).waitFor();
    await page.waitForTimeout(1_500);
    expect(await sentAt()).toHaveLength(before);
    expect(await page.locator('#terminals-table[data-marked]').count()).toBe(1);

    // Twenty new terminals that sort into page 1: a burst of pushes, a refresh or two, never one per push.
    const burst = Array.from({ length: 20 }, (_, i) => `${serialOf(1)}-${String.fromCharCode(97 + i)}`);
    await Promise.all(burst.map((serial) => admin.request('terminals.create', { serial })));
    await showsRows(page, [serialOf(1), ...burst, ...serials(2, 80)]);
    expect(await countLine(page)).toBe('Showing 1–100 · 270 terminals in all');
    const refreshes = (await sentAt()).slice(before);
    expect(refreshes.length).toBeGreaterThanOrEqual(1);
    expect(refreshes.length).toBeLessThanOrEqual(3);
    // About a second apart. The page times a refresh from the start of its load, this test from its send, and the two
    // can differ by the page's other work: one CI run saw two sends 992 ms apart. One refresh per push would be ms apart.
    for (let i = 1; i < refreshes.length; i++) expect(refreshes[i]! - refreshes[i - 1]!).toBeGreaterThanOrEqual(950);

    // Another operator deletes one of them: its row goes, and the next terminal moves up.
    await admin.request('terminals.delete', { serial: burst[0] });
    await showsRows(page, [serialOf(1), ...burst.slice(1), ...serials(2, 81)]);
    expect(await countLine(page)).toBe('Showing 1–100 · 269 terminals in all');
  });

  it('lists the pending request at login with its terminal, whose contact the pairing screen gives', async () => {
    const page = await loggedInPage();
    await page.locator('#pairing-badge', { hasText: '1' }).waitFor();
    await page.click('a[href="#/pairing"]');
    const row = page.locator('#pairing-table tbody tr', { hasText: PENDING.serial });
    await row.locator('td', { hasText: 'ATM 230' }).waitFor();
    await row.locator('a').click();
    await page.locator('#pairing-code').waitFor();
    expect(await page.textContent('#pairing-contact')).toBe(PENDING.contact);

    // The contact changes while the screen is open: the number to call follows at once.
    await admin.request('terminals.update', { serial: PENDING.serial, contact: '+1 555 0231' });
    await page.locator('#pairing-contact', { hasText: '+1 555 0231' }).waitFor();

    // A request arriving while the page is open shows with its terminal too.
    await RawTerminal.create(serialOf(77)).requestPairing(server.gateUrl, server.sfp);
    await page.click('.crumbs a');
    await page.locator('#pairing-table tbody tr', { hasText: serialOf(77) }).locator('td', { hasText: 'ATM 77' }).waitFor();

    // Rejected, the request no longer makes its terminal pending: the row shown says so without asking the server.
    await page.click('a[href="#/terminals"]');
    await search(page, PENDING.serial);
    await page.locator(`#terminals-table tr[data-key="${PENDING.serial}"] .pill-pending`).waitFor();
    await page.evaluate(() => document.querySelector('#terminals-table')!.setAttribute('data-marked', 'yes'));
    await admin.request('pairing.reject', { requestId: pendingRequestId });
    await page.locator(`#terminals-table[data-marked] tr[data-key="${PENDING.serial}"] .pill-expected`).waitFor();
    await page.locator('#pairing-badge', { hasText: '1' }).waitFor();
  });

  it('pages through pairing history by state', async () => {
    // With PENDING's, rejected in the test before, 101 rejected requests: one more than a page.
    const reject = async (i: number): Promise<string> => {
      const { requestId } = await RawTerminal.create(serialOf(i)).requestPairing(server.gateUrl, server.sfp);
      await admin.request('pairing.reject', { requestId });
      return requestId;
    };
    const oldest = pendingRequestId;
    const rejected = [oldest];
    for (let i = 1; i <= 100; i += 10) rejected.push(...await Promise.all(Array.from({ length: 10 }, (_, k) => reject(i + k))));
    const page = await loggedInPage();
    await page.click('a[href="#/pairing"]');
    await page.selectOption('#pairing-state', 'rejected');
    const rows = page.locator('#pairing-table tbody tr');
    const keys = (): Promise<(string | null)[]> => rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-key')));
    await expect.poll(() => rows.count()).toBe(100);
    // Newest first: the oldest is on the next page.
    expect(await keys()).not.toContain(oldest);
    await page.click('#pairing-more');
    await expect.poll(() => rows.count()).toBe(101);
    expect(await rows.last().getAttribute('data-key')).toBe(oldest);
    expect(new Set(await keys())).toEqual(new Set(rejected));
    await page.locator('#pairing-more').waitFor({ state: 'detached' });

    await page.selectOption('#pairing-state', 'approved');
    await expect.poll(() => page.locator('#pairing-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.textContent))).toEqual([expect.stringContaining(PAIRED)]);
  });

  it("marks what it sends by itself as background, so that the server does not extend the session for it; the operator's requests are not", async () => {
    const { requestId } = await RawTerminal.create(serialOf(5)).requestPairing(server.gateUrl, server.sfp);
    const page = await loggedInPage(recordSends);
    await page.locator('#terminals-table').waitFor();
    // A terminal created into the page on screen: the page refreshes the list by itself.
    await admin.request('terminals.create', { serial: `${serialOf(2)}-b` });
    await page.locator(`#terminals-table tr[data-key="${serialOf(2)}-b"]`).waitFor();
    // The operator asks for the next page.
    await page.click('#terminals-next');
    await page.locator('#terminals-count', { hasText: 'Showing 101–' }).waitFor();
    const frames = await sentOps(page);
    const byOp = (op: string): Sent[] => frames.filter((frame) => frame.op === op);
    // The login and its first list are the operator's; what the page loads at login, fetches and refreshes is its own.
    expect(byOp('login')[0]!.background).toBeUndefined();
    for (const op of ['subscribe', 'pairing.list', 'unknown.list', 'gate.status']) expect(byOp(op)[0]!.background, op).toBe(true);
    expect(byOp('terminals.get').length).toBeGreaterThan(0);
    for (const frame of byOp('terminals.get')) expect(frame.background).toBe(true);
    const lists = byOp('terminals.list');
    expect(lists.map((frame) => frame.background ?? false)).toEqual([false, true, false]);
    await admin.request('pairing.reject', { requestId });
  });

  it('drops an unknown serial from the list when another operator creates it, without asking the server about it', async () => {
    await expect(RawTerminal.create('FL-LATE-1').requestPairing(server.gateUrl, server.sfp)).rejects.toThrow(/unknown_serial/);
    // Logged in while the serial is listed: the page takes the server's list as it is.
    const page = await loggedInPage(recordSends);
    await page.click('a[href="#/unknown"]');
    const row = page.locator('#unknown-table tr[data-key="FL-LATE-1"]');
    await row.waitFor();
    await page.locator('#unknown-badge', { hasText: '1' }).waitFor();
    await admin.request('terminals.create', { serial: 'FL-LATE-1' });
    // The terminal.created push takes it off the list on screen.
    await row.waitFor({ state: 'detached' });
    await page.locator('#unknown-badge').waitFor({ state: 'hidden' });

    // The server dropped it from unknown.list when it was created: a page opened later does not list it either.
    const later = await loggedInPage(recordSends);
    await later.click('a[href="#/unknown"]');
    await later.locator('#unknown-table-empty').waitFor();
    expect(await later.isVisible('#unknown-badge')).toBe(false);
    for (const p of [page, later]) {
      expect((await sentOps(p)).filter((frame) => frame.op === 'terminals.get' && frame.args.serial === 'FL-LATE-1')).toEqual([]);
    }
  });

  it('warns on both rows when two keys ask for one serial, and no longer once one of them is decided', async () => {
    const serial = serialOf(240);
    const page = await loggedInPage();
    await page.click('a[href="#/pairing"]');
    const first = await RawTerminal.create(serial).requestPairing(server.gateUrl, server.sfp);
    const firstRow = page.locator(`#pairing-table tr[data-key="${first.requestId}"]`);
    await firstRow.waitFor();
    expect(await firstRow.textContent()).not.toContain('another key asks too');
    // A second key: its row says so, and so does the first one's, without asking the server.
    const second = await RawTerminal.create(serial).requestPairing(server.gateUrl, server.sfp);
    const secondRow = page.locator(`#pairing-table tr[data-key="${second.requestId}"]`);
    await secondRow.locator('.pill', { hasText: 'another key asks too' }).waitFor();
    await firstRow.locator('.pill', { hasText: 'another key asks too' }).waitFor();
    // The request's own screen warns too.
    await secondRow.locator('a').click();
    await page.locator('#pairing-other-keys').waitFor();
    await page.click('.crumbs a');
    await admin.request('pairing.reject', { requestId: second.requestId });
    await firstRow.locator('.pill', { hasText: 'another key asks too' }).waitFor({ state: 'detached' });
    await admin.request('pairing.reject', { requestId: first.requestId });
  });

  it('raised no console error, uncaught exception or CSP violation on any page', () => {
    expect(opened.flatMap((watched) => watched.errors)).toEqual([]);
  });
});
