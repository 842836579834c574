/**
 * @module The gate's port taken by another program: gate.open says so (conflict) and stores no open window, and a
 * window stored while the port was free does not keep the server from starting when the port is taken at restart.
 */
import net from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/admin/admin-client.js';
import type { GateStatus } from '../../src/protocol/types.js';
import { addOperator, connectOperator, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { allocatePorts, startServerProcess, tempDir, type ServerProcess } from '../helpers/server-process.js';

const dataDir = tempDir('gate-port');
let ports: ServerProcess['ports'];
let server: ServerProcess | null = null;
let alice: AdminClient | null = null;
let squatter: net.Server | null = null;

/** Another program listening on the gate's port, exclusively. */
function takePort(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer((socket) => socket.destroy());
    s.once('error', reject);
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(s));
  });
}
const freePort = async (): Promise<void> => {
  await new Promise<void>((resolve) => (squatter ? squatter.close(() => resolve()) : resolve()));
  squatter = null;
};

/** The operator's session, resumed after each restart (sessions are stored): a login per restart would run out of TOTP steps. */
let token: string | null = null;

async function start(): Promise<AdminClient> {
  server = await startServerProcess({ dataDir, ports });
  if (token === null) {
    alice = await connectOperator(server, await addOperator(dataDir, 'alice'));
    token = alice.token;
  } else {
    alice = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
    await alice.resume(token);
  }
  return alice;
}
async function stop(): Promise<void> {
  await alice?.close();
  await server?.stop();
  alice = null;
  server = null;
}

afterEach(freePort);
afterAll(stop);

describe('the gate port taken by another program', () => {
  it('fails gate.open with conflict and stores no open window', async () => {
    ports = await allocatePorts();
    const admin = await start();
    squatter = await takePort(ports.gate);
    const failure = admin.request('gate.open', { minutes: 10 });
    await expect(failure).rejects.toMatchObject({ code: 'conflict' });
    await expect(failure).rejects.toThrow(`cannot listen on 127.0.0.1:${ports.gate} (port in use)`);
    // The message says what to do, not only what went wrong.
    await expect(failure).rejects.toThrow(`another program holds it (ss -ltnp 'sport = :${ports.gate}'); stop it, or move the gate service to another port (the server's --gate-port)`);
    expect((await admin.request<GateStatus>('gate.status')).open).toBe(false);
    // Nothing stored: with the port free again, a restart leaves the gate closed.
    await freePort();
    await stop();
    const again = await start();
    expect((await again.request<GateStatus>('gate.status')).open).toBe(false);
  });

  it('does not keep the server from starting when a stored window cannot reopen; the gate opens once the port is free', async () => {
    const admin = alice!;
    expect((await admin.request<GateStatus>('gate.open', { minutes: 10 })).open).toBe(true);
    const terminal = RawTerminal.create('GATE-PORT-1', 'ec');
    await pairRawTerminal(admin, server!, terminal);
    await stop();

    squatter = await takePort(ports.gate);
    const restarted = await start();
    expect(server!.logs.some((l) => l.msg === 'the gate window could not be reopened; the gate stays closed' && l.level === 50)).toBe(true);
    expect((await restarted.request<GateStatus>('gate.status')).open).toBe(false);
    // Master serves the fleet regardless.
    expect((await terminal.send(server!.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);

    await freePort();
    expect((await restarted.request<GateStatus>('gate.open', { minutes: 10 })).open).toBe(true);
    await pairRawTerminal(restarted, server!, RawTerminal.create('GATE-PORT-2', 'ec'));
  });
});
