/** @module Headless Chromium (Debian's `chromium`) driven by playwright-core for page tests, with the page's console errors collected. */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { nextTotp, type TestOperator } from './operator.js';
import { ROOT } from './server-process.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.join(ROOT, 'test-output', 'screenshots');

/** Fails (never skips) when Chromium is missing: a page test that silently does not run proves nothing. */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Console errors, uncaught exceptions, CSP violations and requests to other origins seen so far. */
  errors: string[];
}

/** A fresh context (own sessionStorage) with one page; the server's certificate is self-signed. */
export async function openPage(browser: Browser, opts: { viewport?: { width: number; height: number } } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: opts.viewport ?? { width: 1280, height: 860 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  // Everything the page loads comes from the admin service itself.
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith('https://127.0.0.1:') && !url.startsWith('data:')) errors.push(`request to another origin: ${url}`);
  });
  page.on('websocket', (socket) => {
    if (!socket.url().startsWith('wss://127.0.0.1:')) errors.push(`websocket to another origin: ${socket.url()}`);
  });
  return { context, page, errors };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Logs `op` in through the page's form, with a fresh TOTP code when the account has 2FA, and waits for the header. */
export async function logIn(page: Page, url: string, op: TestOperator): Promise<void> {
  await page.goto(url);
  await page.fill('#login-user', op.user);
  await page.fill('#login-password', op.password);
  const code = await nextTotp(op);
  if (code) await page.fill('#login-totp', code);
  await page.click('#login-submit');
  await page.locator('#user-name', { hasText: op.user }).waitFor();
}
