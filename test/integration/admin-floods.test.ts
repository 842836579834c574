/**
 * @module The admin channel under anonymous floods, against the real server over TLS: attempts without a session spend the
 * address's budget before anything is written, password checks are capped in all, a closed connection's queued ops are
 * dropped, shutdown lets no op reach a closed store, connections are bounded per address and without a session, and
 * every audited op is one 'operator action' log line. Counts and codes only: no durations.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { addOperator, connectOperator, nextTotp, type TestOperator } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

interface Reply {
  id: number;
  ok: boolean;
  error?: string;
  retryAfter?: number;
  result?: Record<string, unknown>;
}

interface AuditView {
  action: string;
  user: string;
  target?: string | null;
  detail?: { result?: string; remoteAddress?: string; notWritten?: number };
}

/** A bare admin connection from a chosen loopback address (AdminClient always uses the default one). */
interface Raw {
  ws: WebSocket;
  call(op: string, args?: Record<string, unknown>): Promise<Reply>;
  /** The close code, once closed. */
  closed: Promise<number>;
}

function rawConnection(server: ServerProcess, localAddress: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(server.adminUrl, { rejectUnauthorized: false, localAddress, perMessageDeflate: false });
    const pending = new Map<number, (reply: Reply) => void>();
    let nextId = 1;
    const closed = new Promise<number>((done) => ws.once('close', (code) => done(code)));
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Reply;
      pending.get(frame.id)?.(frame);
      pending.delete(frame.id);
    });
    ws.once('open', () => resolve({
      ws, closed,
      call: (op, args = {}) => new Promise<Reply>((answer) => {
        const id = nextId++;
        pending.set(id, answer);
        ws.send(JSON.stringify({ id, op, args }));
      }),
    }));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
}

const count = <T>(items: T[], key: (item: T) => string): Record<string, number> =>
  items.reduce<Record<string, number>>((acc, item) => ((acc[key(item)] = (acc[key(item)] ?? 0) + 1), acc), {});

describe('anonymous floods on one server', () => {
  let server: ServerProcess;
  let aliceOp: TestOperator;
  let carolOp: TestOperator;
  let alice: AdminClient;

  beforeAll(async () => {
    server = await startServerProcess();
    aliceOp = await addOperator(server.dataDir, 'alice');
    // No 2FA: she logs in as often as the test needs, where alice's TOTP steps allow one login per 30 s.
    carolOp = await addOperator(server.dataDir, 'carol', { with2fa: false });
    // Logged in from 127.0.0.1 first: an address operators use.
    alice = await connectOperator(server, aliceOp);
  });

  afterAll(async () => {
    await alice?.close();
    await server?.stop();
  });

  const auditFrom = async (address: string): Promise<AuditView[]> =>
    (await alice.request<AuditView[]>('audit.list', { limit: 10_000 })).filter((e) => e.detail?.remoteAddress === address);
  const logLinesFrom = (address: string): Record<string, unknown>[] => server.logs.filter((l) => l.msg === 'operator action' && l.remoteAddress === address);

  it('answers anonymous attempts past the address budget with rate_limited, and writes at most the first of them', async () => {
    const address = '127.0.3.1';
    const flooder = await rawConnection(server, address);
    // Garbage resume tokens, logins whose arguments do not validate, and an audited op before login, pipelined.
    const kinds: Array<[string, Record<string, unknown>]> = [['resume', { token: 'garbage' }], ['login', { user: 7 }], ['terminals.create', { serial: 'NOPE-1' }]];
    const replies = await Promise.all(Array.from({ length: 300 }, (_, i) => flooder.call(...kinds[i % 3]!)));
    const codes = count(replies, (r) => r.error ?? 'ok');
    // The budget is 20 a minute; a few more may refill while the 300 are answered.
    expect(replies.slice(0, 20).map((r) => r.error)).toEqual(Array.from({ length: 20 }, (_, i) => ['session_expired', 'invalid_field', 'not_logged_in'][i % 3]));
    expect(codes.rate_limited).toBeGreaterThanOrEqual(270);
    expect(replies.filter((r) => r.error === 'rate_limited').every((r) => typeof r.retryAfter === 'number' && r.retryAfter >= 1)).toBe(true);
    const written = await auditFrom(address);
    const firstPastBudget = written.filter((e) => e.detail?.result === 'rate_limited');
    expect(firstPastBudget).toHaveLength(1);
    expect(written.length).toBe(300 - codes.rate_limited! + 1);
    expect(logLinesFrom(address)).toHaveLength(written.length);

    // A page reload from the same address resumes a live session: never throttled.
    const reload = await rawConnection(server, address);
    const resumed = await reload.call('resume', { token: alice.token });
    expect(resumed).toMatchObject({ ok: true, result: { user: 'alice' } });
    flooder.ws.close();
    reload.ws.close();
  });

  it('spends the budget on dead resume tokens from a logged-in connection too, and records its failed logins under the name tried', async () => {
    const address = '127.0.3.5';
    const carol = await rawConnection(server, address);
    expect(await carol.call('login', { user: carolOp.user, password: carolOp.password })).toMatchObject({ ok: true });
    const wrong = await carol.call('login', { user: 'alice', password: 'not alice password' });
    expect(wrong).toMatchObject({ error: 'login_failed' });
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => carol.call('resume', { token: `dead-token-${i}` })));
    const codes = count(replies, (r) => r.error ?? 'ok');
    expect(codes.rate_limited).toBeGreaterThanOrEqual(30);
    const written = await auditFrom(address);
    expect(written.filter((e) => e.action === 'resume').length).toBeLessThanOrEqual(60 - codes.rate_limited! + 1);
    const failedLogin = written.find((e) => e.action === 'login' && e.detail?.result === 'login_failed');
    expect(failedLogin?.user).toBe('?alice');
    // Still logged in as herself: the refusals spent the address's budget, not her session.
    expect(await carol.call('terminals.list')).toMatchObject({ ok: true });
    carol.ws.close();
  });

  it('logs every audited op as one operator action line: info when it succeeded, warn when refused, with no secret', async () => {
    const address = '127.0.3.2';
    const guesser = await rawConnection(server, address);
    expect(await guesser.call('login', { user: 'alice', password: 'a wrong guess at it', totp: '123456' })).toMatchObject({ error: 'login_failed' });
    const failed = await server.waitForLog((l) => l.msg === 'operator action' && l.remoteAddress === address);
    expect(failed).toMatchObject({ level: 40, user: '?alice', action: 'login', target: 'alice', result: 'login_failed' });
    expect(JSON.stringify(failed)).not.toContain('a wrong guess at it');
    // A password typed into the name field is neither logged nor audited, also one that could be a user name: a name
    // that is no operator's is recorded as such.
    for (const typed of ['my Secret passphrase', 'hunter2hunter2']) {
      expect(await guesser.call('login', { user: typed, password: 'x' })).toMatchObject({ error: 'login_failed' });
    }
    const misTyped = await server.waitForLog((l) => l.msg === 'operator action' && l.remoteAddress === address && l.user !== '?alice');
    expect(misTyped).toMatchObject({ user: '?(unknown user)', action: 'login', target: null, result: 'login_failed' });
    const audited = (await auditFrom(address)).filter((e) => e.action === 'login');
    expect(audited.map((e) => [e.user, e.target])).toEqual(expect.arrayContaining([['?alice', 'alice'], ['?(unknown user)', null]]));
    expect(audited.filter((e) => e.user === '?(unknown user)')).toHaveLength(2);
    expect(JSON.stringify(audited)).not.toMatch(/passphrase|hunter2/);
    expect(JSON.stringify(server.logs)).not.toMatch(/passphrase|hunter2/);
    const ok = await guesser.call('login', { user: 'alice', password: aliceOp.password, totp: await nextTotp(aliceOp) });
    expect(ok.ok).toBe(true);
    expect(await guesser.call('deposit.set', { coin: 'BTC', address: '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2' })).toMatchObject({ ok: true });
    const deposit = await server.waitForLog((l) => l.msg === 'operator action' && l.action === 'deposit.set');
    expect(deposit).toMatchObject({ level: 30, user: 'alice', target: 'BTC', result: 'ok', remoteAddress: address, detail: { address: '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', previous: null } });
    // Connections are opened and closed at debug level (anyone who reaches the port can make them).
    expect(server.logs.find((l) => l.msg === 'admin connection opened' && l.remoteAddress === address)).toMatchObject({ level: 20 });
    guesser.ws.close();
    expect(await server.waitForLog((l) => l.msg === 'admin connection closed' && l.remoteAddress === address)).toMatchObject({ level: 20, user: 'alice' });
  });

  it('caps password checks in all: a flood from 40 addresses inside their budgets is refused at once past the cap, and an operator still logs in', async () => {
    const flooders = await Promise.all(Array.from({ length: 40 }, (_, i) => rawConnection(server, `127.0.60.${i + 1}`)));
    const flood = Promise.all(flooders.flatMap((c, i) => Array.from({ length: 20 }, (_, k) => c.call('login', { user: `u${i}-${k}`, password: 'xxxxxxxxxxxxxxxxxxxx' }))));
    // During the flood, carol logs in from the address alice used before: that address keeps a share of the checks.
    const operator = await connectOperator(server, carolOp);
    expect(operator.token).toBeTruthy();
    await operator.close();
    const replies = await flood;
    const codes = count(replies, (r) => r.error ?? 'ok');
    console.log('login flood of 800 from 40 addresses:', codes);
    expect(Object.keys(codes).sort()).toEqual(['login_failed', 'rate_limited']);
    // Each address stayed inside its budget: every refusal is the cap on checks in progress, answered without a hash.
    expect(codes.rate_limited).toBeGreaterThan(400);
    expect(replies.filter((r) => r.error === 'rate_limited').every((r) => r.retryAfter === 1)).toBe(true);
    for (const c of flooders) c.ws.close();
  });

  it('writes a logged-in operator\'s refusals one by one up to 30 a minute, and counts the rest for one summary; each is still refused', async () => {
    const address = '127.0.5.1';
    const flooder = await rawConnection(server, address);
    expect(await flooder.call('login', { user: carolOp.user, password: carolOp.password })).toMatchObject({ ok: true });
    const replies = await Promise.all(Array.from({ length: 300 }, (_, i) => flooder.call('terminals.update', { serial: `NOPE-${i}`, name: 'x' })));
    expect(count(replies, (r) => r.error ?? 'ok')).toEqual({ not_found: 300 });
    const written = (await auditFrom(address)).filter((e) => e.action === 'terminals.update');
    // 30 a minute, and about one more refilled per 2 s while the 300 are answered.
    expect(written.length).toBeGreaterThanOrEqual(30);
    expect(written.length).toBeLessThan(40);
    expect(logLinesFrom(address).filter((l) => l.action === 'terminals.update').length).toBe(written.length);
    // Another operator's refusal is written: the budget is each operator's own.
    expect(await alice.request('terminals.unpair', { serial: 'NOPE-ALICE' }).catch((e: { code: string }) => e.code)).toBe('not_found');
    expect((await alice.request<AuditView[]>('audit.list', { action: 'terminals.unpair', user: 'alice' })).map((e) => e.target)).toContain('NOPE-ALICE');
    flooder.ws.close();
  });

  it('writes a refusal that changed something even past the budget: the fifth wrong code, which rejected the request', async () => {
    await alice.request('gate.open', { minutes: 5 });
    await alice.request('terminals.create', { serial: 'FLOOD-PAIR' });
    const { requestId, code } = await RawTerminal.create('FLOOD-PAIR', 'ec').requestPairing(server.gateUrl, server.sfp);
    for (let i = 0; i < 40; i++) await alice.request('terminals.unpair', { serial: `SPENT-${i}` }).catch(() => undefined);
    const wrong = code.replace(/^\d/, (d) => String((Number(d) + 1) % 10));
    for (let i = 0; i < 5; i++) await alice.request('pairing.approve', { requestId, code: wrong }).catch(() => undefined);
    const entries = await alice.request<Array<AuditView & { detail: { attemptsLeft?: number } }>>('audit.list', { action: 'pairing.approve', user: 'alice' });
    expect(entries.filter((e) => e.target === requestId).map((e) => e.detail.attemptsLeft)).toEqual([0]);
    expect((await alice.request<{ state: string }>('pairing.get', { requestId })).state).toBe('rejected');
    await alice.request('gate.close');
  });

  it('drops the queued ops of a connection that closed, and stops admin ops before the store closes at shutdown', async () => {
    const address = '127.0.4.1';
    // The start-up banner is the only text that is not a JSON line.
    const notJson = (): string[] => server.output().split('\n').filter((line) => line.trim() !== '' && !line.startsWith('{'));
    const banner = notJson();
    const quitter = await rawConnection(server, address);
    for (let k = 0; k < 20; k++) quitter.ws.send(JSON.stringify({ id: k + 1, op: 'login', args: { user: `gone-${k}`, password: 'xxxxxxxxxxxxxxxxxxxx' } }));
    quitter.ws.close();
    const closedLine = await server.waitForLog((l) => l.msg === 'admin connection closed' && l.remoteAddress === address);
    expect(closedLine.opsDropped).toBeGreaterThanOrEqual(10);

    // Logins in flight and queued on many connections when the server is told to stop.
    const late = await Promise.all(Array.from({ length: 10 }, (_, i) => rawConnection(server, `127.0.70.${i + 1}`)));
    for (const [i, c] of late.entries()) for (let k = 0; k < 20; k++) c.ws.send(JSON.stringify({ id: k + 1, op: 'login', args: { user: `late-${i}-${k}`, password: 'xxxxxxxxxxxxxxxxxxxx' } }));
    await server.waitForLog((l) => l.msg === 'operator action' && String(l.remoteAddress).startsWith('127.0.70.'));
    await alice.close();
    expect(await server.stop()).toBe(0);
    expect(await Promise.all(late.map((c) => c.closed))).toEqual(Array(10).fill(1001));

    // The refusals counted and not written one by one are summed up at shutdown, one entry per operator.
    expect(server.logs.find((l) => l.msg === 'operator action' && l.action === 'refusals.throttled')).toMatchObject({
      user: 'carol', result: 'rate_limited', detail: { notWritten: expect.any(Number), ops: { 'terminals.update': expect.any(Number) } },
    });
    // Only what ran before the close was written; nothing failed on a closed store; stdout held nothing but JSON lines.
    expect(logLinesFrom(address)).toHaveLength(20 - (closedLine.opsDropped as number));
    expect(server.logs.filter((l) => l.msg === 'admin op failed unexpectedly')).toEqual([]);
    expect(notJson()).toEqual(banner);
  });
});

describe('admin connections', () => {
  let server: ServerProcess;
  let bobOp: TestOperator;

  beforeAll(async () => {
    server = await startServerProcess({ extraArgs: ['--admin-conns-per-address', '5', '--admin-conns-waiting', '12', '--admin-login-deadline', '5'] });
    bobOp = await addOperator(server.dataDir, 'bob', { with2fa: false });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('refuses a connection past the per-address limit with HTTP 429, while other addresses connect', async () => {
    const five = await Promise.all(Array.from({ length: 5 }, () => rawConnection(server, '127.0.5.1')));
    await expect(rawConnection(server, '127.0.5.1')).rejects.toMatchObject({ status: 429 });
    const other = await rawConnection(server, '127.0.5.2');
    const refused = server.logs.filter((l) => l.msg === 'admin connection refused: too many from this address');
    expect(refused).toHaveLength(1);
    for (const c of [...five, other]) c.ws.close();
    await Promise.all([...five, other].map((c) => c.closed));
    // Closed connections give their place back.
    (await rawConnection(server, '127.0.5.1')).ws.close();
  });

  it('closes a connection that sends requests much faster than they run (4429), with a session or without, and serves one that waits', async () => {
    // Before, every request waited in the connection's queue with its frame: one connection without a session grew the
    // server by 270 MB in 6 s with refused logins, a viewer's by 900 MB in 8 s with server.status, and the process
    // (master and gate too) shares that memory.
    const stranger = await rawConnection(server, '127.0.8.1');
    const password = 'x'.repeat(20_000);
    for (let i = 0; i < 200; i++) stranger.ws.send(JSON.stringify({ id: i + 1, op: 'login', args: { user: 'nobody', password } }));
    expect(await stranger.closed).toBe(4429);
    const flooder = await rawConnection(server, '127.0.8.2');
    expect(await flooder.call('login', { user: bobOp.user, password: bobOp.password })).toMatchObject({ ok: true });
    const pad = 'x'.repeat(60_000);
    for (let i = 0; i < 200; i++) flooder.ws.send(JSON.stringify({ id: 1000 + i, op: 'server.status', args: { pad } }));
    expect(await flooder.closed).toBe(4429);
    // Logged once per address and window, with what it held.
    const lines = server.logs.filter((l) => l.msg === 'admin connection closed: it sent requests much faster than they are answered');
    expect(lines.map((l) => [l.remoteAddress, l.authenticated])).toEqual([['127.0.8.1', false], ['127.0.8.2', true]]);
    // A client that keeps a bounded number in flight (cas keeps 32 when it imports terminals) is served, and stays.
    const steady = await rawConnection(server, '127.0.8.3');
    expect(await steady.call('login', { user: bobOp.user, password: bobOp.password })).toMatchObject({ ok: true });
    const answers = await Promise.all(Array.from({ length: 48 }, () => steady.call('server.status')));
    expect(answers.filter((a) => a.ok)).toHaveLength(48);
    expect(await steady.call('gate.status')).toMatchObject({ ok: true });
    steady.ws.close();
    await steady.closed;
  });

  it('closes the connection waiting longest for a login when too many wait (4503), and those that wait past the deadline (4408)', async () => {
    const waiting: Raw[] = [];
    for (let i = 0; i < 12; i++) waiting.push(await rawConnection(server, `127.0.6.${(i % 3) + 1}`));
    // An operator connects (the oldest waiting connection makes room) and logs in at once, which frees a place again.
    const operator = await rawConnection(server, '127.0.6.9');
    expect(await operator.call('login', { user: bobOp.user, password: bobOp.password })).toMatchObject({ ok: true });
    expect(await waiting[0]!.closed).toBe(4503);
    // Two more strangers: the first takes the free place, the second closes the next oldest.
    const strangers = [await rawConnection(server, '127.0.6.10'), await rawConnection(server, '127.0.6.11')];
    expect(await waiting[1]!.closed).toBe(4503);
    // The rest and the strangers never log in: closed at the deadline. The logged-in operator stays.
    expect(await Promise.all([...waiting.slice(2), ...strangers].map((c) => c.closed))).toEqual(Array(12).fill(4408));
    expect(await operator.call('gate.status')).toMatchObject({ ok: true });
    // Logged out, the operator's connection waits for a login like any other.
    expect(await operator.call('logout')).toMatchObject({ ok: true });
    expect(await operator.closed).toBe(4408);
  });
});
