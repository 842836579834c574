/**
 * @module End to end: operator accounts and sessions as the page shows them. Accounts changed on the server with the
 * real `pairing-server users …` commands while a page is open: each change, and each refused attempt, is an alarm that
 * stays until dismissed. A page left idle for the session's time ends it and hears nothing more of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page, WebSocket } from 'playwright-core';
import { launchChromium, logIn, openPage, screenshot, type WatchedPage } from '../helpers/browser.js';
import { serverCli } from '../helpers/cli.js';
import { addOperator, connectOperator, nextPush, type TestOperator } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

/** The page's global the page-side callbacks touch: the project type-checks without the DOM lib. */
declare const document: { activeElement: { textContent: string | null; getAttribute(name: string): string | null } | null };

let server: ServerProcess;
let browser: Browser;
let pageUrl: string;
let watcher: TestOperator;
const opened: WatchedPage[] = [];

/** Runs `pairing-server users ARGS` on the server's data dir, as its administrator would while it runs. */
async function users(...args: string[]): Promise<number> {
  const run = await serverCli(['users', ...args, '--data-dir', server.dataDir], args[0] === 'add' ? 'a long enough passphrase\n' : undefined);
  return run.code;
}

const alarms = (page: Page) => page.locator('#alarms .alarm');

beforeAll(async () => {
  browser = await launchChromium();
  server = await startServerProcess();
  pageUrl = `https://127.0.0.1:${server.ports.admin}/`;
  watcher = await addOperator(server.dataDir, 'watcher');
  await addOperator(server.dataDir, 'leaver');
});

afterAll(async () => {
  for (const { context } of opened) await context.close().catch(() => {});
  await browser?.close();
  await server?.stop();
});

describe('operator accounts and sessions on the page', () => {
  it('shows account changes made on the server as alarms that stay until dismissed, across a reload', async () => {
    const watched = await openPage(browser);
    opened.push(watched);
    const { page } = watched;
    // The page's timers run on a clock the test moves: minutes pass without the test waiting for them.
    await page.clock.install();
    await logIn(page, pageUrl, watcher);
    expect(await page.getAttribute('#alarms', 'aria-live')).toBe('assertive');

    // A toast first, to show that the clock moves the page's timers.
    await page.click('#new-terminal');
    await page.fill('#create-serial', 'BT-ALARM-1');
    await page.click('#create-submit');
    const toast = page.locator('.toast', { hasText: 'Terminal BT-ALARM-1 created' });
    await toast.waitFor();

    expect(await users('disable', 'leaver')).toBe(0);
    const disabled = alarms(page).filter({ hasText: 'Operator account leaver was disabled on the server by cli:' });
    await disabled.waitFor();
    expect(await disabled.textContent()).toMatch(/by cli:\S+ at \d{1,2}:\d{2}/);
    // A refused command is an attempt, with the server's code.
    expect(await users('disable', 'nobody-here')).not.toBe(0);
    const refused = alarms(page).filter({ hasText: 'tried to disable operator account nobody-here on the server' });
    await refused.waitFor();
    expect(await refused.textContent()).toContain('It was refused (not_found)');
    expect(await refused.textContent()).toContain('Attempted account change');
    expect(await users('add', 'newcomer', '--password-stdin')).toBe(0);
    const created = alarms(page).filter({ hasText: 'Operator account newcomer was created on the server by cli:' });
    await created.waitFor();

    // Ten minutes later the toast is long gone; the alarms are not.
    await page.clock.runFor(10 * 60_000);
    await toast.waitFor({ state: 'detached' });
    expect(await alarms(page).count()).toBe(3);
    await screenshot(page, 'account-alarms');

    // A reload keeps them too.
    await page.reload();
    await page.locator('#user-name', { hasText: 'watcher' }).waitFor();
    await disabled.waitFor();
    expect(await alarms(page).count()).toBe(3);

    // Dismissed, one goes for good, and the focus moves to the next alarm's Dismiss button.
    await disabled.getByRole('button', { name: 'Dismiss' }).click();
    await disabled.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Dismiss');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-describedby'))).toBe(await refused.locator('p').getAttribute('id'));
    await page.reload();
    await refused.waitFor();
    expect(await alarms(page).count()).toBe(2);

    // Its link shows the attempt in the audit log, where the command left it.
    await refused.getByRole('link').click();
    await page.waitForURL(/#\/audit\?action=users\.disable$/);
    const row = page.locator('#audit-table tbody tr', { hasText: 'nobody-here' });
    await row.waitFor();
    expect(await row.locator('td[data-label="Result"]').textContent()).toBe('not_found');
  });

  it('ends its session after the idle time and hears nothing more of it, though the server may still hold it', async () => {
    const admin = await connectOperator(server, await addOperator(server.dataDir, 'colleague'));
    try {
      await admin.request('subscribe', { topics: ['pairing'] });
      await admin.request('gate.open', { minutes: 30 });
      await admin.request('terminals.create', { serial: 'BT-IDLE-1' });
      const watched = await openPage(browser);
      opened.push(watched);
      const { page } = watched;
      const sockets: WebSocket[] = [];
      const sent: string[] = [];
      page.on('websocket', (socket) => {
        sockets.push(socket);
        socket.on('framesent', (frame) => sent.push(String(frame.payload)));
      });
      await page.clock.install();
      await logIn(page, pageUrl, await addOperator(server.dataDir, 'idler'));
      await page.locator('#terminals-table').waitFor();

      // Eight hours without an op of the operator's, on the page's clock (the server's session, on real time, lives on).
      await page.clock.fastForward('08:00:01');
      await page.locator('#login-notice', { hasText: 'without activity' }).waitFor();
      // The connection that held the session is closed: its pushes cannot reach the login form.
      const socket = sockets.at(-1)!;
      if (!socket.isClosed()) await socket.waitForEvent('close');
      const sentBefore = sent.length;

      // A terminal asks to pair: an operator still logged in hears of it; the login form shows nothing, asks nothing.
      const heard = nextPush(admin, (push) => push.event === 'pairing.requested');
      await RawTerminal.create('BT-IDLE-1').requestPairing(server.gateUrl, server.sfp);
      await heard;
      expect(await page.locator('.toast').count()).toBe(0);
      expect(sent.slice(sentBefore)).toEqual([]);
      expect(await page.isVisible('#topbar')).toBe(false);
    } finally {
      await admin.close();
    }
  });

  it('raised no console error, uncaught exception or CSP violation on any page', () => {
    expect(opened.flatMap((watched) => watched.errors)).toEqual([]);
  });
});
