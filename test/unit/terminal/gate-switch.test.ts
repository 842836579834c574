/**
 * @module A paired terminal told to use another gate (`pair --gate`, `set-server`) keeps its old server until the new gate
 * answers the pairing request; and what the terminal says when a request ends (rejected, expired) or the gate is closed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { Terminal } from '../../../src/terminal/terminal.js';
import { freePort } from '../../helpers/ports.js';
import { protocolPeer, type ProtocolPeer } from './gate-peer.js';
import { httpsPeer, serverIdentity } from './tls-peers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function peer(serial: string): Promise<ProtocolPeer> {
  const p = await protocolPeer(serverIdentity());
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
    const old = await peer('T1');
    const dir = await fresh();
    await pairedWith(old, dir);
    const before = Terminal.open(dir).status();
    const webServer = await httpsPeer(serverIdentity(), () => ({ status: 404, body: { error: 'not_found', message: 'no such page' } }));
    cleanup.push(() => webServer.close());

    const err = await failure(Terminal.open(dir).pair(webServer.url));
    expect(err.code).toBe('not_found');
    expect(err.message).toContain('nothing changed');
    expect(webServer.requests).toHaveLength(1);
    expect(Terminal.open(dir).status()).toEqual(before);
  });

  it('a gate that refuses this serial changes nothing', async () => {
    const old = await peer('T1');
    const other = await peer('SOMEONE-ELSE');
    const dir = await fresh();
    await pairedWith(old, dir);
    const before = Terminal.open(dir).status();
    expect((await failure(Terminal.open(dir).pair(other.gate.url))).code).toBe('unknown_serial');
    expect(Terminal.open(dir).status()).toEqual(before);
  });

  it('forgets the old pin, master and pairing once the new gate answers the commit, then pairs there', async () => {
    const old = await peer('T1');
    const next = await peer('T1');
    const dir = await fresh();
    await pairedWith(old, dir);
    const before = Terminal.open(dir).status();

    const pending = await Terminal.open(dir).pair(next.gate.url);
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
    const old = await peer('T1');
    const next = await peer('T1');
    const dir = await fresh();
    await pairedWith(old, dir);
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

    Terminal.open(dir).setServer(next.gate.url);
    expect(await Terminal.open(dir).pair()).toMatchObject({ status: 'pending' });
    expect(Terminal.open(dir).status()).toMatchObject({ gateUrl: next.gate.url, nextGateUrl: null, paired: false, masterUrl: null });
  });

  it('set-server on a terminal with nothing to lose takes effect at once', async () => {
    const dir = await fresh();
    expect(Terminal.open(dir).setServer('https://127.0.0.1:7741/')).toEqual({ switched: true });
    expect(Terminal.open(dir).status()).toMatchObject({ gateUrl: 'https://127.0.0.1:7741', nextGateUrl: null });
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
