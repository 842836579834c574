/**
 * @module A terminal's actor moves between front threads: to the thread its connection reached, and away from a
 * thread whose actors went idle. Wherever it goes, a nonce admitted before the move is refused after it.
 */
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { bucketOf } from '../../src/actors/serial-leases.js';
import { signRequest } from '../../src/crypto/signature.js';
import { addOperator, connectOperator } from '../helpers/operator.js';
import { RawTerminal, rawRequest } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

interface Fixture {
  server: ServerProcess;
  alice: AdminClient;
}

async function start(extraArgs: string[]): Promise<Fixture> {
  const server = await startServerProcess({ extraArgs: ['--threads', '2', ...extraArgs] });
  const alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
  await alice.request('gate.open', { minutes: 10 });
  return { server, alice };
}

async function pair({ server, alice }: Fixture, terminal: RawTerminal): Promise<void> {
  await alice.request('terminals.create', { serial: terminal.serial });
  const { requestId, code } = await terminal.requestPairing(server.gateUrl, server.sfp);
  await alice.request('pairing.approve', { requestId, code });
}

/** A signed ping, sent as often as asked (on `agent`'s connection, else a fresh one each): the first copy is a call, every later one a replay. */
function signedPing(terminal: RawTerminal, server: ServerProcess, agent?: https.Agent): () => ReturnType<typeof rawRequest> {
  const body = Buffer.from('{}');
  const headers = signRequest({ method: 'POST', path: '/api/v1/ping', body, serial: terminal.serial, privateKeyPem: terminal.privateKeyPem, alg: terminal.alg, keyid: terminal.tfp });
  return () => rawRequest(`${server.masterUrl}/api/v1/ping`, 'POST', { ...headers, 'content-type': 'application/json' }, body, undefined, agent);
}

const claimsOf = (server: ServerProcess, serial: string) => server.logs.filter((l) => l.msg === 'took the lease of a serial' && l.serial === serial);
const releasesOf = (server: ServerProcess, serial: string) =>
  server.logs.filter((l) => l.msg === 'released the lease of a bucket of serials' && l.bucket === bucketOf(serial));

async function expectAllRefused(send: () => ReturnType<typeof rawRequest>, copies: number): Promise<void> {
  // Each copy on its own connection: the kernel spreads them over both threads.
  const replies = await Promise.all(Array.from({ length: copies }, send));
  expect(replies.map((r) => r.status)).toEqual(replies.map(() => 401));
}

describe('a terminal whose calls reach another thread than its actor', () => {
  let fixture: Fixture;
  beforeAll(async () => {
    fixture = await start([]);
  });
  afterAll(async () => {
    await fixture?.alice.close();
    await fixture?.server.stop();
  });

  it('gets its actor moved to that thread, which still refuses the nonces admitted before', async () => {
    const { server } = fixture;
    const terminal = RawTerminal.create('LEASE-MOVE-1');
    await pair(fixture, terminal);
    // Log lines from the threads reach the test late and in no fixed order between threads: wait for them.
    const first = [await server.waitForLog((l) => l.msg === 'took the lease of a serial' && l.serial === terminal.serial)];
    const replay = signedPing(terminal, server);
    expect((await replay()).status).toBe(200);
    // One keep-alive connection at a time, each calling for longer than the hand-off delay, until one reached the
    // other thread: the holder then sees only handed-on calls and lets the actor go. Every call is replayed at once
    // on the same connection: the call just before the move is still in the old holder's write-behind, and the
    // new holder MUST NOT take the lease before it is on disk.
    for (let attempt = 0; attempt < 12 && claimsOf(server, terminal.serial).length === 1; attempt++) {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let i = 0; i < 13; i++) {
          const call = signedPing(terminal, server, agent);
          expect((await call()).status).toBe(200);
          expect((await call()).status).toBe(401);
          await sleep(100);
        }
      } finally {
        agent.destroy();
      }
    }
    const claims = claimsOf(server, terminal.serial);
    expect(claims.length).toBeGreaterThan(1);
    expect(claims.at(-1)!.thread).not.toBe(first[0]!.thread);
    // Freed by the first holder (once its writes were on disk), then taken by the other thread.
    const released = await server.waitForLog((l) => l.msg === 'released the lease of a bucket of serials' && l.bucket === bucketOf(terminal.serial));
    expect(released.thread).toBe(first[0]!.thread);
    await expectAllRefused(replay, 12);
    expect((await terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);
  }, 60_000);
});

describe('an idle terminal', () => {
  let fixture: Fixture;
  beforeAll(async () => {
    fixture = await start(['--actor-idle', '1']);
  });
  afterAll(async () => {
    await fixture?.alice.close();
    await fixture?.server.stop();
  });

  it('frees its lease, and whichever thread takes it next refuses its old nonces', async () => {
    const { server } = fixture;
    const terminal = RawTerminal.create('LEASE-IDLE-1');
    await pair(fixture, terminal);
    for (let round = 0; round < 3; round++) {
      const replay = signedPing(terminal, server);
      expect((await replay()).status).toBe(200);
      const releasesBefore = releasesOf(server, terminal.serial).length;
      const claimsBefore = claimsOf(server, terminal.serial).length;
      await server.waitForLog((l) => l.msg === 'released the lease of a bucket of serials' && l.bucket === bucketOf(terminal.serial) &&
        releasesOf(server, terminal.serial).length > releasesBefore, 10_000);
      await expectAllRefused(replay, 12);
      // The replays were refused by an actor that took the lease again (its log line may come after the answers).
      await server.waitForLog((l) => l.msg === 'took the lease of a serial' && claimsOf(server, terminal.serial).length > claimsBefore, 5_000);
    }
  }, 60_000);
});
