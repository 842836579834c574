/** @module Master and gate refuse what they must: replays, stale or forged signatures, other keys, malformed and oversized input — and keep serving. */
import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PENDING_PER_SERIAL } from '../../src/actors/pairing-flow.js';
import { commitmentOf } from '../../src/crypto/pairing-code.js';
import { signRequest } from '../../src/crypto/signature.js';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { addOperator, connectOperator, nextPush } from '../helpers/operator.js';
import { RawTerminal, rawRequest } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let alice: AdminClient;
const paired = RawTerminal.create('AUTH-001', 'ec');

/** Creates `terminal`'s serial and pairs it through the gate, approving with the code it computed. */
async function pair(terminal: RawTerminal): Promise<void> {
  const { requestId, code } = await terminal.requestPairing(server.gateUrl, server.sfp);
  await alice.request('pairing.approve', { requestId, code });
}

const ping = (terminal: RawTerminal, opts: Parameters<RawTerminal['send']>[2] = {}) =>
  terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}', ...opts });

beforeAll(async () => {
  server = await startServerProcess();
  const op = await addOperator(server.dataDir, 'alice');
  alice = await connectOperator(server, op);
  await alice.request('gate.open', { minutes: 10 });
  await alice.request('terminals.create', { serial: paired.serial });
  await pair(paired);
});

afterAll(async () => {
  await alice?.close();
  await server?.stop();
});

describe('master authentication', () => {
  it('count as last seen only what the pinned key sends, not what any key asks at the gate', async () => {
    const stranger = RawTerminal.create('AUTH-SEEN-1', 'ec');
    await alice.request('terminals.create', { serial: stranger.serial });
    // Anyone can ask at an open gate under a created serial; before, that made a stolen terminal look alive.
    expect((await stranger.gate(server.gateUrl, { commitment: commitmentOf(crypto.randomBytes(32)), info: { model: 'x' } })).status).toBe(202);
    const own = RawTerminal.create('AUTH-SEEN-2', 'ec');
    await alice.request('terminals.create', { serial: own.serial });
    await pair(own);
    const pingedAt = Date.now();
    expect((await ping(own)).status).toBe(200);
    const lastSeen = async (serial: string) => (await alice.request<{ lastSeenAt: string | null }>('terminals.get', { serial })).lastSeenAt;
    await expect.poll(() => lastSeen(own.serial), { timeout: 10_000, interval: 100 }).not.toBeNull();
    // The ping's time, not an earlier one: an actor records its terminal as seen at most every 10 s, so had its gate
    // requests while pairing counted (a key not yet pinned, as a thief's is not), the ping would not have been written.
    // That holds however slow the machine. A fixed 1.5 s wait and then the stranger's null alone, before, proved nothing
    // once its thread's write-behind (every 500 ms) ran late.
    expect(Date.parse((await lastSeen(own.serial))!)).toBeGreaterThanOrEqual(pingedAt);
    // The stranger asked long before: on its thread's disk by now unless that thread is late, and then this passes
    // without proving anything; the check above is the one that cannot be late.
    expect(await lastSeen(stranger.serial)).toBeNull();
  });

  it('accepts a correctly signed call from the paired terminal', async () => {
    // The server's clock as ISO 8601 with milliseconds, read while each call was served: terminals set their clocks by it.
    for (let i = 0; i < 2; i++) {
      if (i > 0) await sleep(5);
      const before = Date.now();
      const reply = await ping(paired);
      expect(reply.status).toBe(200);
      expect(reply.json.serverTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      const served = Date.parse(reply.json.serverTime as string);
      expect(served).toBeGreaterThanOrEqual(before);
      expect(served).toBeLessThanOrEqual(Date.now());
    }
  });

  it('refuses a replayed nonce with 401', async () => {
    const nonce = Buffer.alloc(16, 7).toString('base64');
    expect((await ping(paired, { sign: { nonce } })).status).toBe(200);
    const replay = await ping(paired, { sign: { nonce } });
    expect(replay.status).toBe(401);
    expect(replay.json.error).toBe('unauthenticated');
  });

  it('refuses a signature created outside the clock window with 401', async () => {
    const stale = await ping(paired, { sign: { created: Math.floor(Date.now() / 1000) - 301 } });
    expect(stale.status).toBe(401);
    const future = await ping(paired, { sign: { created: Math.floor(Date.now() / 1000) + 301 } });
    expect(future.status).toBe(401);
  });

  it('refuses a request signed by another key that claims the paired TFP', async () => {
    const forger = RawTerminal.create(paired.serial, 'ec');
    const reply = await ping(forger, { sign: { keyid: paired.tfp } });
    expect(reply.status).toBe(401);
    expect(reply.json.error).toBe('unauthenticated');
  });

  it('answers a retried cash event as a duplicate, and the same eventId with other banknotes as a conflict', async () => {
    const at = new Date().toISOString();
    const event = { eventId: 'reuse-1', currency: 'USD', denomination: 20, count: 3, at };
    const send = (body: object) => paired.send(server.masterUrl, '/api/v1/cash-events', { body: JSON.stringify(body) });
    expect((await send(event)).json).toEqual({ accepted: true, duplicate: false });
    // The same banknotes stamped anew (a terminal resending after a restart): a retry.
    expect((await send({ ...event, at: new Date(Date.now() + 5_000).toISOString() })).json).toEqual({ accepted: true, duplicate: true });
    const other = await send({ ...event, denomination: 50 });
    expect(other.status).toBe(409);
    expect(other.json.error).toBe('conflict');
    await expect.poll(() => server.logs.some((l) => l.msg === 'cash event id reused with other content: refused' && l.eventId === 'reuse-1')).toBe(true);
    // The stored event is unchanged: the first retry still matches it.
    expect((await send(event)).json).toEqual({ accepted: true, duplicate: true });
    // An event from the future is a terminal's mistake: refused, and nothing stored.
    const future = await send({ ...event, eventId: 'future-1', at: '9999-12-31T23:59:59Z' });
    expect(future.status).toBe(400);
    expect(future.json).toMatchObject({ error: 'invalid_field', message: expect.stringContaining('at: in the future') });
  });

  it('refuses an eventId that the serial\'s earlier key recorded (a factory reset since) as a conflict, and records the new key\'s own', async () => {
    const before = RawTerminal.create('AUTH-RESET', 'ec');
    await alice.request('terminals.create', { serial: before.serial });
    await pair(before);
    const send = (terminal: RawTerminal, body: object) => terminal.send(server.masterUrl, '/api/v1/cash-events', { body: JSON.stringify(body) });
    const event = { eventId: '1', currency: 'EUR', denomination: 20, count: 1, at: new Date().toISOString() };
    expect((await send(before, event)).json).toEqual({ accepted: true, duplicate: false });
    // Factory reset: a new key, paired once an operator unpaired the old one, and a firmware that counts eventIds from 1
    // again. The same banknotes under the same id are new banknotes, not a retry.
    await alice.request('terminals.unpair', { serial: before.serial });
    const after = RawTerminal.create(before.serial, 'ec');
    await pair(after);
    const reused = await send(after, { ...event, at: new Date().toISOString() });
    expect(reused.status).toBe(409);
    expect(reused.json).toMatchObject({ error: 'conflict', message: expect.stringContaining("this terminal's earlier key") });
    await expect.poll(() => server.logs.some((l) => l.msg === 'cash event id reused by another key of the terminal: refused' && l.serial === before.serial)).toBe(true);
    // Its own events are recorded, and its own retries are retries.
    expect((await send(after, { ...event, eventId: '2' })).json).toEqual({ accepted: true, duplicate: false });
    expect((await send(after, { ...event, eventId: '2' })).json).toEqual({ accepted: true, duplicate: true });
    const listed = (await alice.request('cash.list', { serial: before.serial })) as { events: { eventId: string }[] };
    expect(listed.events.map((e) => e.eventId).sort()).toEqual(['1', '2']);
  });

  it('hands out the deposit address whatever the case of the coin, and names the coins it knows', async () => {
    await alice.request('deposit.set', { coin: 'BTC', address: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq' });
    const ask = (query: string) => paired.send(server.masterUrl, '/api/v1/deposit-address', { method: 'GET', query });
    expect((await ask('coin=btc')).json).toEqual({ coin: 'BTC', address: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq' });
    const unknown = await ask('coin=XYZ');
    expect(unknown.status).toBe(400);
    expect(unknown.json).toMatchObject({ error: 'invalid_field', message: expect.stringContaining('coin: one of BTC') });
    expect((await ask('coin=LTC')).json.error).toBe('not_found');
  });

  it('audits two operators setting one coin at once each with the address its own write replaced', async () => {
    const dora = await connectOperator(server, await addOperator(server.dataDir, 'dora'));
    try {
      const stored = async (): Promise<string | null> =>
        ((await alice.request('deposit.list', {})) as { coin: string; address: string }[]).find((d) => d.coin === 'BTC')?.address ?? null;
      const before = await stored();
      const [byAlice, byDora] = ['1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', '3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy'];
      // Sent together: each op's entry is written ahead of it (a commit), which left both reading the same address.
      const answers = await Promise.all([
        alice.request('deposit.set', { coin: 'btc', address: byAlice }),
        dora.request('deposit.set', { coin: 'btc', address: byDora }),
      ]) as { address: string; previous: string | null }[];
      const last = await stored();
      const first = last === byAlice ? byDora : byAlice;
      // The one written first replaced what was there; the one written last replaced the first.
      expect(answers.find((a) => a.address === first)?.previous).toBe(before);
      expect(answers.find((a) => a.address === last)?.previous).toBe(first);
      const entries = (await alice.request('audit.list', { limit: 10 })) as { action: string; detail: { address: string; previous: string | null; result: string } }[];
      const audited = entries.filter((e) => e.action === 'deposit.set' && e.detail.result === 'ok').slice(0, 2);
      expect(audited.map((e) => [e.detail.address, e.detail.previous]).sort()).toEqual([[first, before], [last, first]].sort());
    } finally {
      await dora.close();
    }
  });

  it('refuses a tampered body (Content-Digest no longer matches) with 401', async () => {
    const reply = await paired.send(server.masterUrl, '/api/v1/cash-events', {
      body: JSON.stringify({ eventId: 'tamper-1', currency: 'USD', denomination: 20, count: 1, at: new Date().toISOString() }),
      headers: { 'content-digest': 'sha-256=:' + Buffer.alloc(32).toString('base64') + ':' },
    });
    expect(reply.status).toBe(401);
  });

  it('refuses an algorithm that does not match the pinned key type', async () => {
    const reply = await ping(paired, { sign: { alg: 'ed25519' as const } }).catch((e: unknown) => ({ status: -1, json: String(e) }));
    // Our signer cannot make an ed25519 signature with an EC key; the server must refuse what it gets either way.
    expect(reply.status === 401 || reply.status === -1).toBe(true);
  });

  it('refuses a signature that leaves out a required component', async () => {
    const reply = await ping(paired, { headers: { 'X-Terminal-Serial': 'AUTH-002' } });
    expect(reply.status).toBe(401);
  });

  it('refuses unsigned and garbage-signed calls without saying which part was wrong', async () => {
    const unsigned = await rawRequest(`${server.masterUrl}/api/v1/ping`, 'POST', { 'x-terminal-serial': paired.serial }, Buffer.from('{}'));
    expect(unsigned.status).toBe(401);
    const garbage = await ping(paired, { headers: { Signature: 'term=:AAAA:' } });
    expect(garbage.status).toBe(401);
    expect(garbage.json.message).toBe(unsigned.json.message);
  });

  it('answers 404 for an unknown route', async () => {
    const reply = await ping(paired, {});
    expect(reply.status).toBe(200);
    const unknown = await paired.send(server.masterUrl, '/api/v1/nope', { body: '{}' });
    expect(unknown.status).toBe(404);
  });
});

/** One TLS connection to `url` that reads HTTP/1.1 answers (status and JSON body) as they come. */
async function connection(url: string) {
  const { hostname, port } = new URL(url);
  const socket = tls.connect({ host: hostname, port: Number(port), rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  let received = Buffer.alloc(0);
  const answers: { status: number; json: any }[] = [];
  let wake = (): void => undefined;
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    for (;;) {
      const headEnd = received.indexOf('\r\n\r\n');
      if (headEnd < 0) break;
      const head = received.subarray(0, headEnd).toString('latin1');
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (received.length < headEnd + 4 + length) break;
      answers.push({ status: Number(head.split(' ')[1]), json: JSON.parse(received.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8')) });
      received = received.subarray(headEnd + 4 + length);
    }
    wake();
  });
  socket.on('close', () => {
    closed = true;
    wake();
  });
  socket.on('error', () => undefined);
  return {
    write: (bytes: Buffer) => socket.write(bytes),
    /** Resolves once `count` answers in all have come, or the server closed the connection first. */
    async answers(count: number): Promise<{ status: number; json: any }[]> {
      while (answers.length < count && !closed) await new Promise<void>((resolve) => (wake = resolve));
      return answers.slice();
    },
    get closed() {
      return closed;
    },
    close: () => socket.destroy(),
  };
}

describe('request bodies on one keep-alive connection', () => {
  /** A signed request as raw HTTP/1.1 bytes, framed by `framing`'s headers and bytes. */
  const raw = (path: string, body: Buffer, framing: { headers: string[]; bytes: Buffer }): Buffer => {
    const signed = signRequest({ method: 'POST', path, ...(body.length > 0 ? { body } : {}), serial: paired.serial, privateKeyPem: paired.privateKeyPem, alg: paired.alg, keyid: paired.tfp });
    const head = [`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(signed).map(([name, value]) => `${name}: ${value}`), ...framing.headers];
    return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), framing.bytes]);
  };
  const none = { headers: [], bytes: Buffer.alloc(0) };
  const zero = { headers: ['Content-Length: 0'], bytes: Buffer.alloc(0) };
  const sized = (body: Buffer) => ({ headers: [`Content-Length: ${body.length}`], bytes: body });
  const event = (eventId: string) => Buffer.from(JSON.stringify({ eventId, currency: 'USD', denomination: 20, count: 2, at: new Date().toISOString() }));

  it('closes a connection that sends two Content-Length headers, so the bytes after them are never read as a request', async () => {
    const conn = await connection(server.masterUrl);
    const cash = event('smuggled-1');
    const smuggled = raw('/api/v1/cash-events', cash, sized(cash));
    try {
      conn.write(raw('/api/v1/ping', Buffer.alloc(0), { headers: ['Content-Length: 0', `Content-Length: ${smuggled.length}`], bytes: smuggled }));
      expect(await conn.answers(1)).toEqual([]);
      expect(conn.closed).toBe(true);
      // The request behind the first Content-Length never ran: its event is new when the terminal sends it itself.
      const own = await paired.send(server.masterUrl, '/api/v1/cash-events', { body: cash.toString('utf8') });
      expect(own.json).toEqual({ accepted: true, duplicate: false });
    } finally {
      conn.close();
    }
  });

  it('answers calls without a body, with Content-Length 0 and with a body, one after another', async () => {
    const conn = await connection(server.masterUrl);
    const cash = event('keep-alive-1');
    const requests = [
      raw('/api/v1/ping', Buffer.alloc(0), none),
      raw('/api/v1/cash-events', cash, sized(cash)),
      raw('/api/v1/ping', Buffer.alloc(0), zero),
      raw('/api/v1/cash-events', cash, sized(cash)),
      raw('/api/v1/ping', Buffer.alloc(0), none),
    ];
    try {
      for (const [i, request] of requests.entries()) {
        conn.write(request);
        expect((await conn.answers(i + 1)).length).toBe(i + 1);
      }
      const answers = await conn.answers(requests.length);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
      expect(typeof answers[0]!.json.serverTime).toBe('string');
      expect(answers[1]!.json).toEqual({ accepted: true, duplicate: false });
      expect(typeof answers[2]!.json.serverTime).toBe('string');
      // The same event again: its body was read, digested and parsed, not taken for the empty one before it.
      expect(answers[3]!.json).toEqual({ accepted: true, duplicate: true });
      expect(typeof answers[4]!.json.serverTime).toBe('string');
      expect(conn.closed).toBe(false);
    } finally {
      conn.close();
    }
  });

  it('refuses a body whose signature leaves Content-Digest out before reading it, and closes the connection', async () => {
    // Authenticated from the head: the body is never read, so it cannot be parsed as the connection's next request.
    const conn = await connection(server.masterUrl);
    try {
      const cash = event('keep-alive-2');
      conn.write(raw('/api/v1/cash-events', Buffer.alloc(0), sized(cash)));
      expect((await conn.answers(1)).map((a) => a.status)).toEqual([401]);
      await expect.poll(() => conn.closed).toBe(true);
    } finally {
      conn.close();
    }
    const next = await connection(server.masterUrl);
    try {
      next.write(raw('/api/v1/ping', Buffer.alloc(0), none));
      expect((await next.answers(1)).map((a) => a.status)).toEqual([200]);
    } finally {
      next.close();
    }
  });

  it('closes a connection that pipelines a call behind one still being answered, and loses nothing', async () => {
    // uWebSockets.js does not queue a request that arrives while an earlier answer is pending: it closes the
    // connection. Terminals wait for each answer; a pipelining client gets neither answer and must retry.
    const cash = event('pipelined-1');
    const conn = await connection(server.masterUrl);
    conn.write(Buffer.concat([raw('/api/v1/cash-events', cash, sized(cash)), raw('/api/v1/ping', Buffer.alloc(0), none)]));
    const answers = await conn.answers(2);
    conn.close();
    expect(answers).toEqual([]);
    expect(conn.closed).toBe(true);
    // The event was read and stored before the connection closed: the retry finds it, once.
    const retry = await paired.send(server.masterUrl, '/api/v1/cash-events', { body: cash.toString('utf8') });
    expect(retry.status).toBe(200);
    expect(retry.json).toEqual({ accepted: true, duplicate: true });
    expect((await ping(paired)).status).toBe(200);
  });
});

describe('a second certificate claiming a paired serial', () => {
  it('becomes a separate pairing request, alerts operators, and cannot call master', async () => {
    await alice.request('subscribe', { topics: ['pairing', 'terminals'] });
    const intruder = RawTerminal.create(paired.serial, 'ed25519');
    const alert = nextPush(alice, (p) => p.event === 'terminal.new_fingerprint' && p.data.tfp === intruder.tfp);
    const { requestId } = await intruder.requestPairing(server.gateUrl, server.sfp);
    await alert;
    const view = await alice.request<{ conflictsWithPaired: boolean; tfp: string }>('pairing.get', { requestId });
    expect(view.conflictsWithPaired).toBe(true);
    expect(view.tfp).toBe(intruder.tfp);
    // The server knows this certificate for the serial but has not pinned it: 403 not_paired, not 401.
    const call = await ping(intruder);
    expect(call.status).toBe(403);
    expect(call.json.error).toBe('not_paired');
    // The genuine terminal is unaffected.
    expect((await ping(paired)).status).toBe(200);
    await alice.request('pairing.reject', { requestId });
    const again = await intruder.gate(server.gateUrl, {});
    expect(again.json.error).toBe('pairing_rejected');
  });
});

describe('two keys asking for a serial nobody has paired yet', () => {
  it('alerts operators when the second has its code, flags both while they wait, and the code decides', async () => {
    await alice.request('subscribe', { topics: ['pairing', 'terminals'] });
    await alice.request('terminals.create', { serial: 'TWO-KEYS-1' });
    const genuine = RawTerminal.create('TWO-KEYS-1', 'ec');
    const impostor = RawTerminal.create('TWO-KEYS-1', 'ec');
    const alerts: string[] = [];
    const listener = (p: { event: string; data: Record<string, unknown> }): void => {
      if (p.event === 'terminal.new_fingerprint' && p.data.serial === 'TWO-KEYS-1') alerts.push(String(p.data.tfp));
    };
    alice.on('event', listener);
    try {
      const first = await genuine.requestPairing(server.gateUrl, server.sfp);
      const alert = nextPush(alice, (p) => p.event === 'terminal.new_fingerprint' && p.data.tfp === impostor.tfp);
      const second = await impostor.requestPairing(server.gateUrl, server.sfp);
      expect((await alert).data).toMatchObject({ serial: 'TWO-KEYS-1', pairedTfp: null, tfp: impostor.tfp, waitingTfps: [genuine.tfp] });
      expect(alerts).toEqual([impostor.tfp]); // none for the first: it was alone
      const views = await alice.request<{ requests: { requestId: string; otherKeysWaiting: number; conflictsWithPaired: boolean }[] }>('pairing.list', { serial: 'TWO-KEYS-1' });
      expect(views.requests.map((r) => [r.requestId, r.otherKeysWaiting])).toEqual([[second.requestId, 1], [first.requestId, 1]]);
      // The location contact reads the genuine terminal's code: that one is approved, the other stays to be rejected.
      await alice.request('pairing.approve', { requestId: first.requestId, code: first.code });
      expect(await alice.request('pairing.get', { requestId: second.requestId })).toMatchObject({ state: 'pending', otherKeysWaiting: 0, conflictsWithPaired: true });
      await alice.request('pairing.reject', { requestId: second.requestId });
      expect((await ping(genuine)).status).toBe(200);
    } finally {
      alice.off('event', listener);
    }
  });
});

describe('gate input handling', () => {
  const fresh = RawTerminal.create('GATE-001', 'rsa');

  it('answers unknown_serial openly and shows the attempt to operators', async () => {
    await alice.request('subscribe', { topics: ['terminals'] });
    const alert = nextPush(alice, (p) => p.event === 'terminal.unknown_serial' && p.data.serial === 'GATE-001');
    const reply = await fresh.gate(server.gateUrl, {});
    expect(reply.status).toBe(403);
    expect(reply.json.error).toBe('unknown_serial');
    const unknown = await alice.request<{ serial: string }[]>('unknown.list');
    expect(unknown.map((u) => u.serial)).toContain('GATE-001');
    // The push is the list's entry: a page updates from it without asking (which would count as operator activity).
    expect((await alert).data).toEqual(unknown.find((u) => u.serial === 'GATE-001'));
  });

  it('refuses malformed JSON, oversized bodies and garbage certificates, and keeps serving', async () => {
    await alice.request('terminals.create', { serial: fresh.serial });
    const malformed = await fresh.send(server.gateUrl, '/api/v1/pairing', { body: '{"commitment":', withCertificate: true });
    expect(malformed.status).toBe(400);
    expect(malformed.json.error).toBe('malformed_json');
    const oversized = await fresh.send(server.gateUrl, '/api/v1/pairing', { body: JSON.stringify({ pad: 'x'.repeat(8000) }), withCertificate: true });
    expect(oversized.status).toBe(413);
    expect(oversized.json.error).toBe('payload_too_large');
    const garbageCert = await fresh.gate(server.gateUrl, {}, { headers: { 'X-Terminal-Certificate': Buffer.from('not a certificate').toString('base64') } });
    expect(garbageCert.status).toBe(400);
    expect(garbageCert.json.error).toBe('bad_certificate');
    const wrongCn = RawTerminal.create('GATE-001', 'ec', 'SOMEONE-ELSE');
    expect((await wrongCn.gate(server.gateUrl, {})).json.error).toBe('bad_certificate');
    const badForm = await fresh.gate(server.gateUrl, { commitment: 'short' });
    expect(badForm.status).toBe(400);
    expect(badForm.json.error).toBe('invalid_field');
    // Still serving, nothing stored was touched.
    expect((await ping(paired)).status).toBe(200);
    const terminal = await alice.request<{ state: string; tfp: string }>('terminals.get', { serial: paired.serial });
    expect(terminal).toMatchObject({ state: 'paired', tfp: paired.tfp });
  });

  it('rejects a reveal that does not match the commitment and discards the request', async () => {
    const commit = await fresh.gate(server.gateUrl, { commitment: Buffer.alloc(32, 1).toString('base64') });
    expect(commit.status).toBe(202);
    const reveal = await fresh.gate(server.gateUrl, { requestId: commit.json.requestId, reveal: Buffer.alloc(32, 2).toString('base64') });
    expect(reveal.status).toBe(409);
    expect(reveal.json.error).toBe('commitment_mismatch');
    const poll = await fresh.gate(server.gateUrl, { requestId: commit.json.requestId });
    expect(poll.status).toBe(404);
    expect(poll.json.error).toBe('no_pairing_request');
  });

  it('answers a reveal repeated after the approval stage again, and refuses one that does not match, keeping the request', async () => {
    const key = RawTerminal.create('GATE-001', 'ec');
    const nonce = crypto.randomBytes(32);
    const commit = await key.gate(server.gateUrl, { commitment: commitmentOf(nonce) });
    const { requestId } = commit.json as { requestId: string };
    const reveal = () => key.gate(server.gateUrl, { requestId, reveal: nonce.toString('base64') });
    expect((await reveal()).json).toMatchObject({ status: 'pending', stage: 'approval', requestId });
    // The terminal retries, its answer lost: the same answer.
    expect((await reveal()).json).toMatchObject({ status: 'pending', stage: 'approval', requestId });
    const wrong = await key.gate(server.gateUrl, { requestId, reveal: crypto.randomBytes(32).toString('base64') });
    expect(wrong.status).toBe(409);
    expect(wrong.json.error).toBe('commitment_mismatch');
    // It has its code and operators see it: it stays.
    expect((await key.gate(server.gateUrl, { requestId })).json).toMatchObject({ status: 'pending', stage: 'approval', requestId });
    await alice.request('pairing.reject', { requestId });
  });

  it('returns the same request for a repeated commitment and binds requests to their TFP', async () => {
    const commitment = Buffer.alloc(32, 3).toString('base64');
    const first = await fresh.gate(server.gateUrl, { commitment });
    const second = await fresh.gate(server.gateUrl, { commitment });
    expect(second.json.requestId).toBe(first.json.requestId);
    expect(second.json.serverNonce).toBe(first.json.serverNonce);
    const other = RawTerminal.create(fresh.serial, 'ec');
    const stolen = await other.gate(server.gateUrl, { requestId: first.json.requestId });
    expect(stolen.status).toBe(404);
  });
});

describe('operator approval rules', () => {
  it('refuses approval without 2FA and with a wrong code, then approves with the right one', async () => {
    const bobOp = await addOperator(server.dataDir, 'bob', { with2fa: false });
    const bob = await connectOperator(server, bobOp);
    const terminal = RawTerminal.create('APPROVE-001', 'ed25519');
    await alice.request('terminals.create', { serial: terminal.serial });
    const { requestId, code } = await terminal.requestPairing(server.gateUrl, server.sfp);
    await expect(bob.request('pairing.approve', { requestId, code })).rejects.toMatchObject({ code: 'requires_2fa' });
    const wrong = code.replace(/^\d/, (d) => String((Number(d) + 1) % 10));
    await expect(alice.request('pairing.approve', { requestId, code: wrong })).rejects.toMatchObject({ code: 'code_mismatch' });
    const view = await alice.request<{ state: string; code: string }>('pairing.approve', { requestId, code });
    expect(view.state).toBe('approved');
    expect((await ping(terminal)).status).toBe(200);
    const audit = await alice.request<{ action: string; user: string; detail?: { result: string } }[]>('audit.list', { limit: 50 });
    expect(audit.some((e) => e.action === 'pairing.approve' && e.user === 'bob' && e.detail?.result === 'requires_2fa')).toBe(true);
    expect(audit.some((e) => e.action === 'pairing.approve' && e.user === 'alice' && e.detail?.result === 'code_mismatch')).toBe(true);
    expect(audit.some((e) => e.action === 'pairing.approve' && e.user === 'alice' && e.detail?.result === 'ok')).toBe(true);
    await bob.close();
  });

  it('rejects a request outright after too many wrong codes', async () => {
    const terminal = RawTerminal.create('BRUTE-001', 'ec');
    await alice.request('terminals.create', { serial: terminal.serial });
    const { requestId } = await terminal.requestPairing(server.gateUrl, server.sfp);
    // Each refusal says how many tries are left, so that an operator is warned before the last one.
    for (let i = 0; i < 5; i++) {
      await expect(alice.request('pairing.approve', { requestId, code: `000-000-000-00${i}` })).rejects.toMatchObject({ code: 'code_mismatch', details: { attemptsLeft: 4 - i } });
    }
    const view = await alice.request<{ state: string }>('pairing.get', { requestId });
    expect(view.state).toBe('rejected');
    expect((await terminal.gate(server.gateUrl, { requestId })).json.error).toBe('pairing_rejected');
  });
});

describe('an unpair racing an approval of another key', () => {
  it('names in its audit entry the key whose trust it ended, not the one pinned when the op arrived', async () => {
    // Two operators at once: one approves a new key for the serial (a replaced terminal), the other unpairs it. When the
    // approval lands between the unpair's arrival and its run, the unpair forgets the new key. Before, its entry named
    // the key pinned when it arrived, whose trust the approval had already ended: the log read as if the new key stayed.
    const carol = await connectOperator(server, await addOperator(server.dataDir, 'carol'));
    let raced = 0;
    try {
      for (let round = 0; round < 12 && raced < 2; round++) {
        const first = RawTerminal.create(`RACE-UNPAIR-${round}`);
        await alice.request('terminals.create', { serial: first.serial });
        await pair(first);
        const second = RawTerminal.create(first.serial);
        const { requestId, code } = await second.requestPairing(server.gateUrl, server.sfp);
        const both = await Promise.allSettled([
          alice.request('pairing.approve', { requestId, code }),
          carol.request('terminals.unpair', { serial: first.serial }),
        ]);
        expect(both.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled']);
        // Paired with the second key: the unpair ran first and forgot the first. Unpaired: it ran last and forgot the second.
        const { tfp } = await alice.request<{ tfp: string | null }>('terminals.get', { serial: first.serial });
        const forgotten = tfp === null ? second.tfp : first.tfp;
        if (tfp !== null) expect(tfp).toBe(second.tfp);
        const [entry] = await alice.request<{ detail?: Record<string, unknown> }[]>('audit.list', { action: 'terminals.unpair', serial: first.serial, limit: 1 });
        expect(entry!.detail).toMatchObject({ result: 'ok', tfp: forgotten });
        if (forgotten === second.tfp) raced++;
      }
    } finally {
      await carol.close();
    }
    expect(raced).toBeGreaterThan(0);
  }, 120_000);
});

describe('pairing requests of one serial', () => {
  it(`are capped at ${MAX_PENDING_PER_SERIAL} waiting from distinct keys, and a decision makes room`, async () => {
    await alice.request('terminals.create', { serial: 'CAP-001' });
    const requests: string[] = [];
    for (let i = 0; i < MAX_PENDING_PER_SERIAL; i++) {
      requests.push((await RawTerminal.create('CAP-001', 'ec').requestPairing(server.gateUrl, server.sfp)).requestId);
    }
    const refused = await RawTerminal.create('CAP-001', 'ec').gate(server.gateUrl, { commitment: crypto.randomBytes(32).toString('base64') });
    expect(refused.status).toBe(429);
    expect(refused.json.error).toBe('rate_limited');
    expect(refused.headers['retry-after']).toBeDefined();
    // Operators saw each request once, and not the refused one.
    const { requests: pending } = await alice.request<{ requests: { serial: string; state: string }[] }>('pairing.list', { state: 'pending' });
    expect(pending.filter((r) => r.serial === 'CAP-001')).toHaveLength(MAX_PENDING_PER_SERIAL);
    // More refusals: one warning a minute for the serial, not a line each.
    for (let i = 0; i < 5; i++) {
      expect((await RawTerminal.create('CAP-001', 'ec').gate(server.gateUrl, { commitment: crypto.randomBytes(32).toString('base64') })).status).toBe(429);
    }
    await expect.poll(() => server.logs.filter((l) => l.msg === 'pairing request refused: too many waiting for this serial' && l.serial === 'CAP-001').length).toBe(1);
    await alice.request('pairing.reject', { requestId: requests[0] });
    const genuine = RawTerminal.create('CAP-001', 'ec');
    const { requestId, code } = await genuine.requestPairing(server.gateUrl, server.sfp);
    await alice.request('pairing.approve', { requestId, code });
    expect((await genuine.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);
  });

  it('that never revealed their nonce (no code: operators cannot see or reject them) give way to a new request', async () => {
    await alice.request('terminals.create', { serial: 'CAP-002' });
    for (let i = 0; i < MAX_PENDING_PER_SERIAL + 3; i++) {
      expect((await RawTerminal.create('CAP-002', 'ec').gate(server.gateUrl, { commitment: crypto.randomBytes(32).toString('base64') })).status).toBe(202);
    }
    const genuine = RawTerminal.create('CAP-002', 'ec');
    const { requestId, code } = await genuine.requestPairing(server.gateUrl, server.sfp);
    await alice.request('pairing.approve', { requestId, code });
    expect((await genuine.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);
  });
});
