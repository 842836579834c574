/**
 * @module End to end: a viewer's page. The header says the account is read-only, and no view offers a control the
 * server would refuse: no New terminal, no Edit, Unpair or Delete, no Approve or Reject, no gate form, no Create terminal
 * for an unknown serial. An operator's page on the same fleet shows each of them, so the ids looked for are the real ones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { launchChromium, logIn, openPage, screenshot, type WatchedPage } from '../helpers/browser.js';
import { serverCli } from '../helpers/cli.js';
import { addOperator, connectOperator, pairRawTerminal, type TestOperator } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let browser: Browser;
let admin: AdminClient;
let pageUrl: string;
let operator: TestOperator;
let viewer: TestOperator;
let requestId: string;
const opened: WatchedPage[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  server = await startServerProcess();
  pageUrl = `https://127.0.0.1:${server.ports.admin}/`;
  operator = await addOperator(server.dataDir, 'olive');
  viewer = await addOperator(server.dataDir, 'vic', { role: 'viewer', with2fa: false });
  admin = await connectOperator(server, await addOperator(server.dataDir, 'setup'));
  await admin.request('gate.open', { minutes: 30 });
  await pairRawTerminal(admin, server, RawTerminal.create('V-PAIRED'));
  await admin.request('terminals.create', { serial: 'V-EXPECTED', name: 'Lobby' });
  await admin.request('terminals.create', { serial: 'V-WAIT', contact: '+1 555 0100' });
  ({ requestId } = await RawTerminal.create('V-WAIT').requestPairing(server.gateUrl, server.sfp));
  // A serial nobody created: the unknown list offers to create it.
  const stranger = await RawTerminal.create('V-STRANGER').requestPairing(server.gateUrl, server.sfp).catch((error: Error) => error);
  expect(String(stranger)).toContain('unknown_serial');
}, 120_000);

afterAll(async () => {
  for (const { context } of opened) await context.close().catch(() => {});
  await browser?.close();
  await admin?.close();
  await server?.stop();
});

async function pageOf(op: TestOperator): Promise<WatchedPage> {
  const watched = await openPage(browser);
  opened.push(watched);
  await logIn(watched.page, pageUrl, op);
  return watched;
}

async function visit(page: Page, hash: string, ready: string): Promise<void> {
  await page.evaluate((to) => void ((globalThis as unknown as { location: { hash: string } }).location.hash = to), hash);
  await page.locator(ready).first().waitFor();
}

/** The controls that change something, per view: [hash, what shows once the view has loaded, the controls]. */
const CONTROLS: [string, string, string[]][] = [
  ['#/terminals', '#terminals-table tr[data-key="V-PAIRED"]', ['#new-terminal']],
  ['#/terminals/V-PAIRED', '#terminal-tfp', ['#terminal-edit', '#unpair']],
  ['#/terminals/V-EXPECTED', '#terminal-name', ['#terminal-edit', '#terminal-delete']],
  [`#/pairing/${'REQUEST'}`, '#pairing-code', ['#approve', '#reject', '#approve-code']],
  ['#/gate', '#gate-status', ['#gate-open', '#gate-close']],
  ['#/unknown', '#unknown-table tr[data-key="V-STRANGER"]', ['#unknown-table a.button']],
];
const controls = (): [string, string, string[]][] => CONTROLS.map(([hash, ready, list]) => [hash.replace('REQUEST', encodeURIComponent(requestId)), ready, list]);

describe('a viewer\'s page', () => {
  it('offers an operator every control looked for here', async () => {
    const { page, errors } = await pageOf(operator);
    for (const [hash, ready, list] of controls()) {
      await visit(page, hash, ready);
      for (const control of list) expect(await page.locator(control).first().isVisible(), `${hash} ${control}`).toBe(true);
    }
    expect(await page.isVisible('#user-role')).toBe(false);
    expect(errors).toEqual([]);
  }, 60_000);

  it('says the account is read-only and shows no control that changes anything', async () => {
    const { page, errors } = await pageOf(viewer);
    // A viewer without 2FA is not sent to set it up: it would approve nothing with it.
    await page.locator('#terminals-table').waitFor();
    expect(await page.textContent('#user-role')).toBe('viewer');
    expect(await page.textContent('#banner')).toContain('Read-only account.');
    for (const [hash, ready, list] of controls()) {
      await visit(page, hash, ready);
      for (const control of list) expect(await page.locator(control).first().isVisible(), `${hash} ${control}`).toBe(false);
    }
    await visit(page, `#/pairing/${encodeURIComponent(requestId)}`, '#decide-read-only');
    // The contact the decision rests on, without telling the viewer to call it and approve.
    await page.locator('#pairing-contact').waitFor();
    expect(await page.textContent('#pairing-contact')).toBe('+1 555 0100');
    expect(await page.textContent('#pairing-head')).not.toContain('Call the location contact');
    await screenshot(page, 'viewer-pairing-request');
    await visit(page, '#/gate', '#gate-read-only');
    // An address kept from an operator's tab opens a notice, not the form.
    await visit(page, '#/terminals/new', '#read-only-notice');
    expect(await page.locator('#create-form').count()).toBe(0);
    expect(errors).toEqual([]);
  }, 60_000);

  it('sends a viewer made an operator to log in again, saying the account may have changed', async () => {
    const { page, errors } = await pageOf(viewer);
    await page.locator('#terminals-table').waitFor();
    const changed = await serverCli(['users', 'role', viewer.user, 'operator', '--data-dir', server.dataDir]);
    expect(changed.code, changed.stderr).toBe(0);
    await page.locator('#login-notice', { hasText: 'your account was changed on the server (its role, password or 2FA)' }).waitFor({ timeout: 20_000 });
    expect(errors).toEqual([]);
  }, 60_000);
});
