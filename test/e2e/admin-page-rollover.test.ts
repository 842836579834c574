/**
 * @module End to end: a certificate rollover as operators and terminals meet it. While a next identity is prepared, gate
 * and master answers carry Pairing-Next-SFP, and the web page's Server view says which SFP is announced, since when, and
 * how many of the paired terminals have called since.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, logIn, openPage, screenshot, type WatchedPage } from '../helpers/browser.js';
import { ok, serverCli } from '../helpers/cli.js';
import { addOperator, connectOperator, pairRawTerminal, type TestOperator } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let browser: Browser;
let operator: TestOperator;
let watched: WatchedPage | undefined;
let nextSfp: string;
const heard = RawTerminal.create('RO-HEARD');
const silent = RawTerminal.create('RO-SILENT');

beforeAll(async () => {
  browser = await launchChromium();
  server = await startServerProcess();
  operator = await addOperator(server.dataDir, 'olive');
  const admin = await connectOperator(server, operator);
  await admin.request('gate.open', { minutes: 30 });
  for (const raw of [heard, silent]) await pairRawTerminal(admin, server, raw);
  // Created, not paired: no pairing for the switch to keep, so not among those counted.
  await admin.request('terminals.create', { serial: 'RO-UNPAIRED' });
  await admin.close();
  const { dataDir, ports } = server;
  await server.stop();
  nextSfp = ok(await serverCli(['identity', 'prepare', '--json', '--data-dir', dataDir])).sfp;
  server = await startServerProcess({ dataDir, ports });
}, 120_000);

afterAll(async () => {
  await watched?.context.close().catch(() => {});
  await browser?.close();
  await server?.stop();
});

describe('a prepared next certificate', () => {
  it('is announced on gate and master answers, refusals included', async () => {
    const ping = await heard.send(server.masterUrl, '/api/v1/ping');
    expect(ping.status).toBe(200);
    expect(ping.headers['pairing-next-sfp']).toBe(nextSfp);
    const gate = await heard.gate(server.gateUrl, {});
    expect(gate.json.status).toBe('trusted');
    expect(gate.headers['pairing-next-sfp']).toBe(nextSfp);
    const stranger = await RawTerminal.create('RO-NOBODY').send(server.masterUrl, '/api/v1/ping');
    expect(stranger.status).toBe(401);
    expect(stranger.headers['pairing-next-sfp']).toBe(nextSfp);
  });

  it('shows on the Server view with the terminals seen since', async () => {
    watched = await openPage(browser);
    const { page } = watched;
    await logIn(page, `https://127.0.0.1:${server.ports.admin}/`, operator);
    await page.click('a[href="#/server"]');
    // One of the two paired terminals called since the start that began the announcement (last seen is written behind
    // the answer; the view refreshes every 5 s).
    const line = page.locator('#server-next-identity', { hasText: '; 1 of 2 paired terminals seen since will follow the switch' });
    await line.waitFor({ timeout: 15_000 });
    expect(await line.textContent()).toContain(nextSfp);
    // For how long the fleet has had to call in, and how many are left, for the operator deciding when to promote.
    expect(await line.textContent()).toMatch(/ is announced to terminals since .+ \(for (under a minute|\d+ min)\); /);
    expect(await line.textContent()).toContain('The other 1 will need terminal pair --expect-sfp after it: on the Terminals view, the paired ones last seen before ');
    await screenshot(page, 'server-rollover');
  });
});
