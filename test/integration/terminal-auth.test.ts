/** @module Master and gate refuse what they must: replays, stale or forged signatures, other keys, malformed and oversized input — and keep serving. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  it('accepts a correctly signed call from the paired terminal', async () => {
    const reply = await ping(paired);
    expect(reply.status).toBe(200);
    expect(typeof reply.json.serverTime).toBe('string');
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

describe('gate input handling', () => {
  const fresh = RawTerminal.create('GATE-001', 'rsa');

  it('answers unknown_serial openly and shows the attempt to operators', async () => {
    const reply = await fresh.gate(server.gateUrl, {});
    expect(reply.status).toBe(403);
    expect(reply.json.error).toBe('unknown_serial');
    const unknown = await alice.request<{ serial: string }[]>('unknown.list');
    expect(unknown.map((u) => u.serial)).toContain('GATE-001');
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
    for (let i = 0; i < 5; i++) {
      await expect(alice.request('pairing.approve', { requestId, code: `000-000-000-00${i}` })).rejects.toMatchObject({ code: 'code_mismatch' });
    }
    const view = await alice.request<{ state: string }>('pairing.get', { requestId });
    expect(view.state).toBe('rejected');
    expect((await terminal.gate(server.gateUrl, { requestId })).json.error).toBe('pairing_rejected');
  });
});
