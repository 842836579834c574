/** @module Serves the operator web page's files from one folder, with strict security headers; nothing is fetched from the internet. */
import fs from 'node:fs';
import path from 'node:path';
import type { TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../logger.js';
import { beginExchange, send } from './http.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000',
  'cache-control': 'no-cache',
};

/** Loads the folder once at start-up: the page is small, and serving from memory needs no path handling per request. */
function loadFiles(root: string): Map<string, { type: string; body: Buffer }> {
  const files = new Map<string, { type: string; body: Buffer }>();
  if (!fs.existsSync(root)) return files;
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else {
        const type = TYPES[path.extname(entry.name)];
        if (type) files.set('/' + path.relative(root, full).split(path.sep).join('/'), { type, body: fs.readFileSync(full) });
      }
    }
  };
  walk(root);
  return files;
}

export function serveStatic(app: TemplatedApp, root: string, log: Logger): void {
  const files = loadFiles(root);
  log.debug({ root, files: files.size }, 'web page files loaded');
  app.get('/*', (res, req) => {
    const url = req.getUrl();
    const file = files.get(url === '/' ? '/index.html' : url);
    const exchange = beginExchange(res);
    if (!file) {
      send(exchange, { status: 404, body: { error: 'not_found', message: `no file ${url}` } });
      return;
    }
    res.cork(() => {
      res.writeStatus('200 OK');
      res.writeHeader('content-type', file.type);
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.writeHeader(name, value);
      res.end(file.body);
    });
  });
}
