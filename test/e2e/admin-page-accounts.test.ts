/**
 * @module End to end: operator accounts changed on the server with the real `pairing-server users …` commands while an
 * operator's page is open: each change, and each refused attempt, is an alarm on the page that stays until dismissed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, logIn, openPage, screenshot, type WatchedPage } from '../helpers/browser.js';
import { serverCli } from '../helpers/cli.js';
import { addOperator, type TestOperator } from '../helpers/operator.js';
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

describe('operator account alarms', () => {
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

  it('raised no console error, uncaught exception or CSP violation on any page', () => {
    expect(opened.flatMap((watched) => watched.errors)).toEqual([]);
  });
});
