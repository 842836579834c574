/**
 * @module Authentication cannot be bypassed: a table of attacks on master, gate and the admin channel, each run against the
 * real server. Every one must fail with its documented answer, and every attempt must be visible to operators afterwards
 * (the audit log for operator-side attacks, the server's log for terminal-side ones).
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/admin/admin-client.js';
import { AppError, statusOf } from '../../src/errors.js';
import { serverCli } from '../helpers/cli.js';
import { forgeHeaders, type ForgeOptions } from '../helpers/forged-signature.js';
import { addOperator, connectOperator, nextTotp, pairRawTerminal, type TestOperator } from '../helpers/operator.js';
import { RawTerminal, rawRequest, type RawReply } from '../helpers/raw-terminal.js';
import { writeSection } from '../helpers/reliability.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

interface Outcome {
  status: number;
  code: string;
}

interface AuditView {
  user: string;
  action: string;
  target: string | null;
  detail?: { result?: string; attemptsLeft?: number };
}

interface Attack {
  name: string;
  /** Terminal-side attacks are checked in the server log under this serial; operator-side ones in the audit log. */
  side: 'terminal' | 'operator';
  serial?: string;
  /** Operator side: the audit entries that show this attempt to operators. */
  audited?(audit: AuditView[]): boolean;
  expect: Outcome;
  run(): Promise<Outcome>;
}

let server: ServerProcess;
let alice: AdminClient;
let aliceOp: TestOperator;
let bob: AdminClient;
let bobOp: TestOperator;
let threads = 1;
const P = RawTerminal.create('ATK-P', 'ec');
const Q = RawTerminal.create('ATK-Q', 'ed25519');
const R = RawTerminal.create('ATK-R', 'rsa');
const U = RawTerminal.create('ATK-U', 'ec');
const mallory = RawTerminal.create('ATK-P', 'ec');
const results: Array<{ attack: Attack; got: Outcome; seen?: boolean }> = [];

const fromReply = (reply: RawReply): Outcome => ({ status: reply.status, code: typeof reply.json === 'object' && reply.json ? reply.json.error ?? 'ok' : 'ok' });
const fromAdmin = async (request: Promise<unknown>): Promise<Outcome> => {
  try {
    await request;
    return { status: 200, code: 'ok' };
  } catch (error) {
    if (error instanceof AppError) return { status: statusOf(error.code), code: error.code };
    throw error;
  }
};

const ping = (t: RawTerminal, opts: Parameters<RawTerminal['send']>[2] = {}) => t.send(server.masterUrl, '/api/v1/ping', { body: '{}', ...opts });

/** Sends a request signed with `forgeHeaders` to master. */
function forged(t: RawTerminal, opts: Partial<ForgeOptions> & Pick<ForgeOptions, 'components' | 'signWith'>, base = server.masterUrl): Promise<RawReply> {
  const body = opts.body ?? Buffer.from('{}');
  const path = opts.path ?? '/api/v1/ping';
  const headers = forgeHeaders(t, { method: 'POST', path, body, params: {}, ...opts, headers: { host: new URL(base).host, ...opts.headers } });
  return rawRequest(`${base}${path}`, 'POST', headers, body);
}

const FULL = ['@method', '@path', 'content-digest', 'x-terminal-serial'];

/** Signed headers whose Signature-Input also covers `name`, a header they do not carry (the signature no longer matches). */
const coveringAbsent = (headers: Record<string, string>, name: string): Record<string, string> =>
  ({ ...headers, 'signature-input': headers['signature-input']!.replace('("@method"', `("${name}" "@method"`) });

async function pairTerminal(t: RawTerminal): Promise<void> {
  await pairRawTerminal(alice, server, t);
}

/** A pending pairing request with its code, for the approval attacks. */
async function pendingRequest(serial: string): Promise<{ requestId: string; code: string; terminal: RawTerminal }> {
  const terminal = RawTerminal.create(serial, 'ed25519');
  await alice.request('terminals.create', { serial });
  return { ...(await terminal.requestPairing(server.gateUrl, server.sfp)), terminal };
}

const wrongCode = (code: string) => code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));

beforeAll(async () => {
  // Run several front-end threads when the server has them: a replayed nonce must be refused across threads too.
  const help = await serverCli(['--help']);
  threads = help.stdout.includes('--threads') ? 2 : 1;
  server = await startServerProcess({ extraArgs: threads > 1 ? ['--threads', String(threads)] : [] });
  aliceOp = await addOperator(server.dataDir, 'alice');
  alice = await connectOperator(server, aliceOp);
  bobOp = await addOperator(server.dataDir, 'bob', { with2fa: false });
  bob = await connectOperator(server, bobOp);
  await alice.request('gate.open', { minutes: 30 });
  for (const t of [P, Q, R, U]) await pairTerminal(t);
  await alice.request('terminals.unpair', { serial: U.serial });
}, 120_000);

afterAll(async () => {
  await alice?.close();
  await bob?.close();
  await server?.stop();
  writeSection({
    name: 'attacks',
    title: 'Attacks on authentication (master, gate, admin channel)',
    summary: [
      `${results.length} attacks run against the real server (${threads} front-end thread${threads > 1 ? 's' : ''}); ${results.filter((r) => r.got.code === r.attack.expect.code && r.got.status === r.attack.expect.status).length} failed exactly as documented.`,
      'Each terminal-side attempt must appear in the server log as `terminal request refused` with its code, serial and address; each operator-side attempt in the audit log with the operator\'s name (or `(anonymous)`) and the refusal.',
      `Seen by operators: ${results.filter((r) => r.seen).length} of ${results.length}${results.some((r) => r.seen === false) ? ` — not seen: ${results.filter((r) => r.seen === false).map((r) => r.attack.name).join('; ')}` : ''}.`,
    ],
    numbers: { attacks: results.length, attacksRefused: results.filter((r) => r.got.code !== 'ok' && r.got.status >= 400).length },
    table: {
      columns: ['attack', 'expected', 'answer', 'seen by operators'],
      rows: results.map(({ attack, got, seen }) => [attack.name, `${attack.expect.status} ${attack.expect.code}`, `${got.status} ${got.code}`, `${seen === undefined ? 'not checked' : seen ? 'yes' : 'NO'}: ${attack.side === 'terminal' ? 'server log' : 'audit log'}`]),
    },
  });
});

const now = () => Math.floor(Date.now() / 1000);
const UNAUTH: Outcome = { status: 401, code: 'unauthenticated' };

const ATTACKS: Attack[] = [
  { name: "another terminal's TFP (Q) on P's serial, valid signature by a different key", side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => fromReply(await ping(mallory, { sign: { keyid: Q.tfp } })) },
  { name: "P's own TFP claimed, signed by a different key", side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => fromReply(await ping(mallory, { sign: { keyid: P.tfp } })) },
  { name: "P's genuine key and TFP, but Q's serial", side: 'terminal', serial: Q.serial, expect: UNAUTH, run: async () => fromReply(await ping(P, { sign: { serial: Q.serial }, headers: { 'X-Terminal-Serial': Q.serial } })) },
  { name: 'signature leaves out x-terminal-serial', side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => fromReply(await forged(P, { components: ['@method', '@path', 'content-digest'], signWith: 'ecdsa-p256-sha256', params: { alg: 'ecdsa-p256-sha256' } })) },
  { name: 'signature leaves out content-digest on a request with a body', side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => fromReply(await forged(P, { components: ['@method', '@path', 'x-terminal-serial'], signWith: 'ecdsa-p256-sha256', params: { alg: 'ecdsa-p256-sha256' } })) },
  { name: 'signature covers @authority instead of @path', side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => fromReply(await forged(P, { components: ['@method', '@authority', 'content-digest', 'x-terminal-serial'], signWith: 'ecdsa-p256-sha256', params: { alg: 'ecdsa-p256-sha256' } })) },
  { name: 'signature over a harmless path, sent to another (cash-events)', side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => {
    const body = Buffer.from(JSON.stringify({ eventId: 'atk-path', currency: 'USD', denomination: 100, count: 99, at: new Date().toISOString() }));
    const headers = forgeHeaders(P, { method: 'POST', path: '/api/v1/ping', body, components: FULL, signWith: 'ecdsa-p256-sha256', params: { alg: 'ecdsa-p256-sha256' } });
    return fromReply(await rawRequest(`${server.masterUrl}/api/v1/cash-events`, 'POST', headers, body));
  } },
  { name: 'algorithm confusion: EC key declares alg ed25519', side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => fromReply(await forged(P, { components: FULL, signWith: 'ecdsa-p256-sha256', params: { alg: 'ed25519' } })) },
  { name: 'algorithm confusion: Ed25519 key declares alg ecdsa-p256-sha256', side: 'terminal', serial: Q.serial, expect: UNAUTH, run: async () => fromReply(await forged(Q, { components: FULL, signWith: 'ed25519', params: { alg: 'ecdsa-p256-sha256' } })) },
  { name: 'algorithm confusion: RSA signs PKCS#1 v1.5, declares rsa-pss-sha512', side: 'terminal', serial: R.serial, expect: UNAUTH, run: async () => fromReply(await forged(R, { components: FULL, signWith: 'rsa-v1_5-sha256', params: { alg: 'rsa-pss-sha512' } })) },
  { name: 'algorithm confusion: HMAC-SHA256 keyed with the public certificate', side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => fromReply(await forged(P, { components: FULL, signWith: 'hmac-with-certificate', params: { alg: 'hmac-sha256' } })) },
  { name: 'no alg parameter at all', side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => fromReply(await forged(P, { components: FULL, signWith: 'ecdsa-p256-sha256', params: {} })) },
  { name: 'replay inside the window (the same request sent twice)', side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => {
    const headers = forgeHeaders(P, { method: 'POST', path: '/api/v1/ping', body: Buffer.from('{}'), components: FULL, signWith: 'ecdsa-p256-sha256', params: { alg: 'ecdsa-p256-sha256' } });
    const first = await rawRequest(`${server.masterUrl}/api/v1/ping`, 'POST', headers, Buffer.from('{}'));
    expect(first.status).toBe(200);
    return fromReply(await rawRequest(`${server.masterUrl}/api/v1/ping`, 'POST', headers, Buffer.from('{}')));
  } },
  { name: 'replay outside the window (created 10 minutes ago)', side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => fromReply(await ping(P, { sign: { created: now() - 600 } })) },
  { name: 'created 10 minutes in the future', side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => fromReply(await ping(P, { sign: { created: now() + 600 } })) },
  { name: 'expires already past', side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => fromReply(await forged(P, { components: FULL, signWith: 'ecdsa-p256-sha256', params: { alg: 'ecdsa-p256-sha256', expires: now() - 5 } })) },
  { name: 'nonce replayed on another connection, both at once', side: 'terminal', serial: Q.serial, expect: UNAUTH, run: async () => {
    const headers = forgeHeaders(Q, { method: 'POST', path: '/api/v1/ping', body: Buffer.from('{}'), components: FULL, signWith: 'ed25519', params: { alg: 'ed25519' } });
    // Separate TLS connections (agent: false), sent together: with several front threads they may land on different ones.
    const replies = await Promise.all(Array.from({ length: 6 }, () => rawRequest(`${server.masterUrl}/api/v1/ping`, 'POST', headers, Buffer.from('{}'))));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
    return fromReply(replies.find((r) => r.status !== 200)!);
  } },
  { name: 'nonce reused with a fresh signature over another body', side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => {
    const nonce = crypto.randomBytes(16).toString('base64');
    expect((await ping(P, { sign: { nonce } })).status).toBe(200);
    return fromReply(await ping(P, { sign: { nonce }, body: '{"again":true}' }));
  } },
  { name: 'body changed after signing, Content-Digest recomputed', side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => {
    const headers = forgeHeaders(P, { method: 'POST', path: '/api/v1/ping', body: Buffer.from('{}'), components: FULL, signWith: 'ecdsa-p256-sha256', params: { alg: 'ecdsa-p256-sha256' } });
    const body = Buffer.from('{"x":1}');
    headers['content-digest'] = `sha-256=:${crypto.createHash('sha256').update(body).digest('base64')}:`;
    return fromReply(await rawRequest(`${server.masterUrl}/api/v1/ping`, 'POST', headers, body));
  } },
  { name: 'unsigned request', side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => fromReply(await rawRequest(`${server.masterUrl}/api/v1/ping`, 'POST', { 'x-terminal-serial': P.serial }, Buffer.from('{}'))) },
  { name: 'master call after unpair', side: 'terminal', serial: U.serial, expect: { status: 403, code: 'not_paired' }, run: async () => fromReply(await ping(U)) },
  { name: 'cash event after unpair', side: 'terminal', serial: U.serial, expect: { status: 403, code: 'not_paired' }, run: async () => fromReply(await U.send(server.masterUrl, '/api/v1/cash-events', { body: JSON.stringify({ eventId: 'after-unpair', currency: 'USD', denomination: 20, count: 1, at: new Date().toISOString() }) })) },
  { name: 'second TFP for a paired serial: master before it asked the gate', side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => fromReply(await ping(mallory)) },
  { name: 'second TFP for a paired serial: master after commit and reveal at the gate', side: 'terminal', serial: P.serial, expect: { status: 403, code: 'not_paired' }, run: async () => {
    const intruder = RawTerminal.create(P.serial, 'ed25519');
    await intruder.requestPairing(server.gateUrl, server.sfp);
    const trusted = await intruder.gate(server.gateUrl, {});
    expect(trusted.json.status).toBe('pending');
    return fromReply(await ping(intruder));
  } },
  // Names every plain object answers to: they must count as absent headers, not as a server fault (a 500 on master
  // would tell which serial and TFP the server holds, where every other refusal is the same 401).
  { name: 'signature covers "constructor", a header the request does not have', side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => {
    const headers = coveringAbsent(forgeHeaders(P, { method: 'POST', path: '/api/v1/ping', body: Buffer.from('{}'), components: FULL, signWith: 'ecdsa-p256-sha256', params: { alg: 'ecdsa-p256-sha256' } }), 'constructor');
    return fromReply(await rawRequest(`${server.masterUrl}/api/v1/ping`, 'POST', headers, Buffer.from('{}')));
  } },
  { name: 'gate: signature covers "__proto__", a header the request does not have', side: 'terminal', serial: P.serial, expect: { status: 400, code: 'bad_signature_input' }, run: async () => {
    const headers = coveringAbsent(forgeHeaders(P, { method: 'POST', path: '/api/v1/pairing', body: Buffer.from('{}'), components: FULL, signWith: 'ecdsa-p256-sha256', params: { alg: 'ecdsa-p256-sha256' }, headers: { 'x-terminal-certificate': P.certDer.toString('base64') } }), '__proto__');
    return fromReply(await rawRequest(`${server.gateUrl}/api/v1/pairing`, 'POST', headers, Buffer.from('{}')));
  } },
  { name: "gate: P's certificate, signature by another key", side: 'terminal', serial: P.serial, expect: UNAUTH, run: async () => {
    const headers = forgeHeaders(mallory, { method: 'POST', path: '/api/v1/pairing', body: Buffer.from('{}'), components: FULL, signWith: 'ecdsa-p256-sha256', params: { alg: 'ecdsa-p256-sha256', keyid: P.tfp }, headers: { 'x-terminal-certificate': P.certDer.toString('base64') } });
    return fromReply(await rawRequest(`${server.gateUrl}/api/v1/pairing`, 'POST', headers, Buffer.from('{}')));
  } },
  { name: 'gate: certificate CN is not the serial', side: 'terminal', serial: P.serial, expect: { status: 400, code: 'bad_certificate' }, run: async () => {
    const other = RawTerminal.create(P.serial, 'ec', 'ATK-OTHER');
    return fromReply(await other.gate(server.gateUrl, {}));
  } },
  // Operator side.
  { name: 'approve without 2FA', side: 'operator', audited: (a) => a.some((e) => e.action === 'pairing.approve' && e.user === 'bob' && e.detail?.result === 'requires_2fa'), expect: { status: 403, code: 'requires_2fa' }, run: async () => {
    const { requestId, code } = await pendingRequest('ATK-W1');
    return fromAdmin(bob.request('pairing.approve', { requestId, code }));
  } },
  // The address customers pay into is the other thing an attacker with a stolen password would swap.
  { name: 'deposit address swapped without 2FA', side: 'operator', audited: (a) => a.some((e) => e.action === 'deposit.set' && e.user === 'bob' && e.detail?.result === 'requires_2fa'), expect: { status: 403, code: 'requires_2fa' }, run: async () => {
    return fromAdmin(bob.request('deposit.set', { coin: 'BTC', address: '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2' }));
  } },
  { name: 'approve with a wrong code', side: 'operator', audited: (a) => a.some((e) => e.action === 'pairing.approve' && e.user === 'alice' && e.detail?.result === 'code_mismatch'), expect: { status: 403, code: 'code_mismatch' }, run: async () => {
    const { requestId, code } = await pendingRequest('ATK-W2');
    return fromAdmin(alice.request('pairing.approve', { requestId, code: wrongCode(code) }));
  } },
  { name: 'brute force of the code: 12 guesses, then the right code', side: 'operator', audited: (a) => a.filter((e) => e.action === 'pairing.approve' && e.detail?.result === 'code_mismatch').length >= 6 && a.some((e) => e.action === 'pairing.approve' && e.detail?.result === 'code_mismatch' && e.detail?.attemptsLeft === 0) && a.some((e) => e.action === 'pairing.approve' && e.user === 'alice' && e.detail?.result === 'invalid_state'), expect: { status: 409, code: 'invalid_state' }, run: async () => {
    const { requestId, code, terminal } = await pendingRequest('ATK-W3');
    const guesses: string[] = [];
    for (let i = 0; i < 12; i++) guesses.push((await fromAdmin(alice.request('pairing.approve', { requestId, code: String(i).padStart(12, '0') }))).code);
    // Five wrong codes reject the request (docs/DECISIONS.md); every later try meets a decided request.
    expect(guesses.slice(0, 5)).toEqual(Array(5).fill('code_mismatch'));
    expect(new Set(guesses.slice(5))).toEqual(new Set(['invalid_state']));
    expect((await terminal.gate(server.gateUrl, { requestId })).json.error).toBe('pairing_rejected');
    return fromAdmin(alice.request('pairing.approve', { requestId, code }));
  } },
  { name: 'approve on a connection that never logged in', side: 'operator', audited: (a) => a.some((e) => e.action === 'pairing.approve' && e.user === '(anonymous)' && e.detail?.result === 'not_logged_in'), expect: { status: 401, code: 'not_logged_in' }, run: async () => {
    const { requestId, code } = await pendingRequest('ATK-W4');
    const anonymous = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
    try {
      return await fromAdmin(anonymous.request('pairing.approve', { requestId, code }));
    } finally {
      await anonymous.close();
    }
  } },
  // bob has no TOTP: alice's logins are kept for the rows that need a code (one per 30-second step).
  { name: 'session token reused after logout (resume on a new connection)', side: 'operator', audited: (a) => a.some((e) => e.action === 'resume' && e.detail?.result === 'session_expired'), expect: { status: 401, code: 'session_expired' }, run: async () => {
    const session = await connectOperator(server, bobOp);
    const token = session.token!;
    await session.logout();
    await session.close();
    const again = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
    try {
      return await fromAdmin(again.resume(token));
    } finally {
      await again.close();
    }
  } },
  { name: 'second connection of a logged-out session keeps operating', side: 'operator', audited: (a) => a.some((e) => e.action === 'terminals.create' && e.target === 'ATK-ZOMBIE' && e.detail?.result === 'session_expired'), expect: { status: 401, code: 'session_expired' }, run: async () => {
    const session = await connectOperator(server, bobOp);
    const twin = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
    await twin.resume(session.token!);
    await session.logout();
    await session.close();
    try {
      return await fromAdmin(twin.request('terminals.create', { serial: 'ATK-ZOMBIE' }));
    } finally {
      await twin.close();
    }
  } },
  { name: 'TOTP code replayed for a second login', side: 'operator', audited: (a) => a.some((e) => e.action === 'login' && e.user.includes('alice') && e.detail?.result === 'totp_required'), expect: { status: 401, code: 'totp_required' }, run: async () => {
    const totp = (await nextTotp(aliceOp))!;
    const first = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
    const second = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
    try {
      await first.login(aliceOp.user, aliceOp.password, totp);
      return await fromAdmin(second.login(aliceOp.user, aliceOp.password, totp));
    } finally {
      await first.close();
      await second.close();
    }
  } },
  { name: 'password guessing: 8 wrong passwords, then the right one', side: 'operator', audited: (a) => a.filter((e) => e.action === 'login' && e.user.includes('carol') && e.detail?.result === 'login_failed').length >= 5 && a.some((e) => e.action === 'login' && e.user.includes('carol') && e.detail?.result === 'rate_limited'), expect: { status: 429, code: 'rate_limited' }, run: async () => {
    const carol = await addOperator(server.dataDir, 'carol');
    const client = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
    try {
      for (let i = 0; i < 8; i++) await fromAdmin(client.login('carol', `not the password ${i}`, '000000'));
      return await fromAdmin(client.login(carol.user, carol.password, await nextTotp(carol)));
    } finally {
      await client.close();
    }
  } },
];

describe('attacks on authentication', () => {
  it.each(ATTACKS.map((a) => [a.name, a] as const))('%s', async (_name, attack) => {
    const got = await attack.run();
    results.push({ attack, got });
    expect(got).toEqual(attack.expect);
  });
});

describe('every attempt is visible to operators', () => {
  it('terminal side in the server log (code, serial, address); operator side in the audit log (who, what, refusal)', async () => {
    expect(results).toHaveLength(ATTACKS.length);
    const refused = server.logs.filter((l) => l.msg === 'terminal request refused');
    const audit = await alice.request<AuditView[]>('audit.list', { limit: 1000 });
    const unseen: string[] = [];
    for (const result of results) {
      const { attack, got } = result;
      result.seen = attack.side === 'terminal'
        ? refused.some((l) => l.serial === attack.serial && l.error === got.code && typeof l.remoteAddress === 'string')
        : attack.audited!(audit);
      if (!result.seen) unseen.push(attack.name);
    }
    // A dead token presented to resume is someone holding a stolen or stale token: operators must see that too.
    expect(unseen).toEqual([]);
  });

  it('left the genuine terminals working and the pins unchanged', async () => {
    for (const t of [P, Q, R]) {
      expect((await ping(t)).status).toBe(200);
      expect(await alice.request('terminals.get', { serial: t.serial })).toMatchObject({ state: 'paired', tfp: t.tfp });
    }
    expect(await alice.request('terminals.get', { serial: U.serial })).toMatchObject({ tfp: null });
  });
});
