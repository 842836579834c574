/**
 * @module End to end: a terminal's end and its story on the operator page. Deleting an unpaired terminal behind a
 * confirmation; the audit log filtered on the server (a terminal's trail opened from its page, an operator typed) and
 * paged back to its first entry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { AdminClient } from '../../src/admin/admin-client.js';
import { launchChromium, logIn, openPage, screenshot, type WatchedPage } from '../helpers/browser.js';
import { addOperator, connectOperator, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

/** The page's global the page-side callbacks touch: the project type-checks without the DOM lib. */
declare const document: { activeElement: { id: string } | null };
declare const location: { hash: string };

/** Paired in setup: it cannot be deleted. */
const PAIRED = 'BT-KEPT-1';
/** Its story, written in setup by another operator: created, a wrong code, approved, unpaired. */
const STORY = 'BT-STORY-1';
/** Entries enough for more than two pages of 25. */
const FILLERS = 40;

let server: ServerProcess;
let browser: Browser;
let clerk: AdminClient;
let page: Page;
const opened: WatchedPage[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  server = await startServerProcess();
  clerk = await connectOperator(server, await addOperator(server.dataDir, 'clerk'));
  await clerk.request('gate.open', { minutes: 30 });
  await pairRawTerminal(clerk, server, RawTerminal.create(PAIRED));

  await clerk.request('terminals.create', { serial: STORY });
  const { requestId, code } = await RawTerminal.create(STORY).requestPairing(server.gateUrl, server.sfp);
  const wrong = code.replace(/^\d/, (d) => String((Number(d) + 1) % 10));
  await expect(clerk.request('pairing.approve', { requestId, code: wrong })).rejects.toMatchObject({ code: 'code_mismatch' });
  await clerk.request('pairing.approve', { requestId, code });
  await clerk.request('terminals.unpair', { serial: STORY });
  for (let i = 1; i <= FILLERS; i++) await clerk.request('terminals.create', { serial: `BT-FILL-${String(i).padStart(2, '0')}` });

  // A failed login is recorded under the operator it named, '?clerk': a filter value that must be encoded in the address.
  const stranger = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
  await expect(stranger.login('clerk', 'not a password')).rejects.toMatchObject({ code: 'login_failed' });
  await stranger.close();

  const watched = await openPage(browser);
  opened.push(watched);
  page = watched.page;
  await logIn(page, `https://127.0.0.1:${server.ports.admin}/`, await addOperator(server.dataDir, 'alice'));
});

afterAll(async () => {
  for (const { context } of opened) await context.close().catch(() => {});
  await browser?.close();
  await clerk?.close();
  await server?.stop();
});

/** Closes the toasts with their own buttons, so screenshots show the screen beneath. */
async function dismissToasts(): Promise<void> {
  await page.$$eval('.toast-close', (buttons) => buttons.forEach((button) => (button as unknown as { click(): void }).click()));
}

const column = (label: string): Promise<string[]> => page.locator(`#audit-table td[data-label="${label}"]`).allTextContents();

describe('deleting a terminal, and the audit log', () => {
  it('offers Delete only for an unpaired terminal, and says why a paired one has none', async () => {
    await page.goto(`${page.url().split('#')[0]}#/terminals/${PAIRED}`);
    await page.locator('#terminal-state-value', { hasText: 'paired' }).waitFor();
    expect(await page.isVisible('#terminal-delete')).toBe(false);
    expect(await page.textContent('#terminal-delete-paired')).toContain('unpair it first');

    await page.click('#unpair');
    await page.click('#confirm-ok');
    await page.locator('#terminal-state-value', { hasText: 'expected' }).waitFor();
    expect(await page.isVisible('#terminal-delete')).toBe(true);
    expect(await page.isVisible('#terminal-delete-paired')).toBe(false);
  });

  it('deletes an unpaired terminal after a confirmation that names it: its request is rejected, and the serial can be created again', async () => {
    await page.click('a[href="#/terminals"]');
    await page.click('#new-terminal');
    await page.fill('#create-serial', 'BT-GONE-1');
    await page.fill('#create-name', 'Retired kiosk');
    await page.click('#create-submit');
    await page.locator('#terminal-state-value', { hasText: 'expected' }).waitFor();
    const { requestId } = await RawTerminal.create('BT-GONE-1').requestPairing(server.gateUrl, server.sfp);
    await page.locator('#terminal-state-value', { hasText: 'pending' }).waitFor();
    await page.locator('#pairing-badge', { hasText: '1' }).waitFor();

    // Cancel keeps it.
    await page.click('#terminal-delete');
    await page.locator('dialog[open] button', { hasText: 'Cancel' }).click();
    await page.locator('dialog').waitFor({ state: 'detached' });
    expect(await page.textContent('#terminal-name')).toBe('Retired kiosk');

    await page.click('#terminal-delete');
    const dialog = page.locator('dialog[open]');
    expect(await dialog.locator('h2').textContent()).toBe('Delete terminal BT-GONE-1?');
    const said = await dialog.locator('p').textContent();
    for (const consequence of ['pending pairing requests are rejected (1 now)', 'the serial can be created again', 'the audit log keeps what the terminal was']) {
      expect(said).toContain(consequence);
    }
    await dismissToasts();
    await screenshot(page, 'terminal-delete');
    await page.click('#confirm-ok');

    // Back on the list, where the server no longer finds it.
    await page.waitForURL(/#\/terminals$/);
    await page.locator('.toast', { hasText: 'Terminal BT-GONE-1 deleted' }).waitFor();
    await page.fill('#terminal-search', 'BT-GONE-1');
    await page.locator('#terminals-results .empty').waitFor();
    await page.locator('#pairing-badge').waitFor({ state: 'hidden' });
    await page.goto(`${page.url().split('#')[0]}#/pairing/${requestId}`);
    await page.locator('#pairing-status', { hasText: 'Rejected by alice' }).waitFor();

    // The serial is free: created again, it is a new terminal, without the old one's name.
    await page.click('a[href="#/terminals"]');
    await page.click('#new-terminal');
    await page.fill('#create-serial', 'BT-GONE-1');
    await page.click('#create-submit');
    await page.locator('#terminal-state-value', { hasText: 'expected' }).waitFor();
    expect(await page.textContent('#terminal-name')).toBe('—');
    // The serial's audit trail keeps what the deleted terminal was.
    await page.click('#terminal-audit');
    const deletion = page.locator('#audit-table tbody tr', { hasText: 'terminals.delete' });
    await deletion.waitFor();
    expect(await deletion.locator('td[data-label="Details"]').textContent()).toContain('name: Retired kiosk');
  });

  it("opens a terminal's audit trail from its page, filtered on the server, and pages back through older entries", async () => {
    await page.goto(`${page.url().split('#')[0]}#/terminals/${STORY}`);
    await page.click('#terminal-audit');
    await page.waitForURL(new RegExp(`#/audit\\?serial=${STORY}$`));
    await page.locator('#audit-count', { hasText: 'Showing all 4 matching entries' }).waitFor();
    expect(await page.inputValue('#audit-serial')).toBe(STORY);
    expect(await page.textContent('h1')).toBe(`Audit trail of ${STORY}`);
    // Its story, newest first: the decisions target the request and name the serial beside it.
    expect(await column('Action')).toEqual(['terminals.unpair', 'pairing.approve', 'pairing.approve', 'terminals.create']);
    expect(await column('Result')).toEqual(['ok', 'ok', 'code_mismatch', 'ok']);
    expect(new Set(await column('Who'))).toEqual(new Set(['clerk']));
    for (const target of await column('Target')) expect(target).toMatch(new RegExp(`^${STORY}$|\\(terminal ${STORY}\\)$`));
    await dismissToasts();
    await screenshot(page, 'audit-trail');

    // Another filter, typed: the address carries it encoded, and the server answers for it.
    await page.fill('#audit-serial', '');
    await page.fill('#audit-user', '?clerk');
    await page.click('#audit-apply');
    await page.waitForURL(/#\/audit\?user=%3Fclerk$/);
    await page.locator('#audit-count', { hasText: 'Showing the one matching entry' }).waitFor();
    expect(await column('Result')).toEqual(['login_failed']);
    // Back: the terminal's trail again.
    await page.goBack();
    await page.locator('#audit-count', { hasText: 'Showing all 4 matching entries' }).waitFor();

    // The whole log, 25 entries a page: each "Show older entries" adds the next older ones, down to the first entry.
    await page.click('#audit-clear');
    await page.waitForURL(/#\/audit$/);
    await page.selectOption('#audit-limit', '25');
    const seqs = (): Promise<number[]> => page.locator('#audit-table tbody tr').evaluateAll((rows) => rows.map((row) => Number(row.getAttribute('data-key'))));
    await expect.poll(() => seqs().then((s) => s.length)).toBe(25);
    const first = await seqs();
    // Bounded: a page that asked for the same entries again would offer the button for ever.
    for (let clicks = 0; clicks < 10 && await page.isVisible('#audit-older'); clicks++) {
      await page.click('#audit-older');
      // A last page that was full leaves the button for one more, empty, answer.
      await expect.poll(() => page.getAttribute('#audit-results', 'aria-busy')).toBe('false');
    }
    const all = await seqs();
    expect(all.length).toBeGreaterThan(2 * 25);
    expect(all.slice(0, 25)).toEqual(first);
    // Newest first, none twice, down to the log's first entry: the CLI adding clerk.
    expect(all).toEqual([...all].sort((a, b) => b - a));
    expect(new Set(all).size).toBe(all.length);
    expect(all.at(-1)).toBe(1);
    expect(await page.locator('#audit-table tbody tr').last().textContent()).toContain('users.add');
    expect(await page.textContent('#audit-count')).toBe(`Showing all ${all.length} entries, newest first.`);
    // The button went with the last page: the focus is on the count that says so, not lost on the page's body.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('audit-count');
  });

  it('filters by a day of the browser\'s calendar, on the server, the day kept in the address', async () => {
    const every = await clerk.request<unknown[]>('audit.list', { limit: 10_000 });
    const day = (offsetDays: number): Promise<string> => page.evaluate((offset) => {
      const d = new Date();
      d.setDate(d.getDate() + offset);
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
    }, offsetDays);
    await page.evaluate(() => { location.hash = '#/audit'; });
    await page.waitForURL(/#\/audit$/);
    const yesterday = await day(-1);
    await page.fill('#audit-day', yesterday);
    await page.click('#audit-apply');
    await page.waitForURL(new RegExp(`#/audit\\?day=${yesterday}$`));
    await page.locator('#audit-results', { hasText: 'No entry matches these filters.' }).waitFor();
    // Everything in this log was written today.
    const today = await day(0);
    await page.fill('#audit-day', today);
    await page.selectOption('#audit-limit', '500');
    await page.click('#audit-apply');
    await page.waitForURL(new RegExp(`#/audit\\?day=${today}$`));
    await page.locator('#audit-count', { hasText: `Showing all ${every.length} matching entries` }).waitFor();
    // With another filter: the day's decisions on the terminal whose story setup wrote.
    await page.fill('#audit-serial', STORY);
    await page.click('#audit-apply');
    await page.locator('#audit-count', { hasText: 'Showing all 4 matching entries' }).waitFor();
  });

  it('says a day in the address that is not a date is wrong, rather than searching another day or none', async () => {
    // 2026-02-30 would be March 2 to new Date(); "yesterday" would reach the server as a `since` in UTC.
    for (const day of ['2026-02-30', 'yesterday']) {
      await page.evaluate((d) => { location.hash = `#/audit?day=${d}`; }, day);
      await page.locator('#audit-error', { hasText: `Day: "${day}" is not a date. Pick a day in the Day field, or clear it.` }).waitFor();
      expect(await page.textContent('#audit-results')).not.toContain('No entry matches');
      expect(await page.textContent('#audit-count')).toBe('');
    }
    await screenshot(page, 'audit-day-not-a-date');
  });

  it('raised no console error, uncaught exception or CSP violation on any page', () => {
    expect(opened.flatMap((watched) => watched.errors)).toEqual([]);
  });
});
