/**
 * @module The terminal library follows the pinned server's announced next certificate (PROTOCOL.md, "Certificate
 * rollover") against local HTTPS peers that answer as master does: learns it only from the pinned server, ignores a
 * malformed one, forgets a withdrawn one, and pins it once the server presents it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatFingerprint } from '../../../src/crypto/fingerprint.js';
import { AppError } from '../../../src/errors.js';
import { StateDir } from '../../../src/terminal/state-dir.js';
import { Terminal } from '../../../src/terminal/terminal.js';
import { httpsPeer, serverIdentity, type HttpsPeer, type ServerIdentity } from './tls-peers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** A master that answers pings, announcing what `announce()` gives at the time (undefined: no header). */
async function master(id: ServerIdentity, announce: () => string | undefined, port = 0): Promise<HttpsPeer> {
  const peer = await httpsPeer(id, () => {
    const value = announce();
    const headers: Record<string, string> = value === undefined ? {} : { 'Pairing-Next-SFP': value };
    return { status: 200, body: { serverTime: new Date().toISOString() }, headers };
  }, port);
  cleanup.push(() => peer.close());
  return peer;
}

/** A terminal paired with `url`, pinned to `sfp`: the state a trusted gate answer leaves. */
async function pairedTerminal(url: string, sfp: string): Promise<string> {
  const parent = mkdtempSync(join(tmpdir(), 'terminal-rollover-'));
  cleanup.push(() => rmSync(parent, { recursive: true, force: true }));
  const dir = join(parent, 'state');
  await Terminal.init(dir, { serial: 'T1', key: 'ec' });
  const state = new StateDir(dir);
  state.save({ ...state.read(), server: { gateUrl: url, masterUrl: url, sfp, vpn: null, sfpVouched: true }, paired: true });
  return dir;
}

function opened(dir: string): { terminal: Terminal; notes: string[] } {
  const notes: string[] = [];
  return { terminal: Terminal.open(dir, { onNote: (text) => notes.push(text) }), notes };
}

describe('the announced next certificate', () => {
  it('is learned from the pinned server, accepted once presented, and becomes the pin', async () => {
    const current = serverIdentity();
    const next = serverIdentity();
    const before = await master(current, () => next.sfp);
    const dir = await pairedTerminal(before.url, current.sfp);
    await opened(dir).terminal.ping();
    expect(opened(dir).terminal.status()).toMatchObject({ pinnedSfp: current.sfp, announcedSfp: next.sfp });

    // The server switches: same address, the announced certificate, no announcement any more.
    await before.close();
    await master(next, () => undefined, Number(new URL(before.url).port));
    const { terminal, notes } = opened(dir);
    await terminal.ping();
    expect(terminal.status()).toMatchObject({ pinnedSfp: next.sfp, announcedSfp: null });
    expect(notes.join('\n')).toContain('now pinned to SFP');
    expect(new StateDir(dir).read().server).toMatchObject({ sfp: next.sfp, announcedSfp: null, sfpVouched: true });
  });

  it('is not accepted when the terminal never heard it', async () => {
    const current = serverIdentity();
    const next = serverIdentity();
    const silent = await master(current, () => undefined);
    const dir = await pairedTerminal(silent.url, current.sfp);
    await opened(dir).terminal.ping();
    await silent.close();
    await master(next, () => undefined, Number(new URL(silent.url).port));
    const err = await opened(dir).terminal.ping().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('server_pin_mismatch');
    expect(opened(dir).terminal.status().pinnedSfp).toBe(current.sfp);
  });

  it('ignores a malformed announcement, and says so', async () => {
    const current = serverIdentity();
    const peer = await master(current, () => `${serverIdentity().sfp.slice(2)}:x`);
    const dir = await pairedTerminal(peer.url, current.sfp);
    const { terminal, notes } = opened(dir);
    await terminal.ping();
    expect(terminal.status().announcedSfp).toBeNull();
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain('ignored the server\'s announcement');
  });

  it('keeps what it learned over a malformed announcement, and forgets it when a success comes without one', async () => {
    const current = serverIdentity();
    const next = serverIdentity().sfp;
    let announce: string | undefined = next;
    const peer = await master(current, () => announce);
    const dir = await pairedTerminal(peer.url, current.sfp);
    await opened(dir).terminal.ping();
    announce = 'not an sfp';
    await opened(dir).terminal.ping();
    expect(opened(dir).terminal.status().announcedSfp).toBe(next);
    announce = undefined;
    await opened(dir).terminal.ping();
    expect(opened(dir).terminal.status().announcedSfp).toBeNull();
  });

  it('is never taken from a first contact, which had no pin to check: a server that is no gate announces nothing', async () => {
    // A mistyped port, or whoever answers there: its announcement would outlive the pin the real gate then sets.
    const stranger = serverIdentity();
    const announced = serverIdentity().sfp;
    const notAGate = await httpsPeer(stranger, () => ({ status: 404, body: { error: 'not_found' }, headers: { 'Pairing-Next-SFP': announced } }));
    cleanup.push(() => notAGate.close());
    const parent = mkdtempSync(join(tmpdir(), 'terminal-rollover-'));
    cleanup.push(() => rmSync(parent, { recursive: true, force: true }));
    const dir = join(parent, 'state');
    await Terminal.init(dir, { serial: 'T1', key: 'ec' });
    Terminal.open(dir).setServer(notAGate.url);
    const err = await opened(dir).terminal.pair().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(notAGate.requests).toHaveLength(1);
    expect(opened(dir).terminal.status()).toMatchObject({ pinnedSfp: null, announcedSfp: null });
    expect(new StateDir(dir).read().server.announcedSfp ?? null).toBeNull();
  });
});

describe('a gate switch', () => {
  it('names the announced next SFP beside the pin when the new gate presents neither, and changes nothing', async () => {
    const current = serverIdentity();
    const next = serverIdentity();
    const before = await master(current, () => next.sfp);
    const dir = await pairedTerminal(before.url, current.sfp);
    await opened(dir).terminal.ping();
    const other = await master(serverIdentity(), () => undefined);
    const err = await opened(dir).terminal.pair(other.url).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('server_pin_mismatch');
    expect((err as AppError).message).toContain(`not the pinned ${formatFingerprint(current.sfp)} nor the next one its server announced, ${formatFingerprint(next.sfp)}; nothing was sent to it`);
    expect(opened(dir).terminal.status()).toMatchObject({ gateUrl: before.url, pinnedSfp: current.sfp, announcedSfp: next.sfp, paired: true });
  });
});
