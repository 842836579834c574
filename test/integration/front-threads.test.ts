/** @module Several front-end threads share the ports: a nonce is single-use across them, and a crashed thread is replaced while the service keeps answering. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { signRequest } from '../../src/crypto/signature.js';
import { addOperator, connectOperator } from '../helpers/operator.js';
import { RawTerminal, rawRequest } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let alice: AdminClient;
const terminal = RawTerminal.create('THREADS-1', 'rsa');
const ping = () => terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}' });

beforeAll(async () => {
  server = await startServerProcess({ extraArgs: ['--threads', '3'], env: { PAIRING_TEST_HOOKS: '1' } });
  alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
  await alice.request('gate.open', { minutes: 10 });
  await alice.request('terminals.create', { serial: terminal.serial });
  const { requestId, code } = await terminal.requestPairing(server.gateUrl, server.sfp);
  await alice.request('pairing.approve', { requestId, code });
});

afterAll(async () => {
  await alice?.close();
  await server?.stop();
});

describe('front-end threads', () => {
  it('runs the configured number of threads on the shared ports', async () => {
    expect(server.logs.find((l) => l.msg === 'listening')?.threads).toBe(3);
    const threads = new Set(server.logs.filter((l) => l.msg === 'front thread listening').map((l) => l.thread));
    expect(threads).toEqual(new Set([0, 1, 2]));
    const replies = await Promise.all(Array.from({ length: 30 }, () => ping()));
    expect(replies.every((r) => r.status === 200)).toBe(true);
  });

  it('accepts a signed request once, whichever threads its copies reach', async () => {
    const body = Buffer.from('{}');
    const headers = signRequest({ method: 'POST', path: '/api/v1/ping', body, serial: terminal.serial, privateKeyPem: terminal.privateKeyPem, alg: terminal.alg, keyid: terminal.tfp });
    // Each copy on its own connection: the kernel spreads them over the threads.
    const replies = await Promise.all(Array.from({ length: 12 }, () => rawRequest(`${server.masterUrl}/api/v1/ping`, 'POST', { ...headers, 'content-type': 'application/json' }, body)));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 401)).toHaveLength(11);
  });

  it('replaces a crashed thread and keeps answering', async () => {
    const crashed = server.waitForLog((l) => l.msg === 'front thread exited unexpectedly; restarting it');
    process.kill(server.pid, 'SIGUSR2');
    const entry = await crashed;
    // While one thread is down the others serve.
    const during = await Promise.all(Array.from({ length: 10 }, () => ping()));
    expect(during.every((r) => r.status === 200)).toBe(true);
    await server.waitForLog((l) => l.msg === 'front thread restarted' && l.thread === entry.thread);
    const after = await Promise.all(Array.from({ length: 30 }, () => ping()));
    expect(after.every((r) => r.status === 200)).toBe(true);
    // The restarted thread serves the gate window that was open before it crashed.
    expect((await terminal.gate(server.gateUrl, {})).json.status).toBe('trusted');
  });
});
