/**
 * @module Several front-end threads share the ports and own the terminal actors by serial: a nonce is single-use
 * across them, and a crashed thread is replaced while the others keep answering for the terminals they own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { shardOf } from '../../src/actors/shard.js';
import { signRequest } from '../../src/crypto/signature.js';
import { addOperator, connectOperator } from '../helpers/operator.js';
import { RawTerminal, rawRequest } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const THREADS = 3;
let server: ServerProcess;
let alice: AdminClient;
const terminal = RawTerminal.create('THREADS-1', 'rsa');
const ping = (t = terminal) => t.send(server.masterUrl, '/api/v1/ping', { body: '{}' });
/** One terminal owned by each thread, so the crash test sees both kinds. */
const owned = new Map<number, RawTerminal>();
for (let i = 2; owned.size < THREADS; i++) {
  const serial = `THREADS-${i}`;
  if (!owned.has(shardOf(serial, THREADS))) owned.set(shardOf(serial, THREADS), RawTerminal.create(serial, 'ec'));
}

beforeAll(async () => {
  // The first restart fails after the new thread is up (at linking): the retry must not leave that thread serving too.
  server = await startServerProcess({ extraArgs: ['--threads', String(THREADS)], env: { PAIRING_TEST_HOOKS: '1', PAIRING_TEST_FAILED_RESTARTS: '1' } });
  alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
  await alice.request('gate.open', { minutes: 10 });
  for (const t of [terminal, ...owned.values()]) {
    await alice.request('terminals.create', { serial: t.serial });
    const { requestId, code } = await t.requestPairing(server.gateUrl, server.sfp);
    await alice.request('pairing.approve', { requestId, code });
  }
});

afterAll(async () => {
  await alice?.close();
  await server?.stop();
});

describe('front-end threads', () => {
  it('runs the configured number of threads on the shared ports', async () => {
    expect(server.logs.find((l) => l.msg === 'listening')?.threads).toBe(THREADS);
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
    // While one thread is down the others serve their own terminals; the crashed thread's terminals are told to retry.
    for (const [shard, t] of owned) {
      const during = await Promise.all(Array.from({ length: 6 }, () => ping(t)));
      for (const reply of during) {
        if (shard !== entry.thread || reply.status === 200) {
          expect(reply.status).toBe(200);
        } else {
          expect(reply).toMatchObject({ status: 503, json: { error: 'overloaded' } });
          expect(reply.headers['retry-after']).toBe('1');
        }
      }
    }
    await server.waitForLog((l) => l.msg === 'front thread restarted' && l.thread === entry.thread);
    expect(server.logs.some((l) => l.msg === 'restarting a front thread failed' && l.thread === entry.thread)).toBe(true);
    const after = await Promise.all([terminal, ...owned.values()].flatMap((t) => Array.from({ length: 10 }, () => ping(t))));
    expect(after.map((r) => r.status)).toEqual(after.map(() => 200));
    // One actor for the restarted shard, whatever thread each copy reaches: a replay is accepted once.
    const victim = owned.get(entry.thread as number)!;
    const body = Buffer.from('{}');
    const headers = signRequest({ method: 'POST', path: '/api/v1/ping', body, serial: victim.serial, privateKeyPem: victim.privateKeyPem, alg: victim.alg, keyid: victim.tfp });
    const copies = await Promise.all(Array.from({ length: 16 }, () => rawRequest(`${server.masterUrl}/api/v1/ping`, 'POST', { ...headers, 'content-type': 'application/json' }, body)));
    expect(copies.filter((r) => r.status === 200)).toHaveLength(1);
    // The restarted thread serves the gate window that was open before it crashed.
    expect((await terminal.gate(server.gateUrl, {})).json.status).toBe('trusted');
  });
});
