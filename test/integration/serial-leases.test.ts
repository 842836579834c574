/**
 * @module A terminal's actor moves between front threads: to the thread its connection reached, and away from a
 * thread whose actors went idle. Wherever it goes, a nonce admitted before the move is refused after it.
 */
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { isClaimOf, isReleaseOf, leaseClaims, leaseReleases } from '../helpers/lease-logs.js';
import { addOperator, connectOperator, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal, type RawReply } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

interface Fixture {
  server: ServerProcess;
  alice: AdminClient;
}

/** A 2-thread server with `extraArgs` and an operator, for the enclosing describe block; read it inside tests. */
function twoThreadServer(extraArgs: string[]): () => Fixture {
  let fixture: Fixture | undefined;
  beforeAll(async () => {
    const server = await startServerProcess({ extraArgs: ['--threads', '2', ...extraArgs] });
    const alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
    await alice.request('gate.open', { minutes: 10 });
    fixture = { server, alice };
  });
  afterAll(async () => {
    await fixture?.alice.close();
    await fixture?.server.stop();
  });
  return () => fixture!;
}

async function expectAllRefused(send: () => Promise<RawReply>, copies: number): Promise<void> {
  // Each copy on its own connection: the kernel spreads them over both threads.
  const replies = await Promise.all(Array.from({ length: copies }, send));
  expect(replies.map((r) => r.status)).toEqual(replies.map(() => 401));
}

describe('a terminal whose calls reach another thread than its actor', () => {
  const fixture = twoThreadServer([]);

  it('gets its actor moved to that thread, which still refuses the nonces admitted before', async () => {
    const { server, alice } = fixture();
    const terminal = RawTerminal.create('LEASE-MOVE-1');
    await pairRawTerminal(alice, server, terminal);
    // Log lines from the threads reach the test late and in no fixed order between threads: wait for them.
    const first = [await server.waitForLog(isClaimOf(terminal.serial))];
    const replay = terminal.replayable(server.masterUrl, '/api/v1/ping');
    expect((await replay()).status).toBe(200);
    // One keep-alive connection at a time, each calling for longer than the hand-off delay, until one reached the
    // other thread: the holder then sees only handed-on calls and lets the actor go. Every call is replayed at once
    // on the same connection: the call just before the move is still in the old holder's write-behind, and the
    // new holder MUST NOT take the lease before it is on disk.
    for (let attempt = 0; attempt < 12 && leaseClaims(server, terminal.serial).length === 1; attempt++) {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let i = 0; i < 13; i++) {
          const call = terminal.replayable(server.masterUrl, '/api/v1/ping', '{}', agent);
          expect((await call()).status).toBe(200);
          expect((await call()).status).toBe(401);
          await sleep(100);
        }
      } finally {
        agent.destroy();
      }
    }
    const claims = leaseClaims(server, terminal.serial);
    expect(claims.length).toBeGreaterThan(1);
    expect(claims.at(-1)!.thread).not.toBe(first[0]!.thread);
    // Freed by the first holder (once its writes were on disk), then taken by the other thread.
    const released = await server.waitForLog(isReleaseOf(terminal.serial));
    expect(released.thread).toBe(first[0]!.thread);
    await expectAllRefused(replay, 12);
    expect((await terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);
  }, 60_000);
});

describe('an idle terminal', () => {
  const fixture = twoThreadServer(['--actor-idle', '1']);

  it('frees its lease, and whichever thread takes it next refuses its old nonces', async () => {
    const { server, alice } = fixture();
    const terminal = RawTerminal.create('LEASE-IDLE-1');
    await pairRawTerminal(alice, server, terminal);
    for (let round = 0; round < 3; round++) {
      const replay = terminal.replayable(server.masterUrl, '/api/v1/ping');
      expect((await replay()).status).toBe(200);
      const releasesBefore = leaseReleases(server, terminal.serial).length;
      const claimsBefore = leaseClaims(server, terminal.serial).length;
      await server.waitForLog((l) => isReleaseOf(terminal.serial)(l) && leaseReleases(server, terminal.serial).length > releasesBefore, 10_000);
      await expectAllRefused(replay, 12);
      // The replays were refused by an actor that took the lease again (its log line may come after the answers).
      await server.waitForLog((l) => isClaimOf(terminal.serial)(l) && leaseClaims(server, terminal.serial).length > claimsBefore);
    }
  }, 60_000);
});
