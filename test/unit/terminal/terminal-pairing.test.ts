/** @module The terminal library against a protocol peer over real TLS: commit–reveal pairing, pinning on gate and master, signed master calls. */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { StateDir } from '../../../src/terminal/state-dir.js';
import { Terminal } from '../../../src/terminal/terminal.js';
import { protocolPeer, type ProtocolPeer } from './gate-peer.js';
import { httpsPeer, serverIdentity } from './tls-peers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function setup(serial = 'T1'): Promise<{ peer: ProtocolPeer; dir: string; sfp: string }> {
  const id = serverIdentity();
  const peer = await protocolPeer(id);
  cleanup.push(() => peer.close());
  peer.knownSerials.add(serial);
  const parent = mkdtempSync(join(tmpdir(), 'terminal-pair-'));
  cleanup.push(() => rmSync(parent, { recursive: true, force: true }));
  const dir = join(parent, 'state');
  await Terminal.init(dir, { serial, key: 'ec' });
  return { peer, dir, sfp: id.sfp };
}

async function codeOf(promise: Promise<unknown>): Promise<string | null> {
  return promise.then(
    () => null,
    (err: unknown) => (err instanceof AppError ? err.code : `not an AppError: ${String(err)}`),
  );
}

const onlyRequest = (peer: ProtocolPeer) => [...peer.requests.values()][0]!;

describe('pairing', () => {
  it('commits, reveals, shows the same code as the server, waits for approval and becomes trusted', async () => {
    const { peer, dir, sfp } = await setup();
    const terminal = Terminal.open(dir);
    const codes: string[] = [];
    let polls = 0;
    const result = await terminal.pair(peer.gate.url, {
      wait: true,
      pollIntervalMs: 20,
      onCode: (code) => {
        codes.push(code);
        const request = onlyRequest(peer);
        expect(request.code).toBe(code); // the operator reads the same code
        setTimeout(() => peer.approve(request.requestId), 100);
      },
      onPoll: (n) => {
        polls = n;
      },
    });
    expect(codes).toHaveLength(1);
    expect(codes[0]).toMatch(/^\d{3}-\d{3}-\d{3}-\d{3}$/);
    expect(polls).toBeGreaterThan(0);
    expect(peer.forms.slice(0, 2)).toEqual(['commit', 'reveal']);
    expect(result).toMatchObject({ status: 'trusted', masterUrl: peer.master.url, sfp });
    expect(Terminal.open(dir).status()).toMatchObject({ paired: true, pinnedSfp: sfp, masterUrl: peer.master.url, pairing: null });
  });

  it('resumes a pairing in progress instead of committing anew, so pair twice shows the code, then the outcome', async () => {
    const { peer, dir } = await setup();
    const first = await Terminal.open(dir).pair(peer.gate.url);
    expect(first).toMatchObject({ status: 'pending', stage: 'approval', timedOut: false });
    if (first.status !== 'pending') throw new Error('unreachable');
    expect(Terminal.open(dir).status().pairing).toMatchObject({ code: first.code, requestId: first.requestId, stage: 'approval' });
    expect(JSON.stringify(Terminal.open(dir).status())).not.toMatch(/terminalNonce/);

    const second = await Terminal.open(dir).pair();
    expect(second).toMatchObject({ status: 'pending', code: first.code, requestId: first.requestId });
    expect(peer.forms).toEqual(['commit', 'reveal', 'poll']);

    peer.approve(first.requestId);
    expect(await Terminal.open(dir).pair()).toMatchObject({ status: 'trusted' });
  });

  it('pair --wait saves state.json only when the answer changes something, not on every unchanged poll', async () => {
    const { peer, dir } = await setup();
    const saves = vi.spyOn(StateDir.prototype, 'save');
    cleanup.push(() => saves.mockRestore());
    let savesAtCode = -1;
    const savesAtPoll: number[] = [];
    const result = await Terminal.open(dir).pair(peer.gate.url, {
      wait: true,
      pollIntervalMs: 10,
      onCode: () => {
        savesAtCode = saves.mock.calls.length;
      },
      onPoll: (polls) => {
        savesAtPoll.push(saves.mock.calls.length);
        if (polls === 6) peer.approve(onlyRequest(peer).requestId);
      },
    });
    expect(result).toMatchObject({ status: 'trusted' });
    expect(savesAtCode).toBeGreaterThan(0); // the pin, the nonce before the reveal, the approval stage
    expect(savesAtPoll).toHaveLength(6);
    // Polls 1 to 5 were answered "approval" with the same expiry: no writes. The trusted answer is saved once.
    expect(new Set(savesAtPoll)).toEqual(new Set([savesAtCode]));
    expect(saves.mock.calls.length).toBe(savesAtCode + 1);
  });

  it('returns pending with timedOut when the operator does not decide in time', async () => {
    const { peer, dir } = await setup();
    const result = await Terminal.open(dir).pair(peer.gate.url, { wait: true, timeoutMs: 150, pollIntervalMs: 20 });
    expect(result).toMatchObject({ status: 'pending', timedOut: true });
  });

  it('reports a rejection and forgets the pairing', async () => {
    const { peer, dir } = await setup();
    const first = await Terminal.open(dir).pair(peer.gate.url);
    if (first.status !== 'pending') throw new Error('expected pending');
    peer.reject(first.requestId);
    expect(await codeOf(Terminal.open(dir).pair())).toBe('pairing_rejected');
    expect(Terminal.open(dir).status()).toMatchObject({ paired: false, pairing: null });
  });

  it('starts again with a fresh commitment when the stored request expired', async () => {
    const { peer, dir } = await setup();
    const first = await Terminal.open(dir).pair(peer.gate.url);
    if (first.status !== 'pending') throw new Error('expected pending');
    peer.expire(first.requestId);
    const again = await Terminal.open(dir).pair();
    if (again.status !== 'pending') throw new Error('expected pending');
    expect(again.requestId).not.toBe(first.requestId);
    expect(again.code).toBe(onlyRequest(peer).code);
    expect(peer.forms).toEqual(['commit', 'reveal', 'poll', 'commit', 'reveal']);
  });

  it('surfaces unknown_serial and still pins the gate it talked to', async () => {
    const { peer, dir, sfp } = await setup();
    peer.knownSerials.clear();
    expect(await codeOf(Terminal.open(dir).pair(peer.gate.url))).toBe('unknown_serial');
    expect(Terminal.open(dir).status()).toMatchObject({ pinnedSfp: sfp, gateUrl: peer.gate.url, pairing: null });
  });

  it('pins nothing on first contact with an HTTPS server that is not a gate, and says so', async () => {
    const { peer, dir, sfp } = await setup();
    const webPage = await httpsPeer(serverIdentity(), () => ({ status: 404, body: '<h1>Not Found</h1>' }));
    const masterPort = await httpsPeer(serverIdentity(), () => ({ status: 404, body: { error: 'not_found', message: 'no route POST /api/v1/pairing' } }));
    const okButNotGate = await httpsPeer(serverIdentity(), () => ({ status: 200, body: { hello: 'world' } }));
    cleanup.push(() => webPage.close(), () => masterPort.close(), () => okButNotGate.close());
    for (const [server, code, said] of [
      [webPage, 'not_found', 'HTTP 404 with a body that is not a gate answer'],
      [masterPort, 'not_found', 'HTTP 404 "not_found: no route POST /api/v1/pairing"'],
      [okButNotGate, 'bad_request', 'HTTP 200 with a JSON body that is not a gate answer'],
    ] as const) {
      const err = await Terminal.open(dir).pair(server.url).then(
        () => null,
        (e: unknown) => e as AppError,
      );
      expect(err).toBeInstanceOf(AppError);
      expect(err!.code).toBe(code);
      expect(err!.message).toContain(`${server.url} is not a pairing gate: it answered ${said}. Nothing was pinned`);
      expect(Terminal.open(dir).status()).toMatchObject({ pinnedSfp: null, gateUrl: server.url, paired: false, pairing: null });
    }
    // The right gate afterwards is not refused with server_pin_mismatch: it is the first contact that pins.
    expect(await Terminal.open(dir).pair(peer.gate.url)).toMatchObject({ status: 'pending', sfp });
    expect(Terminal.open(dir).status().pinnedSfp).toBe(sfp);
  });

  it('refuses a first gate that declares it trusted without a code ever shown, unpins it, and then pairs with the real gate', async () => {
    const { peer, dir, sfp } = await setup();
    // A man in the middle at the first contact: any pairing request is "trusted", pointing master at itself.
    const impostor = serverIdentity();
    const fake = await httpsPeer(impostor, (req) => ({ status: 200, body: { status: 'trusted', masterUrl: `https://127.0.0.1:${new URL(req.url, 'https://x').port || '1'}`, vpn: 'script-security 2' } }));
    cleanup.push(() => fake.close());
    // At once to the commit, and after a reveal stage that never reached a code (answered "trusted" in its place).
    let commits = 0;
    const afterReveal = await httpsPeer(impostor, () => (++commits === 1
      ? { status: 202, body: { status: 'pending', stage: 'reveal', requestId: 'pr_x', serverNonce: Buffer.alloc(32, 7).toString('base64'), expiresAt: new Date(Date.now() + 60_000).toISOString() } }
      : { status: 200, body: { status: 'trusted', masterUrl: 'https://127.0.0.1:1', vpn: null } }));
    cleanup.push(() => afterReveal.close());
    for (const gate of [fake, afterReveal]) {
      const err = await Terminal.open(dir).pair(gate.url).then(() => null, (e: unknown) => e as AppError);
      expect(err).toBeInstanceOf(AppError);
      expect(err!.code).toBe('bad_request');
      expect(err!.message).toContain('declared this terminal trusted, but this terminal never showed it a pairing code');
      expect(Terminal.open(dir).status()).toMatchObject({ paired: false, pinnedSfp: null, masterUrl: null, pairing: null });
      await expect(Terminal.open(dir).ping()).rejects.toMatchObject({ code: 'not_paired' });
    }
    // The real gate is not refused for a pin the impostor left: the exchange shows a code, and the approval is believed.
    const result = await Terminal.open(dir).pair(peer.gate.url, { wait: true, pollIntervalMs: 20, onCode: () => peer.approve(onlyRequest(peer).requestId) });
    expect(result).toMatchObject({ status: 'trusted', sfp });
    // Paired under it, the pin is vouched for: pair again (a VPN profile refresh) is answered "trusted" at once, and believed.
    expect(await Terminal.open(dir).pair()).toMatchObject({ status: 'trusted', sfp });
  });

  it('believes a "trusted" at the first contact when the SFP was pinned ahead with --expect-sfp', async () => {
    const { peer, dir, sfp } = await setup();
    const first = await Terminal.open(dir).pair(peer.gate.url, { wait: true, pollIntervalMs: 20, onCode: () => peer.approve(onlyRequest(peer).requestId) });
    expect(first.status).toBe('trusted');
    // The same key restored on a terminal whose state forgot the server: it meets a server that already trusts it.
    const state = new StateDir(dir);
    const forgot = state.read();
    state.save({ ...forgot, server: { gateUrl: null, masterUrl: null, sfp: null, vpn: null }, paired: false, pairedConfirmedAt: null, pairing: null });
    expect(await Terminal.open(dir).pair(peer.gate.url, { expectSfp: sfp })).toMatchObject({ status: 'trusted', sfp });
  });

  it('shows a different code than the server when a man in the middle relays the first contact', async () => {
    const { peer, dir } = await setup();
    // The relay has its own certificate and passes bodies and signed headers through unchanged.
    const relay = await httpsPeer(serverIdentity(), (req) => fetchVia(peer.gate.url, req.url, req.method, req.headers, req.body));
    cleanup.push(() => relay.close());
    const result = await Terminal.open(dir).pair(relay.url);
    if (result.status !== 'pending') throw new Error('expected pending');
    expect(onlyRequest(peer).code).not.toBeNull();
    expect(result.code).not.toBe(onlyRequest(peer).code);
  });

  /**
   * A relay in front of the real peer that answers the terminal's `steerAt`-th reveal itself, with a new request and
   * server nonce (503 first, when `refuseFirst`): what a man in the middle who has just read the revealed nonce needs,
   * to grind a server nonce that makes the terminal show the code the real server shows its operator.
   */
  async function steeringRelay(peer: ProtocolPeer, refuseFirst: boolean) {
    const seen: Array<{ commitment?: string; reveal?: string; requestId?: string }> = [];
    let steered = false;
    let refused = false;
    const relay = await httpsPeer(serverIdentity(), (req) => {
      const body = JSON.parse(req.body.toString('utf8') || '{}') as { commitment?: string; reveal?: string; requestId?: string };
      seen.push(body);
      if (body.reveal !== undefined && refuseFirst && !refused) {
        refused = true;
        return { status: 503, body: { error: 'overloaded', message: 'try again' } };
      }
      if ((body.reveal !== undefined || (refused && body.commitment === undefined)) && !steered) {
        steered = true;
        const serverNonce = Buffer.alloc(32, 9).toString('base64');
        return { status: 202, body: { status: 'pending', stage: 'reveal', requestId: 'pr_steered', serverNonce, expiresAt: new Date(Date.now() + 60_000).toISOString() } };
      }
      return fetchVia(peer.gate.url, req.url, req.method, req.headers, req.body);
    });
    cleanup.push(() => relay.close());
    return { relay, seen };
  }

  it('never reveals a nonce against a second server nonce: a gate that offers one makes the terminal start over', async () => {
    const { peer, dir } = await setup();
    const { relay, seen } = await steeringRelay(peer, false);
    const restarts: string[] = [];
    const result = await Terminal.open(dir).pair(relay.url, { onRestart: ({ requestId }) => restarts.push(requestId) });
    if (result.status !== 'pending') throw new Error('expected pending');
    const firstNonce = seen.find((b) => b.reveal !== undefined)!.reveal;
    // After the steered answer: a new commitment, never the first nonce again, and the code comes from the new one.
    expect(seen.filter((b) => b.reveal === firstNonce)).toHaveLength(1);
    expect(new Set(seen.filter((b) => b.commitment !== undefined).map((b) => b.commitment)).size).toBe(2);
    expect(seen.some((b) => b.requestId === 'pr_steered')).toBe(false);
    expect(restarts).toHaveLength(1);
    expect(result.requestId).not.toBe('pr_steered');
  });

  it('does not continue a stored pairing with another server nonce on the next run either', async () => {
    const { peer, dir } = await setup();
    const { relay, seen } = await steeringRelay(peer, true);
    // The reveal is refused (503) after the terminal sent it: its nonce is out, the pairing stays stored.
    expect(await codeOf(Terminal.open(dir).pair(relay.url))).not.toBeNull();
    const stored = Terminal.open(dir).status().pairing;
    expect(stored).not.toBeNull();
    const result = await Terminal.open(dir).pair(relay.url);
    if (result.status !== 'pending') throw new Error('expected pending');
    const revealed = seen.filter((b) => b.reveal !== undefined).map((b) => b.reveal);
    expect(new Set(revealed).size).toBe(revealed.length); // each nonce revealed for one request only
    expect(seen.some((b) => b.requestId === 'pr_steered')).toBe(false);
    expect(result.code).not.toBe(stored!.code);
  });
});

describe('pinning', () => {
  it('refuses a gate at the same address presenting another certificate, before sending it anything', async () => {
    const { peer, dir } = await setup();
    await Terminal.open(dir).pair(peer.gate.url);
    const port = Number(new URL(peer.gate.url).port);
    await peer.gate.close();
    const impostor = await httpsPeer(serverIdentity(), () => ({ status: 200, body: { status: 'trusted', masterUrl: 'https://127.0.0.1:1' } }), port);
    cleanup.push(() => impostor.close());
    expect(await codeOf(Terminal.open(dir).pair())).toBe('server_pin_mismatch');
    expect(impostor.requests).toHaveLength(0);
  });

  it('refuses a master whose certificate differs from the gate-pinned one', async () => {
    const gateId = serverIdentity();
    const peer = await protocolPeer(gateId, serverIdentity());
    cleanup.push(() => peer.close());
    peer.knownSerials.add('T9');
    const parent = mkdtempSync(join(tmpdir(), 'terminal-pair-'));
    cleanup.push(() => rmSync(parent, { recursive: true, force: true }));
    const dir = join(parent, 's');
    await Terminal.init(dir, { serial: 'T9', key: 'ed25519' });
    const first = await Terminal.open(dir).pair(peer.gate.url);
    if (first.status !== 'pending') throw new Error('expected pending');
    peer.approve(first.requestId);
    expect(await Terminal.open(dir).pair()).toMatchObject({ status: 'trusted' });
    expect(await codeOf(Terminal.open(dir).ping())).toBe('server_pin_mismatch');
    expect(peer.master.requests).toHaveLength(0);
  });

  it('set-server forgets the pin, the master URL, the pairing and the paired flag once the new gate answers', async () => {
    const { peer, dir, sfp } = await setup();
    const first = await Terminal.open(dir).pair(peer.gate.url);
    if (first.status !== 'pending') throw new Error('expected pending');
    peer.approve(first.requestId);
    await Terminal.open(dir).pair();
    const otherId = serverIdentity();
    const other = await protocolPeer(otherId);
    cleanup.push(() => other.close());
    Terminal.open(dir).setServer(`${other.gate.url}/`, { expectSfp: otherId.sfp });
    expect(Terminal.open(dir).status()).toMatchObject({ pinnedSfp: sfp, paired: true, nextGateUrl: other.gate.url });
    expect(await codeOf(Terminal.open(dir).pair())).toBe('unknown_serial'); // answered, but no pairing exchange: nothing changes
    expect(Terminal.open(dir).status()).toMatchObject({ pinnedSfp: sfp, paired: true, nextGateUrl: other.gate.url });
    other.knownSerials.add('T1');
    const next = await Terminal.open(dir).pair();
    expect(Terminal.open(dir).status()).toMatchObject({
      gateUrl: other.gate.url, pinnedSfp: next.sfp, masterUrl: null, paired: false, nextGateUrl: null,
    });
    expect(next.sfp).toBe(otherId.sfp);
  });
});

describe('master calls', () => {
  async function paired(): Promise<{ peer: ProtocolPeer; dir: string }> {
    const { peer, dir } = await setup();
    const first = await Terminal.open(dir).pair(peer.gate.url);
    if (first.status !== 'pending') throw new Error('expected pending');
    peer.approve(first.requestId);
    await Terminal.open(dir).pair();
    return { peer, dir };
  }

  it('refuses locally with not_paired before pairing, without contacting anyone', async () => {
    const { peer, dir } = await setup();
    expect(await codeOf(Terminal.open(dir).ping())).toBe('not_paired');
    expect(peer.master.requests).toHaveLength(0);
    expect(peer.gate.requests).toHaveLength(0);
  });

  it('pings, reports cash idempotently and fetches a deposit address with a signed query', async () => {
    const { peer, dir } = await paired();
    const terminal = Terminal.open(dir);
    expect((await terminal.ping()).serverTime).toMatch(/^\d{4}-/);
    const first = await terminal.cashEvent({ currency: 'USD', denomination: 20, count: 3, eventId: 'ev-1' });
    expect(first).toEqual({ eventId: 'ev-1', accepted: true, duplicate: false });
    expect(await terminal.cashEvent({ currency: 'USD', denomination: 20, count: 3, eventId: 'ev-1' })).toMatchObject({ duplicate: true });
    const generated = await terminal.cashEvent({ currency: 'EUR', denomination: 50, count: 1 });
    expect(generated.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await terminal.depositAddress('BTC')).toMatchObject({ coin: 'BTC' });
    const last = peer.master.requests.at(-1)!;
    expect(last.url).toBe('/api/v1/deposit-address?coin=BTC');
    expect(last.headers['signature-input']).toContain('"@query"');
    expect(last.headers['x-terminal-certificate']).toBeUndefined();
    expect(await codeOf(terminal.cashEvent({ currency: 'usd', denomination: 20, count: 1 }))).toBe('invalid_field');
    expect(await codeOf(terminal.depositAddress('XYZ'))).toBe('not_found');
  });

  it('takes nothing from a master answer that is not the call\'s: another coin\'s address, a garbled one, a bare 200', async () => {
    const { peer, dir } = await paired();
    const terminal = Terminal.open(dir);
    const refused = async (call: () => Promise<unknown>): Promise<string> => {
      const error = await call().then(() => null, (e: unknown) => e as AppError);
      expect(error).toBeInstanceOf(AppError);
      expect(error!.code).toBe('bad_request');
      return error!.message;
    };
    peer.masterAnswers.set('GET /api/v1/deposit-address', { status: 200, body: { coin: 'ETH', address: '0x52908400098527886E0F7030069857D2E4169EE7' } });
    expect(await refused(() => terminal.depositAddress('btc'))).toContain('the deposit address of ETH when asked for btc');
    peer.masterAnswers.set('GET /api/v1/deposit-address', { status: 200, body: { coin: 'BTC', address: 'bc1q\u202eevil address' } });
    expect(await refused(() => terminal.depositAddress('BTC'))).toContain('master answered deposit-address with a body that is not its answer');
    peer.masterAnswers.set('POST /api/v1/cash-events', { status: 200, body: {} });
    // It may have been recorded: the retry's id is named, as when no answer came.
    expect(await refused(() => terminal.cashEvent({ currency: 'USD', denomination: 20, count: 1, eventId: 'ev-x' }))).toContain('cash event ev-x is not confirmed: send it again with --event-id ev-x');
    peer.masterAnswers.set('POST /api/v1/ping', { status: 200, body: { serverTime: 'soon' } });
    expect(await refused(() => terminal.ping())).toContain('ping');
  });

  it('marks itself unpaired when master answers not_paired, and then stays off the wire', async () => {
    const { peer, dir } = await paired();
    peer.unpair('T1');
    expect(await codeOf(Terminal.open(dir).ping())).toBe('not_paired');
    expect(Terminal.open(dir).status().paired).toBe(false);
    const seen = peer.master.requests.length;
    expect(await codeOf(Terminal.open(dir).ping())).toBe('not_paired');
    expect(peer.master.requests).toHaveLength(seen);
  });
});

/** Plain relay leg for the man-in-the-middle test: no pinning, certificate not checked. */
function fetchVia(
  base: string,
  path: string,
  method: string,
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
): Promise<{ status: number; body: unknown }> {
  const target = new URL(path, base);
  return new Promise((resolve, reject) => {
    const forwarded: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) if (typeof v === 'string' && k !== 'host') forwarded[k] = v;
    const req = request(target, { method, headers: forwarded, rejectUnauthorized: false, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
