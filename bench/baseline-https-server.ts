/**
 * @module The fleet benchmark's baseline: master's ping and cash events with the same checks written the plain way
 * (node:https, regexes, the pinned record from the same LMDB store, node:crypto, a Map for replays, an awaited LMDB put
 * for each event), one thread; it exists only to be compared against. With `--checks none` it is the baseline's own
 * floor: the same node:https server answering the ping with a fixed 200 and no check, so that the baseline's CPU per
 * call splits into what node:https costs and what its checks cost.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { open } from 'lmdb';
import type { CashEventRecord, TerminalRecord } from '../src/store/records.js';

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    'clock-skew': { type: 'string', default: '300' },
    checks: { type: 'string', default: 'all' },
  },
});
const dataDir = values['data-dir'];
if (!dataDir) throw new Error('--data-dir is required (a pairing server data dir with paired terminals)');
const skew = Number(values['clock-skew']);
if (values.checks !== 'all' && values.checks !== 'none') throw new Error('--checks is all or none');
const checks = values.checks === 'all';

const store = open({ path: path.join(dataDir, 'store'), maxDbs: 64, compression: false });
const terminals = store.openDB<TerminalRecord, string>({ name: 'terminals' });
const cashEvents = store.openDB<CashEventRecord, string>({ name: 'cash-events' });
const keys = new Map<string, crypto.KeyObject>();
const seenNonces = new Map<string, number>();

function answer(res: ServerResponse, status: number, body: object): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

function verify(alg: string, key: crypto.KeyObject, data: Buffer, signature: Buffer): boolean {
  if (alg === 'rsa-pss-sha512') {
    return crypto.verify('sha512', data, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_AUTO }, signature);
  }
  if (alg === 'rsa-v1_5-sha256') return crypto.verify('sha256', data, key, signature);
  if (alg === 'ecdsa-p256-sha256') return crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  if (alg === 'ed25519') return crypto.verify(null, data, key, signature);
  return false;
}

type Answer = [number, object];

/** The serial of a request signed by its paired terminal, or the answer refusing it: every authentication failure is the same 401, as on master. */
function authenticate(req: IncomingMessage, body: Buffer): string | Answer {
  const denied: Answer = [401, { error: 'unauthenticated', message: 'the request could not be authenticated' }];
  const serial = req.headers['x-terminal-serial'];
  const input = req.headers['signature-input'];
  const signatureHeader = req.headers['signature'];
  if (typeof serial !== 'string' || typeof input !== 'string' || typeof signatureHeader !== 'string') return denied;

  const m = /^([A-Za-z0-9_-]+)=\(([^)]*)\)(.*)$/.exec(input);
  if (!m) return denied;
  const [, label, componentList, params] = m as unknown as [string, string, string, string];
  const components = componentList.split(' ').filter(Boolean).map((c) => c.replaceAll('"', ''));
  const created = Number(/;created=(\d+)/.exec(params)?.[1]);
  const nonce = /;nonce="([^"]+)"/.exec(params)?.[1];
  const keyid = /;keyid="([0-9a-f]{64})"/.exec(params)?.[1];
  const alg = /;alg="([^"]+)"/.exec(params)?.[1];
  const sig = new RegExp(`^${label}=:([A-Za-z0-9+/=]+):$`).exec(signatureHeader)?.[1];
  if (!nonce || !keyid || !alg || !sig) return denied;
  for (const required of ['@method', '@path', 'x-terminal-serial', ...(body.length > 0 ? ['content-digest'] : [])]) {
    if (!components.includes(required)) return denied;
  }
  const now = Math.floor(Date.now() / 1000);
  if (!(Math.abs(now - created) <= skew)) return denied;

  const terminal = terminals.get(serial);
  if (!terminal?.certDer || !terminal.tfp) return denied;
  if (terminal.tfp !== keyid) return [403, { error: 'not_paired', message: 'this terminal is not paired with the server' }];
  let key = keys.get(keyid);
  if (!key) {
    key = new crypto.X509Certificate(terminal.certDer).publicKey;
    keys.set(keyid, key);
  }
  if (body.length > 0) {
    const digest = `sha-256=:${crypto.createHash('sha256').update(body).digest('base64')}:`;
    if (req.headers['content-digest'] !== digest) return denied;
  }

  const url = new URL(req.url ?? '/', 'https://localhost');
  const lines = components.map((c) => {
    if (c === '@method') return `"@method": ${req.method}`;
    if (c === '@path') return `"@path": ${url.pathname}`;
    if (c === '@query') return `"@query": ${url.search || '?'}`;
    return `"${c}": ${String(req.headers[c] ?? '').trim()}`;
  });
  lines.push(`"@signature-params": (${componentList})${params}`);
  if (!verify(alg, key, Buffer.from(lines.join('\n')), Buffer.from(sig, 'base64'))) return denied;

  // After the signature verified, so a forger cannot burn a terminal's nonces.
  const replayKey = `${serial} ${nonce}`;
  if ((seenNonces.get(replayKey) ?? 0) >= now) return denied;
  seenNonces.set(replayKey, created + skew + 1);
  if (seenNonces.size % 10_000 === 0) {
    for (const [k, expires] of seenNonces) if (expires < now) seenNonces.delete(k);
  }
  return serial;
}

function ping(req: IncomingMessage, body: Buffer): Answer {
  if (!checks) return [200, { serverTime: new Date().toISOString() }];
  const serial = authenticate(req, body);
  return typeof serial === 'string' ? [200, { serverTime: new Date().toISOString() }] : serial;
}

/** PROTOCOL.md's cash event: idempotent by eventId, answered once the event is on disk. */
async function cashEvent(req: IncomingMessage, body: Buffer): Promise<Answer> {
  const serial = authenticate(req, body);
  if (typeof serial !== 'string') return serial;
  const invalid: Answer = [400, { error: 'invalid_field', message: 'the cash event is not valid' }];
  let event: Partial<Record<keyof CashEventRecord, unknown>>;
  try {
    event = JSON.parse(body.toString('utf8')) as typeof event;
  } catch {
    return invalid;
  }
  const { eventId, currency, denomination, count, at } = event;
  if (typeof eventId !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(eventId) || typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)
    || typeof denomination !== 'number' || !(denomination > 0 && denomination <= 1_000_000) || typeof count !== 'number' || !Number.isInteger(count)
    || count < 1 || count > 10_000 || typeof at !== 'string' || Number.isNaN(Date.parse(at))) return invalid;
  const key = `${serial}:${eventId}`;
  if (cashEvents.get(key)) return [200, { accepted: true, duplicate: true }];
  await cashEvents.put(key, { serial, eventId, currency, denomination, count, at, receivedAt: Date.now() });
  await store.flushed;
  return [200, { accepted: true, duplicate: false }];
}

const server = https.createServer({
  key: fs.readFileSync(path.join(dataDir, 'tls', 'server.key')),
  cert: fs.readFileSync(path.join(dataDir, 'tls', 'server.crt')),
}, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const failed = (): void => answer(res, 500, { error: 'internal_error', message: 'the server failed to process the request' });
    if (req.method === 'POST' && req.url === '/api/v1/ping') {
      try {
        answer(res, ...ping(req, Buffer.concat(chunks)));
      } catch {
        failed();
      }
    } else if (req.method === 'POST' && req.url === '/api/v1/cash-events') {
      cashEvent(req, Buffer.concat(chunks)).then((reply) => answer(res, ...reply), failed);
    } else {
      answer(res, 404, { error: 'not_found', message: 'no such route' });
    }
  });
});
// Terminals keep their connection open between calls; Node's 5 s default would close most of a 10,000-terminal fleet's.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.maxConnections = 50_000;

server.listen(Number(values.port), values.host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(JSON.stringify({ msg: 'listening', port, pid: process.pid }) + '\n');
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
