/**
 * @module State survives restarts (graceful and SIGKILL), and the terminal refuses a server whose certificate
 * fingerprint differs from the pinned one — unless it shares the licence certificate.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/admin/admin-client.js';
import { ok, terminalCli } from '../helpers/cli.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { addOperator, connectOperator, pairRawTerminal, type TestOperator } from '../helpers/operator.js';
import { startServerProcess, tempDir, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let alice: TestOperator;
let token: string;
const atm = tempDir('terminal-state');
const term = (args: string[]) => terminalCli(atm, args);


/** Reconnects to a restarted server with the session token: sessions live in the store, not in memory. */
async function resumeOperator(): Promise<AdminClient> {
  const client = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
  await client.resume(token);
  return client;
}

async function restart(signal: NodeJS.Signals): Promise<void> {
  const { dataDir, ports } = server;
  await server.stop(signal);
  server = await startServerProcess({ dataDir, ports });
}

beforeAll(async () => {
  server = await startServerProcess();
  alice = await addOperator(server.dataDir, 'alice');
  const client = await connectOperator(server, alice);
  token = client.token!;
  await client.request('gate.open', { minutes: 30 });
  await client.request('terminals.create', { serial: 'ATM-R1' });
  await client.close();
});

afterAll(async () => {
  await server?.stop();
});

describe('restarts lose nothing', () => {
  it('keeps a pending pairing request, its code, the session and the gate window across a graceful restart', async () => {
    ok(await term(['init', '--serial', 'ATM-R1', '--key', 'ec']));
    const pending = ok(await term(['pair', '--gate', server.gateUrl]));
    await restart('SIGTERM');
    const client = await resumeOperator();
    expect((await client.request<{ open: boolean }>('gate.status')).open).toBe(true);
    const { requests: [request] } = await client.request<{ requests: { requestId: string; code: string }[] }>('pairing.list', { state: 'pending' });
    expect(request?.code).toBe(pending.code);
    // The terminal polls the same request after the restart.
    expect(ok(await term(['pair', '--gate', server.gateUrl]))).toMatchObject({ status: 'pending', requestId: pending.requestId });
    await client.request('pairing.approve', { requestId: request!.requestId, code: pending.code });
    await client.close();
    expect(ok(await term(['pair', '--gate', server.gateUrl])).status).toBe('trusted');
  });

  it('remembers used nonces and the last-seen time across a restart: a replay after it is still refused', async () => {
    const client = await resumeOperator();
    const raw = RawTerminal.create('ATM-R2', 'ed25519');
    await pairRawTerminal(client, server, raw);
    await client.close();
    const ping = raw.replayable(server.masterUrl, '/api/v1/ping');
    expect((await ping()).status).toBe(200);
    const pingedAt = Date.now();
    await restart('SIGTERM');
    expect((await ping()).status).toBe(401);
    const after = await resumeOperator();
    const { lastSeenAt } = await after.request<{ lastSeenAt: string | null }>('terminals.get', { serial: raw.serial });
    await after.close();
    // Written behind the answer, and flushed by the graceful shutdown at the latest; the refused replay does not count.
    expect(Math.abs(Date.parse(lastSeenAt ?? '') - pingedAt)).toBeLessThan(5_000);
  });

  it('writes the nonces it held back while the disk was almost full at a graceful shutdown: a replay after it is refused', async () => {
    const client = await resumeOperator();
    const raw = RawTerminal.create('ATM-R3', 'ec');
    await pairRawTerminal(client, server, raw);
    await client.close();
    // Below --min-free-disk, whatever this disk has: nonces are held in memory, to keep the room for operators' writes.
    const { dataDir, ports } = server;
    await server.stop('SIGTERM');
    server = await startServerProcess({ dataDir, ports, extraArgs: ['--min-free-disk', '99999999'] });
    await server.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('almost full'), 10_000);
    const ping = raw.replayable(server.masterUrl, '/api/v1/ping');
    expect((await ping()).status).toBe(200);
    expect((await ping()).status).toBe(401);
    await restart('SIGTERM');
    expect((await ping()).status).toBe(401);
  });

  it('keeps acknowledged cash events and the pin across SIGKILL', async () => {
    for (let i = 0; i < 5; i++) {
      expect(ok(await term(['cash-event', '--currency', 'EUR', '--denomination', '10', '--count', '1', '--event-id', `kill-${i}`])).duplicate).toBe(false);
    }
    await restart('SIGKILL');
    for (let i = 0; i < 5; i++) {
      expect(ok(await term(['cash-event', '--currency', 'EUR', '--denomination', '10', '--count', '1', '--event-id', `kill-${i}`])).duplicate).toBe(true);
    }
    const client = await resumeOperator();
    expect(await client.request('terminals.get', { serial: 'ATM-R1' })).toMatchObject({ state: 'paired' });
    await client.close();
  });
});

describe('the terminal pins the server', () => {
  it('accepts another server sharing the licence certificate (same SFP)', async () => {
    const { dataDir, ports } = server;
    await server.stop();
    const tls = path.join(dataDir, 'tls');
    const sibling = await startServerProcess({ ports, extraArgs: ['--server-key', path.join(tls, 'server.key'), '--server-cert', path.join(tls, 'server.crt')] });
    try {
      expect(sibling.sfp).toBe(server.sfp);
      // Same SFP, so the TLS pin holds; this server's store does not know the terminal, so master refuses it.
      const call = await term(['ping']);
      expect(call.json.error).toBe('unauthenticated');
    } finally {
      await sibling.stop();
    }
    server = await startServerProcess({ dataDir, ports });
    expect(ok(await term(['ping'])).serverTime).toBeTruthy();
  });

  it('refuses a server with another certificate on the same address, on master and gate', async () => {
    const { dataDir, ports } = server;
    await server.stop();
    const impostor = await startServerProcess({ ports });
    try {
      expect(impostor.sfp).not.toBe(server.sfp);
      const master = await term(['ping']);
      expect(master.code).toBe(1);
      expect(master.json.error).toBe('server_pin_mismatch');
      const admin = await connectOperator(impostor, await addOperator(impostor.dataDir, 'mallory'));
      await admin.request('gate.open', { minutes: 5 });
      const gate = await term(['pair', '--gate', impostor.gateUrl]);
      expect(gate.json.error).toBe('server_pin_mismatch');
      await admin.close();
      // Nothing reached the impostor's gate: no unknown-serial attempt was recorded.
      expect(impostor.logs.some((l) => l.msg === 'pairing attempt with an unknown serial')).toBe(false);
    } finally {
      await impostor.stop();
    }
    server = await startServerProcess({ dataDir, ports });
    expect(ok(await term(['status'])).paired).toBe(true);
  });
});
