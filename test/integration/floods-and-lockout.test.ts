/**
 * @module Floods are bounded and legitimate terminals still pair; password guessing locks out with backoff;
 * the audit log is a verifiable chain; a new operator account is pushed to logged-in operators.
 */
import fs from 'node:fs';
import tls from 'node:tls';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/admin/admin-client.js';
import type { AdminClient as Client } from '../../src/admin/admin-client.js';
import { serverCli } from '../helpers/cli.js';
import { addOperator, connectOperator, nextPush } from '../helpers/operator.js';
import { RawTerminal, type RawReply } from '../helpers/raw-terminal.js';
import { rssBytes, startServerProcess, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let alice: Client;

/** Runs `count` tasks with at most `width` in flight. */
async function pooled<T>(count: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  }));
  return results;
}

beforeAll(async () => {
  // Low limits, as a production gate would have them.
  server = await startServerProcess({ extraArgs: ['--gate-rate', '5', '--gate-global-rate', '50'] });
  alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
  await alice.request('gate.open', { minutes: 10 });
});

afterAll(async () => {
  await alice?.close();
  await server?.stop();
});

describe('gate floods', () => {
  it('answers a one-address flood with 429 + Retry-After, keeps memory bounded, and still pairs a legitimate terminal', async () => {
    const flooder = RawTerminal.create('FLOOD-1', 'ec');
    const legit = RawTerminal.create('LEGIT-1', 'ec');
    await alice.request('terminals.create', { serial: legit.serial });
    const rssBefore = rssBytes(server.pid);
    const started = Date.now();
    const flood = pooled(600, 24, () => flooder.gate(server.gateUrl, {}, { localAddress: '127.0.0.2' }));
    // While the flood runs, the genuine terminal (another address) goes through the whole exchange.
    const { requestId, code } = await legit.requestPairing(server.gateUrl, server.sfp);
    await alice.request('pairing.approve', { requestId, code });
    const trusted = await legit.gate(server.gateUrl, {});
    expect(trusted.json.status).toBe('trusted');
    const replies = await flood;
    const seconds = (Date.now() - started) / 1000;
    const limited = replies.filter((r) => r.status === 429);
    expect(limited.every((r) => Number(r.headers['retry-after']) >= 1 && r.json.error === 'rate_limited')).toBe(true);
    // Only the burst and the refill got through to authentication (unknown_serial answers): 5/s and a burst of 20,
    // split over the front threads (each rounds its share up, hence the slack).
    const admitted = replies.filter((r) => r.status === 403).length;
    expect(admitted).toBeLessThanOrEqual(24 + Math.ceil(6 * seconds));
    expect(admitted + limited.length).toBe(replies.length);
    expect(rssBytes(server.pid) - rssBefore).toBeLessThan(64 * 1024 * 1024);
  });

  it('applies a global limit to a flood spread over many addresses, and keeps serving', async () => {
    const flooder = RawTerminal.create('FLOOD-2', 'ec');
    const replies: RawReply[] = await pooled(400, 24, (i) => flooder.gate(server.gateUrl, {}, { localAddress: `127.0.1.${(i % 200) + 1}` }));
    expect(replies.some((r) => r.status === 429)).toBe(true);
    expect(replies.every((r) => [403, 429].includes(r.status))).toBe(true);
    const after = await RawTerminal.create('FLOOD-3', 'ec').gate(server.gateUrl, {}, { localAddress: '127.0.2.1' });
    // The server still answers (after the global bucket refills, with a real answer).
    expect([403, 429]).toContain(after.status);
  });
});

describe('slow senders', () => {
  it('closes connections that trickle their headers or body (slowloris) while others are served', async () => {
    const legit = RawTerminal.create('SLOW-LEGIT', 'ec');
    await alice.request('terminals.create', { serial: legit.serial });
    // How long each stayed open from its own handshake's end: 100 handshakes from this process take a while on a loaded
    // machine, which timing from before the first one counted against the server.
    const slow = Array.from({ length: 100 }, (_, i) => new Promise<number>((resolve, reject) => {
      // localAddress reaches net.connect; Node's TLS typings just do not list it.
      const options = { host: '127.0.0.1', port: server.ports.master, localAddress: '127.0.0.3', rejectUnauthorized: false } as tls.ConnectionOptions;
      const socket = tls.connect(options, () => {
        const connected = Date.now();
        socket.write(i % 2 === 0 ? 'POST /api/v1/ping HTTP/1.1\r\nHost: x\r\n' : 'POST /api/v1/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n');
        const drip = setInterval(() => socket.writable && socket.write(i % 2 === 0 ? 'X-Slow: 1\r\n' : 'a'), 1_000);
        socket.once('close', () => {
          clearInterval(drip);
          resolve(Date.now() - connected);
        });
      });
      socket.on('error', () => undefined);
      setTimeout(() => reject(new Error('a slow connection was still open after 30 s')), 30_000).unref();
    }));
    // Meanwhile a real terminal goes through the gate.
    expect((await legit.gate(server.gateUrl, { commitment: Buffer.alloc(32, 9).toString('base64') })).status).toBe(202);
    const closedAfter = await Promise.all(slow);
    // uWebSockets.js drops a request that is not complete within its fixed 10 s timeout, however slowly it trickles.
    expect(Math.max(...closedAfter)).toBeLessThan(25_000);
  });
});

describe('operator login guessing', () => {
  it('locks a user out after repeated wrong passwords and audits each attempt', async () => {
    // From an address alice never logged in from: her own keeps working whatever others try (login-throttle.ts).
    const client = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp, localAddress: '127.0.0.66' });
    for (let i = 0; i < 5; i++) {
      await expect(client.login('alice', `wrong password ${i}`, '000000')).rejects.toMatchObject({ code: 'login_failed' });
    }
    const locked = await client.login('alice', 'wrong password 6', '000000').catch((e: { code: string }) => e);
    expect(locked).toMatchObject({ code: 'rate_limited' });
    await client.close();
    const own = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
    await expect(own.login('alice', 'wrong password 7', '000000')).rejects.toMatchObject({ code: 'login_failed' });
    await own.close();
    const audit = await alice.request<{ action: string; user: string; detail?: { result: string } }[]>('audit.list', { limit: 20 });
    expect(audit.filter((e) => e.action === 'login' && e.detail?.result === 'login_failed').length).toBeGreaterThanOrEqual(5);
    expect(audit.some((e) => e.action === 'login' && e.detail?.result === 'rate_limited')).toBe(true);
  });
});

describe('tamper-evident audit log', () => {
  it('pushes a new operator account to logged-in operators and the chain verifies', async () => {
    await alice.request('terminals.list');
    const pushed = nextPush(alice, (p) => p.event === 'operator.created' && p.data.user === 'carol');
    await addOperator(server.dataDir, 'carol');
    expect((await pushed).data).toMatchObject({ user: 'carol' });
    const verify = await serverCli(['audit', 'verify', '--json', '--data-dir', server.dataDir]);
    expect(verify.code).toBe(0);
    expect(verify.json.ok).toBe(true);
    expect(verify.json.entries).toBeGreaterThan(5);
  });

  it('names the first broken entry after the store is edited behind the server', async () => {
    const { dataDir, ports } = server;
    await alice.close();
    await server.stop();
    // Edit one entry in place with lmdb itself, as an attacker with file access would.
    const { open } = await import('lmdb');
    const root = open({ path: path.join(dataDir, 'store'), maxDbs: 32, compression: false });
    const audit = root.openDB<Record<string, unknown>, number>({ name: 'audit' });
    const entry = audit.get(3)!;
    await audit.put(3, { ...entry, user: 'someone-else' });
    await root.close();
    const verify = await serverCli(['audit', 'verify', '--json', '--data-dir', dataDir]);
    expect(verify.code).toBe(1);
    expect(verify.json).toMatchObject({ ok: false, firstBroken: 3 });
    expect(fs.existsSync(dataDir)).toBe(true);
    server = await startServerProcess({ dataDir, ports });
    alice = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
  });
});
