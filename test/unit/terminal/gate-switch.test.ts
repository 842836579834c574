/**
 * @module A paired terminal told to use another gate (`pair --gate`, `set-server`) keeps its old server until the new gate
 * answers the pairing request; and what the terminal says when a request ends (rejected, expired) or the gate is closed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatFingerprint } from '../../../src/crypto/fingerprint.js';
import { AppError } from '../../../src/errors.js';
import { Terminal } from '../../../src/terminal/terminal.js';
import { freePort } from '../../helpers/ports.js';
import { protocolPeer, type ProtocolPeer } from './gate-peer.js';
import { httpsPeer, serverIdentity, type ServerIdentity } from './tls-peers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function peer(serial: string, identity: ServerIdentity = serverIdentity()): Promise<ProtocolPeer> {
  const p = await protocolPeer(identity);
  cleanup.push(() => p.close());
  p.knownSerials.add(serial);
  return p;
}

async function fresh(serial = 'T1'): Promise<string> {
  const parent = mkdtempSync(join(tmpdir(), 'terminal-switch-'));
  cleanup.push(() => rmSync(parent, { recursive: true, force: true }));
  const dir = join(parent, 'state');
  await Terminal.init(dir, { serial, key: 'ec' });
  return dir;
}

async function pairedWith(p: ProtocolPeer, dir: string): Promise<void> {
  const first = await Terminal.open(dir).pair(p.gate.url);
  if (first.status !== 'pending') throw new Error('expected pending');
  p.approve(first.requestId);
  expect(await Terminal.open(dir).pair()).toMatchObject({ status: 'trusted' });
}

/**
 * A terminal paired with `old`, and a second server with a certificate of its own: the impostor of the attack (one that
 * answers every commit `202 pending`), or the server a terminal really moves to.
 */
async function pairedAndImpostor(): Promise<{ old: ProtocolPeer; dir: string; impostor: ProtocolPeer; impostorId: ServerIdentity }> {
  const old = await peer('T1');
  const dir = await fresh();
  await pairedWith(old, dir);
  const impostorId = serverIdentity();
  const impostor = await peer('T1', impostorId);
  return { old, dir, impostor, impostorId };
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`);
  return err;
}

describe('switching a paired terminal to another gate', () => {
  it('a mistyped --gate that nobody listens on leaves the terminal paired, and says so', async () => {
    const old = await peer('T1');
    const dir = await fresh();
    await pairedWith(old, dir);
    const before = Terminal.open(dir).status();

    const err = await failure(Terminal.open(dir).pair(`https://127.0.0.1:${await freePort()}`));
    expect(err.code).toBe('server_unreachable');
    expect(err.message).toContain(`Still paired with ${old.gate.url}`);
    expect(err.message).toContain('nothing changed');
    expect(Terminal.open(dir).status()).toEqual(before);
    expect((await Terminal.open(dir).ping()).serverTime).toMatch(/^\d{4}-/);
  });

  it('an HTTPS server that is not a gate (TLS works, no pairing answer) changes nothing either', async () => {
    const id = serverIdentity();
    const old = await peer('T1', id);
    const dir = await fresh();
    await pairedWith(old, dir);
    const before = Terminal.open(dir).status();
    // The pinned certificate: this server gets past the handshake and receives the request.
    const webServer = await httpsPeer(id, () => ({ status: 404, body: { error: 'not_found', message: 'no such page' } }));
    cleanup.push(() => webServer.close());

    const err = await failure(Terminal.open(dir).pair(webServer.url));
    expect(err.code).toBe('not_found');
    expect(err.message).toContain('nothing changed');
    expect(webServer.requests).toHaveLength(1);
    expect(Terminal.open(dir).status()).toEqual(before);
  });

  it('a gate that refuses this serial changes nothing', async () => {
    const id = serverIdentity();
    const old = await peer('T1', id);
    const other = await peer('SOMEONE-ELSE', id);
    const dir = await fresh();
    await pairedWith(old, dir);
    const before = Terminal.open(dir).status();
    expect((await failure(Terminal.open(dir).pair(other.gate.url))).code).toBe('unknown_serial');
    expect(Terminal.open(dir).status()).toEqual(before);
  });

  it('forgets the old pin, master and pairing once the new gate answers the commit, then pairs there', async () => {
    const { dir, impostor: next, impostorId: nextId } = await pairedAndImpostor();
    const before = Terminal.open(dir).status();

    const pending = await Terminal.open(dir).pair(next.gate.url, { expectSfp: nextId.sfp });
    expect(pending).toMatchObject({ status: 'pending', stage: 'approval' });
    if (pending.status !== 'pending') throw new Error('expected pending');
    expect(Terminal.open(dir).status()).toMatchObject({
      gateUrl: next.gate.url, pinnedSfp: pending.sfp, masterUrl: null, paired: false, pairedConfirmedAt: null, nextGateUrl: null,
      pairing: { requestId: pending.requestId, code: pending.code },
    });
    expect(pending.sfp).not.toBe(before.pinnedSfp);
    next.approve(pending.requestId);
    expect(await Terminal.open(dir).pair()).toMatchObject({ status: 'trusted', masterUrl: next.master.url });
  });

  it('set-server on a paired terminal only notes the gate: master calls go on until the new gate answers', async () => {
    const { old, dir, impostor: next, impostorId: nextId } = await pairedAndImpostor();
    const before = Terminal.open(dir).status();

    const closed = `https://127.0.0.1:${await freePort()}`;
    expect(Terminal.open(dir).setServer(closed)).toEqual({ switched: false });
    expect(Terminal.open(dir).status()).toEqual({ ...before, nextGateUrl: closed });
    expect((await Terminal.open(dir).ping()).serverTime).toMatch(/^\d{4}-/);
    const err = await failure(Terminal.open(dir).pair());
    expect(err.code).toBe('server_unreachable');
    expect(err.message).toContain(`Still paired with ${old.gate.url}`);
    expect(Terminal.open(dir).status().paired).toBe(true);

    // Naming the current gate again cancels the switch.
    expect(await Terminal.open(dir).pair(old.gate.url)).toMatchObject({ status: 'trusted' });
    expect(Terminal.open(dir).status().nextGateUrl).toBeNull();

    Terminal.open(dir).setServer(next.gate.url, { expectSfp: nextId.sfp });
    expect(Terminal.open(dir).status()).toMatchObject({ nextGateUrl: next.gate.url, nextGateSfp: nextId.sfp, paired: true });
    expect(await Terminal.open(dir).pair()).toMatchObject({ status: 'pending' });
    expect(Terminal.open(dir).status()).toMatchObject({
      gateUrl: next.gate.url, nextGateUrl: null, nextGateSfp: null, paired: false, masterUrl: null, pinnedSfp: nextId.sfp,
    });
  });

  it('set-server on a terminal with nothing to lose takes effect at once', async () => {
    const dir = await fresh();
    expect(Terminal.open(dir).setServer('https://127.0.0.1:7741/')).toEqual({ switched: true });
    expect(Terminal.open(dir).status()).toMatchObject({ gateUrl: 'https://127.0.0.1:7741', nextGateUrl: null });
  });
});

describe('a gate with another certificate needs its SFP confirmed out of band', () => {
  it('a paired terminal refuses a gate presenting another SFP: nothing reaches it, nothing changes, master calls go on', async () => {
    const { old, dir, impostor, impostorId } = await pairedAndImpostor();
    const before = Terminal.open(dir).status();

    const err = await failure(Terminal.open(dir).pair(impostor.gate.url));
    expect(err.code).toBe('server_pin_mismatch');
    const presented = formatFingerprint(impostorId.sfp);
    expect(err.message).toContain(`the gate at ${impostor.gate.url} presents SFP ${presented}, not the pinned ${formatFingerprint(before.pinnedSfp!)}`);
    expect(err.message).toContain('pairing-server fingerprint');
    expect(err.message).toContain(`--expect-sfp ${presented}`);
    expect(err.message).toContain(`Still paired with ${old.gate.url} (master ${old.master.url}); nothing changed`);
    expect(impostor.gate.requests).toHaveLength(0);
    expect(Terminal.open(dir).status()).toEqual(before);
    expect((await Terminal.open(dir).ping()).serverTime).toMatch(/^\d{4}-/);
    expect(await Terminal.open(dir).depositAddress('BTC')).toMatchObject({ address: 'bc1qexampleaddress0000000000000000000000' });
  });

  it('switches with --expect-sfp naming the presented SFP (colon form, any case)', async () => {
    const { dir, impostor, impostorId } = await pairedAndImpostor();
    const typed = formatFingerprint(impostorId.sfp).toLowerCase();
    const pending = await Terminal.open(dir).pair(impostor.gate.url, { expectSfp: typed });
    if (pending.status !== 'pending') throw new Error('expected pending');
    expect(Terminal.open(dir).status()).toMatchObject({ gateUrl: impostor.gate.url, pinnedSfp: impostorId.sfp, paired: false });
    impostor.approve(pending.requestId);
    expect(await Terminal.open(dir).pair()).toMatchObject({ status: 'trusted', masterUrl: impostor.master.url, sfp: impostorId.sfp });
  });

  it('refuses when --expect-sfp names another SFP than the gate presents, and changes nothing', async () => {
    const { old, dir, impostor } = await pairedAndImpostor();
    const before = Terminal.open(dir).status();
    const other = serverIdentity().sfp;
    const err = await failure(Terminal.open(dir).pair(impostor.gate.url, { expectSfp: other }));
    expect(err.code).toBe('server_pin_mismatch');
    expect(err.message).toContain(`not ${formatFingerprint(other)} given with --expect-sfp`);
    expect(err.message).toContain(`Still paired with ${old.gate.url}`);
    expect(impostor.gate.requests).toHaveLength(0);
    expect(Terminal.open(dir).status()).toEqual(before);
  });

  it('a malformed --expect-sfp is refused before anyone is contacted', async () => {
    const { dir, impostor } = await pairedAndImpostor();
    const before = Terminal.open(dir).status();
    expect((await failure(Terminal.open(dir).pair(impostor.gate.url, { expectSfp: 'abc' }))).code).toBe('invalid_field');
    expect(impostor.gate.requests).toHaveLength(0);
    expect(Terminal.open(dir).status()).toEqual(before);
  });

  it('set-server without --expect-sfp: the next pair refuses a gate with another SFP; pair --expect-sfp then switches', async () => {
    const { old, dir, impostor, impostorId } = await pairedAndImpostor();
    Terminal.open(dir).setServer(impostor.gate.url);
    const before = Terminal.open(dir).status();
    const err = await failure(Terminal.open(dir).pair());
    expect(err.code).toBe('server_pin_mismatch');
    expect(err.message).toContain(`Still paired with ${old.gate.url}`);
    expect(impostor.gate.requests).toHaveLength(0);
    expect(Terminal.open(dir).status()).toEqual(before);

    expect(await Terminal.open(dir).pair(undefined, { expectSfp: impostorId.sfp })).toMatchObject({ status: 'pending', sfp: impostorId.sfp });
    expect(Terminal.open(dir).status()).toMatchObject({ gateUrl: impostor.gate.url, nextGateUrl: null, pinnedSfp: impostorId.sfp });
  });

  it('the same SFP at a new address (the server moved, or shares its licence) needs no flag', async () => {
    const id = serverIdentity();
    const old = await peer('T1', id);
    const moved = await peer('T1', id);
    const dir = await fresh();
    await pairedWith(old, dir);
    const pending = await Terminal.open(dir).pair(moved.gate.url);
    if (pending.status !== 'pending') throw new Error('expected pending');
    expect(Terminal.open(dir).status()).toMatchObject({ gateUrl: moved.gate.url, pinnedSfp: id.sfp });
    moved.approve(pending.requestId);
    expect(await Terminal.open(dir).pair()).toMatchObject({ status: 'trusted', masterUrl: moved.master.url });
  });

  it('an unpaired terminal that never contacted a gate still pins whatever its first gate presents', async () => {
    const p = await peer('T1');
    const dir = await fresh();
    const other = `https://127.0.0.1:${await freePort()}`;
    Terminal.open(dir).setServer(other); // nothing to lose: switches at once, still without a pin
    const pending = await Terminal.open(dir).pair(p.gate.url);
    expect(pending).toMatchObject({ status: 'pending' });
    expect(Terminal.open(dir).status()).toMatchObject({ gateUrl: p.gate.url, pinnedSfp: pending.sfp });
  });

  it('an unpaired terminal keeps the pin of the gate it talked to: another SFP is refused there too', async () => {
    const id = serverIdentity();
    const first = await peer('SOMEONE-ELSE', id);
    const dir = await fresh();
    expect((await failure(Terminal.open(dir).pair(first.gate.url))).code).toBe('unknown_serial'); // pinned all the same
    const before = Terminal.open(dir).status();
    expect(before).toMatchObject({ pinnedSfp: id.sfp, paired: false, pairing: null });

    const impostor = await peer('T1');
    const err = await failure(Terminal.open(dir).pair(impostor.gate.url));
    expect(err.code).toBe('server_pin_mismatch');
    expect(err.message).toContain(`Still set to gate ${first.gate.url}, pinned to SFP ${formatFingerprint(id.sfp)}; nothing changed`);
    expect(impostor.gate.requests).toHaveLength(0);
    expect(Terminal.open(dir).status()).toEqual(before);
  });

  it('a server that really changed its certificate at the same address: pair --expect-sfp re-pins it, paired until it answers', async () => {
    const { old, dir } = await pairedAndImpostor();
    const port = Number(new URL(old.gate.url).port);
    await old.gate.close();
    const renewedId = serverIdentity();
    const renewed = await protocolPeer(renewedId, renewedId, port);
    cleanup.push(() => renewed.close());
    renewed.knownSerials.add('T1');

    const refused = await failure(Terminal.open(dir).pair());
    expect(refused.code).toBe('server_pin_mismatch');
    expect(refused.message).toContain('terminal pair --expect-sfp');
    expect(renewed.gate.requests).toHaveLength(0);

    const pending = await Terminal.open(dir).pair(undefined, { expectSfp: renewedId.sfp });
    if (pending.status !== 'pending') throw new Error('expected pending');
    expect(Terminal.open(dir).status()).toMatchObject({ gateUrl: old.gate.url, pinnedSfp: renewedId.sfp, paired: false });
  });
});

describe('what the terminal says when a request ends', () => {
  it('a rejection: neutral about who rejected, and what to do (wait for it to expire, or factory-reset; call the operator)', async () => {
    const p = await peer('T1');
    const dir = await fresh();
    const first = await Terminal.open(dir).pair(p.gate.url);
    if (first.status !== 'pending') throw new Error('expected pending');
    p.reject(first.requestId);
    const err = await failure(Terminal.open(dir).pair());
    expect(err.code).toBe('pairing_rejected');
    expect(err.message).toContain('rejected (by an operator, or after too many wrong codes)');
    expect(err.message).toMatch(/until the rejection expires/);
    expect(err.message).toContain('terminal factory-reset');
    expect(err.message).toMatch(/[Cc]all the operator/);
    expect(err.message).not.toMatch(/^an operator rejected/);
  });

  it('an expired request: the old code is announced void before the new one appears', async () => {
    const p = await peer('T1');
    const dir = await fresh();
    const first = await Terminal.open(dir).pair(p.gate.url);
    if (first.status !== 'pending') throw new Error('expected pending');
    p.expire(first.requestId);
    const events: string[] = [];
    const again = await Terminal.open(dir).pair(undefined, {
      onRestart: (previous) => events.push(`void ${previous.code} ${previous.requestId}`),
      onCode: (code) => events.push(`code ${code}`),
    });
    if (again.status !== 'pending') throw new Error('expected pending');
    expect(events).toEqual([`void ${first.code} ${first.requestId}`, `code ${again.code}`]);
  });

  it('a refused connection to the gate says that the gate listens only while an operator opens it', async () => {
    const dir = await fresh();
    const err = await failure(Terminal.open(dir).pair(`https://127.0.0.1:${await freePort()}`));
    expect(err.code).toBe('server_unreachable');
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).toContain('cas gate open');
  });
});

describe('paired, as of when', () => {
  it('records when the server last confirmed the pairing', async () => {
    const p = await peer('T1');
    const dir = await fresh();
    expect(Terminal.open(dir).status().pairedConfirmedAt).toBeNull();
    const start = Date.now();
    await pairedWith(p, dir);
    const at = Terminal.open(dir).status().pairedConfirmedAt;
    expect(Date.parse(at ?? '')).toBeGreaterThanOrEqual(start - 1000);
    p.unpair('T1');
    expect((await failure(Terminal.open(dir).ping())).code).toBe('not_paired');
    expect(Terminal.open(dir).status()).toMatchObject({ paired: false });
  });
});
