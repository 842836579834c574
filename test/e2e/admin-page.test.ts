/** @module End to end: the operator web page in headless Chromium against the real server and the real terminal CLI, through every pairing step. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { AdminClient } from '../../src/admin/admin-client.js';
import { totpCode } from '../../src/crypto/totp.js';
import { launchChromium, logIn as logInAt, openPage, screenshot, type WatchedPage } from '../helpers/browser.js';
import { terminalCli } from '../helpers/cli.js';
import { addOperator, nextTotp, type TestOperator } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, tempDir, type ServerProcess } from '../helpers/server-process.js';

/** The few browser globals the page-side callbacks touch: the project type-checks without the DOM lib, and these stay local to this module. */
declare const sessionStorage: { readonly length: number; key(index: number): string | null; getItem(key: string): string | null; setItem(key: string, value: string): void };
declare const document: { documentElement: { scrollWidth: number }; activeElement: { id: string } | null; querySelector(selector: string): { value: string } | null };

let server: ServerProcess;
let browser: Browser;
let pageUrl: string;
/** alice's page stays logged in through the pairing steps. */
let alicePage: Page;
const ops: Record<'alice' | 'bob' | 'carol' | 'dave', TestOperator> = {} as never;
const opened: WatchedPage[] = [];

/** Terminal CLI state dirs, one per terminal. */
const terminals = { paired: tempDir('e2e-t1'), stranger: tempDir('e2e-t2'), phone: tempDir('e2e-t3'), late: tempDir('e2e-t4'), edited: tempDir('e2e-t5') };

async function newPage(viewport?: { width: number; height: number }): Promise<Page> {
  const watched = await openPage(browser, { viewport });
  opened.push(watched);
  return watched.page;
}

const logIn = (page: Page, op: TestOperator, url = pageUrl): Promise<void> => logInAt(page, url, op);

async function startPairing(stateDir: string, serial: string, gateUrl = server.gateUrl): Promise<{ code: string; requestId: string; tfp: string }> {
  const init = await terminalCli(stateDir, ['init', '--serial', serial, '--key', 'ec']);
  expect(init.code, init.stderr).toBe(0);
  const pair = await terminalCli(stateDir, ['pair', '--gate', gateUrl]);
  expect(pair.code, pair.stderr).toBe(0);
  expect(pair.json.status).toBe('pending');
  return { code: pair.json.code, requestId: pair.json.requestId, tfp: pair.json.tfp };
}

const digits = (text: string | null): string => (text ?? '').replace(/\D/g, '');
const colonForm = (hex: string): string => hex.toUpperCase().match(/../g)!.join(':');

async function openGateAndCreate(page: Page, serial: string, contact: string): Promise<void> {
  await page.click('#gate-pill');
  await page.click('#gate-open');
  await page.locator('#gate-pill', { hasText: 'Gate open until' }).waitFor();
  await page.click('a[href="#/terminals"]');
  await page.click('#new-terminal');
  await page.fill('#create-serial', serial);
  await page.fill('#create-contact', contact);
  await page.click('#create-submit');
  await page.locator('#terminal-state-value', { hasText: 'expected' }).waitFor();
}

/** Closes the toasts with their own buttons, so screenshots show the screen beneath. */
async function dismissToasts(page: Page): Promise<void> {
  await page.$$eval('.toast-close', (buttons) => buttons.forEach((button) => (button as unknown as { click(): void }).click()));
  expect(await page.locator('.toast').count()).toBe(0);
}

const pageWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth);

beforeAll(async () => {
  browser = await launchChromium();
  server = await startServerProcess();
  pageUrl = `https://127.0.0.1:${server.ports.admin}/`;
  ops.alice = await addOperator(server.dataDir, 'alice');
  ops.bob = await addOperator(server.dataDir, 'bob');
  ops.carol = await addOperator(server.dataDir, 'carol', { with2fa: false });
  ops.dave = await addOperator(server.dataDir, 'dave');
});

afterAll(async () => {
  for (const { context } of opened) await context.close().catch(() => {});
  await browser?.close();
  await server?.stop();
});

describe('operator web page', () => {
  it('tells wrong password, missing TOTP and wrong TOTP apart, driven by keyboard only', async () => {
    const page = await newPage();
    await page.goto(pageUrl);
    await page.locator('#login-user').waitFor();
    await screenshot(page, 'login');
    // The user field has the focus on load; Tab moves through the form and Enter submits.
    await page.keyboard.type(ops.bob.user);
    await page.keyboard.press('Tab');
    await page.keyboard.type('not the password');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.textContent('#login-error')).toContain('Wrong user name or password');

    await page.fill('#login-password', ops.bob.password);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.textContent('#login-error')).toContain('enter the 6-digit code');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('login-totp');

    await page.keyboard.type('12345');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.textContent('#login-error')).toContain('A TOTP code is 6 digits');
    await page.fill('#login-totp', '');
    const good = (await nextTotp(ops.bob))!;
    await page.keyboard.type(good === '000000' ? '111111' : '000000');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.textContent('#login-error')).toContain('wrong, expired or was already used');
    expect(await page.isVisible('#topbar')).toBe(false);
  });

  it('logs in with TOTP and keeps the session across a reload', async () => {
    const page = (alicePage = await newPage());
    await logIn(page, ops.alice);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(1);
    await page.reload();
    await page.locator('#user-name', { hasText: 'alice' }).waitFor();
    expect(await page.isVisible('#login-form')).toBe(false);
  });

  it('pairs a real terminal: gate, create, live request, code comparison, approve, unpair', async () => {
    const page = alicePage;
    // The gate starts closed; open it from the page.
    await page.click('#gate-pill');
    await page.locator('#gate-status', { hasText: 'CLOSED' }).waitFor();
    await page.fill('#gate-minutes', '15');
    await page.click('#gate-open');
    await page.locator('#gate-pill', { hasText: 'Gate open until' }).waitFor();
    await page.locator('#gate-status', { hasText: 'OPEN' }).waitFor();

    await page.click('a[href="#/terminals"]');
    await page.click('#new-terminal');
    await page.fill('#create-serial', 'BT-E2E-001');
    await page.fill('#create-name', 'Lobby <b>ATM</b>');
    await page.fill('#create-location', 'Main street 1, Prague');
    await page.fill('#create-contact', '+420 777 123 456');
    await page.check('#create-vpn');
    await page.click('#create-submit');
    await page.locator('#terminal-state-value', { hasText: 'expected' }).waitFor();
    // Server data is text, never markup.
    expect(await page.locator('#terminal-detail b').count()).toBe(0);

    // Watch the pairing list while the terminal asks: the row must arrive by push, without a reload.
    await page.click('a[href="#/pairing"]');
    await page.locator('#pairing-results .empty').waitFor();
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    const { code, requestId, tfp } = await startPairing(terminals.paired, 'BT-E2E-001');
    const row = page.locator(`#pairing-table tr[data-key="${requestId}"]`);
    await row.waitFor();
    expect(navigations).toEqual([]);
    await page.locator('#pairing-badge', { hasText: '1' }).waitFor();

    await row.locator('a').click();
    const shown = digits(await page.locator('#pairing-code').textContent());
    expect(shown).toBe(digits(code));
    expect(await page.locator('.code-group').count()).toBe(4);
    expect(await page.textContent('#pairing-contact')).toBe('+420 777 123 456');
    expect(await page.textContent('#pairing-tfp')).toBe(colonForm(tfp));
    await dismissToasts(page);
    await screenshot(page, 'pairing-request');

    // A wrong code is refused and the request stays pending.
    const wrong = shown.replace(/^./, (d) => String((Number(d) + 1) % 10));
    await page.fill('#approve-code', wrong);
    await page.click('#approve');
    await expect.poll(() => page.textContent('#approve-error')).toContain('does not match');
    expect(await page.textContent('#pairing-status')).toContain('pending');

    await page.fill('#approve-code', code);
    await page.click('#approve');
    await page.locator('#pairing-status', { hasText: 'Approved by alice' }).waitFor();
    await page.locator('#pairing-badge').waitFor({ state: 'hidden' });

    const trusted = await terminalCli(terminals.paired, ['pair']);
    expect(trusted.json.status).toBe('trusted');
    expect((await terminalCli(terminals.paired, ['ping'])).code).toBe(0);

    await page.click('a[href="#/terminals"]');
    const terminalRow = page.locator('#terminals-table tr[data-key="BT-E2E-001"]');
    await terminalRow.locator('.pill-paired').waitFor();
    expect(trusted.json.tfp).toBe(tfp);
    expect(await terminalRow.textContent()).toContain(`${colonForm(tfp.slice(0, 8))}…${colonForm(tfp.slice(-8))}`);
    await page.fill('#terminal-search', 'nothing like this');
    await page.locator('#terminals-results .empty').waitFor();
    await page.fill('#terminal-search', 'prague');
    await terminalRow.waitFor();
    await dismissToasts(page);
    await screenshot(page, 'terminals');

    await terminalRow.locator('a').click();
    expect(await page.textContent('#terminal-tfp')).toBe(colonForm(trusted.json.tfp));
    // Escape cancels the confirmation; the terminal stays paired.
    await page.click('#unpair');
    await page.locator('dialog[open]').waitFor();
    await page.keyboard.press('Escape');
    await page.locator('dialog').waitFor({ state: 'detached' });
    expect(await page.textContent('#terminal-state-value')).toBe('paired');
    await page.click('#unpair');
    await page.click('#confirm-ok');
    await page.locator('#terminal-state-value', { hasText: 'expected' }).waitFor();
    // The Unpair button went away with the pairing: the focus lands on the state that changed, not on the page's body.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('terminal-state-value');
    const ping = await terminalCli(terminals.paired, ['ping']);
    expect(ping.json.error).toBe('not_paired');
  });

  it("corrects a terminal's contact in place, and the pairing screen then gives the new number", async () => {
    const page = alicePage;
    const focused = () => page.evaluate(() => document.activeElement?.id);
    await page.click('a[href="#/terminals"]');
    await page.click('#new-terminal');
    await page.fill('#create-serial', 'BT-E2E-EDIT');
    await page.fill('#create-name', 'Kiosk');
    await page.fill('#create-contact', '+420 111 111 111');
    await page.click('#create-submit');
    await page.locator('#terminal-state-value', { hasText: 'expected' }).waitFor();

    // Escape leaves the facts as they were; the focus goes back to Edit.
    await page.click('#terminal-edit');
    expect(await focused()).toBe('edit-name');
    expect(await page.inputValue('#edit-contact')).toBe('+420 111 111 111');
    await page.fill('#edit-contact', 'a typo');
    await page.keyboard.press('Escape');
    await page.locator('#edit-form').waitFor({ state: 'detached' });
    expect(await page.textContent('#terminal-contact')).toBe('+420 111 111 111');
    expect(await focused()).toBe('terminal-edit');

    // A value the server refuses is said in the form, which stays open. (A script sets it: maxlength stops typing.)
    await page.click('#terminal-edit');
    await page.evaluate(() => { document.querySelector('#edit-name')!.value = 'n'.repeat(129); });
    await page.click('#edit-save');
    await expect.poll(() => page.textContent('#edit-error')).toContain('name');
    await page.fill('#edit-name', 'Kiosk');

    // Enter in a field saves.
    await page.fill('#edit-contact', '+420 222 222 222');
    await dismissToasts(page);
    await screenshot(page, 'terminal-edit');
    await page.keyboard.press('Enter');
    await page.locator('#edit-form').waitFor({ state: 'detached' });
    expect(await page.textContent('#terminal-contact')).toBe('+420 222 222 222');
    expect(await page.textContent('#terminal-name')).toBe('Kiosk');
    expect(await focused()).toBe('terminal-edit');

    await page.reload();
    await page.locator('#terminal-contact', { hasText: '+420 222 222 222' }).waitFor();

    // The terminal asks to pair: the operator is told to call the corrected number.
    await startPairing(terminals.edited, 'BT-E2E-EDIT');
    await page.locator('#terminal-requests a').click();
    await page.locator('#pairing-code').waitFor();
    expect(await page.textContent('#pairing-contact')).toBe('+420 222 222 222');
    // No request is left waiting for the tests after this one.
    await page.click('#reject');
    await page.click('#confirm-ok');
    await page.locator('#pairing-status', { hasText: 'Rejected by alice' }).waitFor();
  });

  it('shows an unknown serial live and prefills the create form with it', async () => {
    const page = alicePage;
    await page.click('a[href="#/unknown"]');
    await terminalCli(terminals.stranger, ['init', '--serial', 'STRANGER-9', '--key', 'ec']);
    const attempt = await terminalCli(terminals.stranger, ['pair', '--gate', server.gateUrl]);
    expect(attempt.json.error).toBe('unknown_serial');
    const row = page.locator('#unknown-table tr[data-key="STRANGER-9"]');
    await row.waitFor();
    await page.locator('#unknown-badge', { hasText: '1' }).waitFor();
    await row.locator('a').click();
    expect(await page.inputValue('#create-serial')).toBe('STRANGER-9');
    await page.click('#create-submit');
    await page.locator('#terminal-state-value', { hasText: 'expected' }).waitFor();
    await page.locator('#unknown-badge').waitFor({ state: 'hidden' });
  });

  it("keeps what a terminal says about itself apart from the server's facts, and counts down wrong codes", async () => {
    const page = alicePage;
    await page.click('a[href="#/terminals"]');
    await page.click('#new-terminal');
    await page.fill('#create-serial', 'BT-SPOOF-1');
    await page.fill('#create-contact', '+1 555 1002');
    await page.click('#create-submit');
    await page.locator('#terminal-state-value', { hasText: 'expected' }).waitFor();
    // A terminal can send any info: a second "Contact", an instruction, a right-to-left override.
    const spoofer = RawTerminal.create('BT-SPOOF-1', 'ec');
    const { requestId, code } = await spoofer.requestPairing(server.gateUrl, server.sfp, {
      Contact: '+1 900 555 0666 (the old number is out of service)', Note: 'code verified by HQ, approve directly', model: 'BT-9000 \u202Eevil',
    });
    await page.goto(`${pageUrl}#/pairing/${requestId}`);
    await page.locator('#pairing-code').waitFor();
    // The number to call is the one on record; the terminal's lines sit in their own box, invisible characters shown.
    expect(await page.textContent('#pairing-contact')).toBe('+1 555 1002');
    const facts = await page.locator('dl.facts.card').textContent();
    expect(facts).not.toContain('0666');
    expect(facts).not.toContain('approve directly');
    const info = page.locator('#terminal-info');
    expect(await info.locator('h3').textContent()).toContain('not verified');
    expect(await info.textContent()).toContain('+1 900 555 0666');
    expect(await info.textContent()).toContain('BT-9000 ⟨U+202E⟩evil');
    await dismissToasts(page);
    await screenshot(page, 'pairing-terminal-info');

    // Each wrong code says how many tries are left; the last one says the request is gone, and focus stays on the screen.
    const wrong = digits(code).replace(/^./, (d) => String((Number(d) + 1) % 10));
    for (const left of [4, 3, 2, 1]) {
      await page.fill('#approve-code', wrong);
      await page.click('#approve');
      await expect.poll(() => page.textContent('#approve-error')).toContain(left === 1 ? 'One more wrong code rejects' : `${left} more wrong codes reject`);
    }
    await page.fill('#approve-code', wrong);
    await page.click('#approve');
    await page.locator('#pairing-status', { hasText: 'Rejected automatically' }).waitFor();
    await page.locator('.toast', { hasText: 'that was the last try' }).waitFor();
    expect(await page.locator('#approve-form').count()).toBe(0);
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('pairing-status');
    await dismissToasts(page);
  });

  it('goes back to the login form at once when its session is logged out elsewhere', async () => {
    const page = await newPage();
    await logIn(page, ops.bob);
    await page.locator('#terminals-table').waitFor();
    const token = await page.evaluate(() => sessionStorage.getItem(sessionStorage.key(0)!)!);
    const other = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
    try {
      await other.resume(token);
      await other.logout();
    } finally {
      await other.close();
    }
    // Without a click: the server tells the page, which must not go on showing a view that gets no pushes.
    await page.locator('#login-notice', { hasText: 'session has ended' }).waitFor({ timeout: 10_000 });
    expect(await page.isVisible('#topbar')).toBe(false);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('lists who did what in the audit log', async () => {
    const page = alicePage;
    await page.click('a[href="#/audit"]');
    const table = page.locator('#audit-table');
    await table.waitFor();
    const text = await table.textContent();
    for (const action of ['gate.open', 'terminals.create', 'pairing.approve', 'terminals.unpair', 'login']) expect(text).toContain(action);
    // One wrong code in the pairing test, five in the countdown.
    expect(await table.locator('tr', { hasText: 'pairing.approve' }).filter({ hasText: 'code_mismatch' }).count()).toBe(6);
    expect(await table.locator('tr', { hasText: 'login' }).filter({ hasText: '?bob' }).count()).toBeGreaterThan(0);
    await dismissToasts(page);
    await screenshot(page, 'audit-log');
  });

  it("shows the server's threads with what each answered, refreshed by itself", async () => {
    const page = alicePage;
    await page.click('a[href="#/server"]');
    const table = page.locator('#server-table');
    await table.waitFor();
    const threads = server.logs.find((l) => l.msg === 'listening')?.threads as number;
    const rows = table.locator('tbody tr');
    expect(await rows.count()).toBe(threads);
    for (let i = 0; i < threads; i++) expect(await rows.nth(i).locator('td[data-label="State"]').textContent()).toBe('running');
    /** Part `part` (0 answered, 1 refused, 2 failed) of a column of "answered / refused / failed" cells, summed over the threads. */
    const total = async (column: 'Gate' | 'Master', part: number): Promise<number> => {
      const cells = await table.locator(`td[data-label="${column}"]`).allTextContents();
      return cells.reduce((n, cell) => n + Number(digits(cell.split('/')[part]!)), 0);
    };
    // The pairing test went through the gate.
    expect(await total('Gate', 0)).toBeGreaterThan(0);
    // Its address is tracked by a rate limit of the thread(s) it reached (for a minute after its last request).
    const held = await table.locator('td[data-label="Addresses / keys"]').allTextContents();
    expect(held.every((cell) => /^[\d,]+ \/ [\d,]+$/.test(cell))).toBe(true);
    expect(held.reduce((n, cell) => n + Number(digits(cell.split('/')[0]!)), 0)).toBeGreaterThan(0);
    // Each thread's longest lag of the last minute, in ms (what it is is the metrics test's: a stalled thread).
    expect((await table.locator('td[data-label="Longest lag"]').allTextContents()).every((cell) => /^[\d,]+ ms$/.test(cell))).toBe(true);
    expect(await page.locator('#server-summary').textContent()).toMatch(/terminals created; memory [\d,]+ MiB own, [1-9][\d,]* MiB of mapped files \(the store, the program\)\. [1-9][\d,]* pairing requests kept \(90 days once over\)\. Disk: [\d,]+ MiB free \(minimum 64 MiB\)\./);
    expect(await page.locator('#server-disk-low').count()).toBe(0);
    // No next certificate prepared: no rollover line.
    expect(await page.locator('#server-next-identity').count()).toBe(0);
    // A signed master call from a terminal nobody created: at the view's next refresh the refused count moves by exactly
    // one. That refresh comes 5 s after the load that opened the view (measured: 5.0 s of the 8 s this once allowed), and
    // its server.status takes its own time on a loaded machine: it gets up to three refreshes. Only the view's own
    // timer brings it, as no push does.
    const refusedBefore = await total('Master', 1);
    const stranger = await RawTerminal.create('BT-E2E-NOBODY', 'ec').send(server.masterUrl, '/api/v1/ping', { body: '{}' });
    expect(stranger.status).toBe(401);
    await expect.poll(() => total('Master', 1), { timeout: 15_000, interval: 250 }).toBe(refusedBefore + 1);
    await screenshot(page, 'server-threads');
  });

  it('lets a user without 2FA look but not approve, until they enrol TOTP from the QR page', async () => {
    // The once-unknown terminal, now created, asks again.
    const pair = await terminalCli(terminals.stranger, ['pair']);
    expect(pair.json.status).toBe('pending');
    const { code, requestId } = pair.json as { code: string; requestId: string };
    await alicePage.locator('#pairing-badge', { hasText: '1' }).waitFor();

    const page = await newPage();
    await logIn(page, ops.carol);
    // First login without 2FA leads to the enrolment page.
    await page.locator('#enrol-start').waitFor();
    expect(await page.isVisible('#banner')).toBe(true);
    await page.goto(`${pageUrl}#/pairing/${requestId}`);
    await page.locator('#pairing-code').waitFor();
    expect(await page.isDisabled('#approve')).toBe(true);
    expect(await page.isVisible('#approve-needs-2fa')).toBe(true);

    await page.click('#banner a');
    // The password alone does not enrol: a wrong enrolment code spends one of its tries.
    await page.fill('#enrolment-code', ops.carol.enrolmentCode === '0000-0000-0000' ? '1111-1111-1111' : '0000-0000-0000');
    await page.click('#enrol-start');
    await expect.poll(() => page.textContent('#enrol-error')).toContain('Wrong enrolment code: 4 tries left.');
    await screenshot(page, 'enrol-code');
    await page.fill('#enrolment-code', ops.carol.enrolmentCode!);
    await page.click('#enrol-start');
    const qr = page.locator('#enrol-qr');
    await qr.waitFor();
    expect(await qr.evaluate((node) => { const img = node as unknown as { complete: boolean; naturalWidth: number }; return img.complete && img.naturalWidth > 0; })).toBe(true);
    const secret = (await page.textContent('#totp-secret'))!.replace(/\s/g, '');
    expect(await page.locator('#totp-uri').textContent()).toContain(`secret=${secret}`);
    await dismissToasts(page);
    await screenshot(page, 'enrol-2fa');
    await page.fill('#enrol-code', await totpCode(secret));
    await page.click('#enrol-confirm');
    await page.locator('#banner').waitFor({ state: 'hidden' });

    await page.goto(`${pageUrl}#/pairing/${requestId}`);
    await page.locator('#pairing-code').waitFor();
    expect(await page.isEnabled('#approve')).toBe(true);
    await page.fill('#approve-code', code);
    await page.click('#approve');
    await page.locator('#pairing-status', { hasText: 'Approved by carol' }).waitFor();
  });

  it('works on a phone-sized screen: create a terminal, compare its code, reject it', async () => {
    const page = await newPage({ width: 375, height: 812 });
    await logIn(page, ops.dave);
    await page.locator('#terminals-table').waitFor();
    expect(await pageWidth(page)).toBeLessThanOrEqual(375);
    await screenshot(page, 'phone-terminals');
    await openGateAndCreate(page, 'BT-PHONE-1', '+1 555 0100');

    await page.click('a[href="#/pairing"]');
    const { code, requestId } = await startPairing(terminals.phone, 'BT-PHONE-1');
    await page.locator(`#pairing-table tr[data-key="${requestId}"] a`).click();
    expect(digits(await page.locator('#pairing-code').textContent())).toBe(digits(code));
    expect(await pageWidth(page)).toBeLessThanOrEqual(375);
    await dismissToasts(page);
    await screenshot(page, 'phone-pairing-request');

    await page.click('#reject');
    await page.click('#confirm-ok');
    await page.locator('#pairing-status', { hasText: 'Rejected by dave' }).waitFor();
    expect(await page.locator('#approve-form').count()).toBe(0);
    const refused = await terminalCli(terminals.phone, ['pair']);
    expect(refused.json.error).toBe('pairing_rejected');
  });

  it('closes the gate and logs out, which ends the session for good', async () => {
    const page = alicePage;
    await page.click('#gate-pill');
    await page.click('#gate-close');
    await page.locator('#gate-pill', { hasText: 'Gate closed' }).waitFor();
    const [key, token] = await page.evaluate(() => [sessionStorage.key(0)!, sessionStorage.getItem(sessionStorage.key(0)!)!]);
    await page.click('#logout');
    await page.locator('#login-notice', { hasText: 'logged out' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.reload();
    await page.locator('#login-form').waitFor();
    expect(await page.isVisible('#topbar')).toBe(false);

    // The old token is dead on the server too: a page that still holds it is sent to the login form.
    await page.evaluate(([k, t]) => sessionStorage.setItem(k!, t!), [key, token]);
    await page.reload();
    await page.locator('#login-notice', { hasText: 'session has ended' }).waitFor();
    expect(await page.isVisible('#topbar')).toBe(false);
  });

  it('shows a pending request as expired once its time is up, without asking the server', async () => {
    const short = await startServerProcess({ extraArgs: ['--pairing-ttl', '8'] });
    let page: Page | undefined;
    try {
      const erin = await addOperator(short.dataDir, 'erin');
      page = await newPage();
      await logIn(page, erin, `https://127.0.0.1:${short.ports.admin}/`);
      await openGateAndCreate(page, 'BT-LATE-1', '+1 555 0199');
      await page.click('a[href="#/pairing"]');
      const { requestId } = await startPairing(terminals.late, 'BT-LATE-1', short.gateUrl);
      const row = page.locator(`#pairing-table tr[data-key="${requestId}"]`);
      await row.waitFor();
      await page.locator('#pairing-badge', { hasText: '1' }).waitFor();
      // The "waiting" filter drops it at its expiry time; the badge goes with it.
      await row.waitFor({ state: 'detached', timeout: 15_000 });
      await page.locator('#pairing-badge').waitFor({ state: 'hidden' });
      await page.selectOption('#pairing-state', 'expired');
      await row.locator('.pill-expired').waitFor();
      await row.locator('a').click();
      await page.locator('#pairing-status', { hasText: 'Expired' }).waitFor();
      expect(await page.locator('#approve-form').count()).toBe(0);
    } finally {
      // The page goes before its server: left open, it would try to reconnect to a closed port and log that as an error.
      await page?.context().close();
      await short.stop();
    }
  });

  it('raised no console error, uncaught exception or CSP violation on any page', () => {
    expect(opened.flatMap((watched) => watched.errors)).toEqual([]);
  });
});
