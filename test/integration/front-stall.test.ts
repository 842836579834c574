/**
 * @module A front thread whose event loop is blocked (long synchronous work) is reported as not responding, the rest
 * of the server keeps answering, and the calls for the terminals it holds wait for it or, once its heartbeat is
 * overdue, are refused at once: no second actor answers for them. A shutdown does not wait for it.
 */
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { bucketOf } from '../../src/actors/serial-leases.js';
import { shardOf } from '../../src/actors/shard.js';
import { HEARTBEAT_MS, SILENT_AFTER_MS } from '../../src/net/heartbeats.js';
import type { ServerStatus } from '../../src/protocol/types.js';
import { leaseClaims } from '../helpers/lease-logs.js';
import { addOperator, connectOperator, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal, type RawReply } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

/** The thread the stall hook blocks (the first live one). */
const STALLED = 0;
/** Long enough to be reported silent (SILENT_AFTER_MS) and to send calls while it is, with time to spare. */
const STALL_MS = SILENT_AFTER_MS + 3_000;
let server: ServerProcess;
let alice: AdminClient;
/** Paired terminals whose actors run on the thread that will stall: one to call, one to unpair. */
let victim: RawTerminal;
let other: RawTerminal;
/** A created, never-contacted serial whose lease is free and whose hash names the thread that will stall. */
let unclaimed: string;

const status = () => alice.request<ServerStatus>('server.status');

/** `GET /healthz` on the admin port, as a load balancer asks it: no session, no pin. */
function health(): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: server.ports.admin, path: '/healthz', rejectUnauthorized: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as unknown }));
    }).on('error', reject);
  });
}
const holderOf = (serial: string) => leaseClaims(server, serial).at(-1)?.thread;

beforeAll(async () => {
  server = await startServerProcess({ extraArgs: ['--threads', '2', '--status-log', '1'], env: { PAIRING_TEST_HOOKS: '1', PAIRING_TEST_STALL_MS: String(STALL_MS) } });
  alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
  await alice.request('gate.open', { minutes: 10 });
  // Pairing goes on until the thread that will stall holds two of the terminals (each lands on a thread at random).
  const held: RawTerminal[] = [];
  for (let i = 1; i < 40 && held.length < 2; i++) {
    const t = RawTerminal.create(`STALL-${i}`, 'ec');
    await pairRawTerminal(alice, server, t);
    if (holderOf(t.serial) === STALLED) held.push(t);
  }
  [victim, other] = held as [RawTerminal, RawTerminal];
  const taken = new Set(server.logs.filter((l) => l.msg === 'took the lease of a serial').map((l) => bucketOf(l.serial as string)));
  for (let k = 0; !unclaimed; k++) {
    const serial = `STALL-FREE-${k}`;
    if (shardOf(serial, 2) === STALLED && !taken.has(bucketOf(serial))) unclaimed = serial;
  }
  await alice.request('terminals.create', { serial: unclaimed });
});

afterAll(async () => {
  await alice?.close();
  await server?.stop();
});

describe('a front thread whose event loop is blocked', () => {
  it('is reported as not responding while the other thread runs; calls for its terminals wait, or get 503 at once', async () => {
    expect(other).toBeDefined();
    const before = await status();
    expect(before.threads.map((t) => [t.thread, t.state])).toEqual([[0, 'running'], [1, 'running']]);
    expect(await health()).toEqual({ status: 200, body: { status: 'ok', threads: { running: 2, total: 2 }, diskLow: false } });

    // Closed now, to be opened during the stall.
    await alice.request('gate.close');
    const blocked = server.waitForLog((l) => l.msg === 'test hook: blocking this front thread on purpose');
    process.kill(server.pid, 'SIGUSR2');
    expect((await blocked).thread).toBe(STALLED);
    const blockedAt = Date.now();
    const endsAt = blockedAt + STALL_MS;
    const ping = async (): Promise<RawReply & { at: number }> => {
      const reply = await victim.send(server.masterUrl, '/api/v1/ping', { body: '{}' });
      return { ...reply, at: Date.now() };
    };
    // Sent before the thread counts as silent: it waits, on whichever thread its connection lands.
    const early = ping();

    let during = await status();
    while (during.threads[STALLED]!.state === 'running' && Date.now() < endsAt) during = await status();
    expect(during.threads.map((t) => [t.thread, t.state])).toEqual([[0, 'not_responding'], [1, 'running']]);
    expect(during.threads[STALLED]!.report).toBeNull();
    expect(during.threads[1]!.report).not.toBeNull();
    // Seconds after the last health answer (one is reused for a second): this one is asked afresh.
    expect(await health()).toEqual({ status: 503, body: { status: 'degraded', threads: { running: 1, total: 2 }, diskLow: false } });
    const logged = await server.waitForLog((l) => l.msg === 'server status' && (l as unknown as ServerStatus).threads[STALLED]!.state === 'not_responding');
    expect(logged.level).toBe(40);
    // And a line of its own at the moment it stopped beating.
    const stopped = await server.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('front thread not responding'));
    expect([stopped.level, stopped.thread, (stopped.silentMs as number) > SILENT_AFTER_MS]).toEqual([40, STALLED, true]);
    // An operator's decision for one of its terminals is refused too, instead of waiting for it; and the gate opens
    // on the threads that answer without waiting for the blocked one.
    await expect(alice.request('terminals.unpair', { serial: other.serial })).rejects.toMatchObject({ code: 'overloaded' });
    // One for a serial no thread holds runs on the thread that answers, though its hash names the blocked one: the
    // actor there says it is not paired.
    await expect(alice.request('terminals.unpair', { serial: unclaimed })).rejects.toMatchObject({ code: 'invalid_state' });
    expect(holderOf(unclaimed)).toBe(1);
    await alice.request('gate.open', { minutes: 10 });
    expect(Date.now()).toBeLessThan(endsAt);

    // Each on a fresh connection, which the kernel gives to either thread. On the blocked one it waits until the
    // work is done; on the other it needs the blocked thread's actor, and is refused at once.
    const replies = await Promise.all(Array.from({ length: 16 }, ping));
    for (const reply of replies) {
      if (reply.status === 200) {
        expect(reply.at).toBeGreaterThan(endsAt - 500);
      } else {
        expect(reply.status).toBe(503);
        expect(reply.json.error).toBe('overloaded');
        expect(reply.headers['retry-after']).toBe('1');
        expect(reply.at).toBeLessThan(endsAt);
      }
    }
    // 16 connections all on the blocked thread: one chance in 65,536.
    expect(replies.some((r) => r.status === 503)).toBe(true);
    // The early call: answered after the work, or refused once the thread was overdue, not before. Silence counts
    // from the thread's last beat, up to HEARTBEAT_MS before it blocked.
    const first = await early;
    if (first.status === 200) expect(first.at).toBeGreaterThan(endsAt - 500);
    else expect([first.status, first.at - blockedAt > SILENT_AFTER_MS - HEARTBEAT_MS - 250]).toEqual([503, true]);
    expect(holderOf(victim.serial)).toBe(STALLED);
  });

  it('runs again once the work is done; a stall is not a restart, and nothing refused took effect', async () => {
    const after = await status();
    expect(after.threads.map((t) => [t.thread, t.state, t.restarts])).toEqual([[0, 'running', 0], [1, 'running', 0]]);
    // Each try is a new TLS connection: the configured poll's 10 s, not 5 s, on a loaded machine.
    await expect.poll(async () => (await health()).status, { interval: 200 }).toBe(200);
    expect(server.logs.some((l) => l.msg === 'front thread exited unexpectedly; restarting it')).toBe(false);
    const resumed = await server.waitForLog((l) => l.msg === 'front thread responding again');
    expect(resumed.thread).toBe(STALLED);
    expect(resumed.silentMs as number).toBeGreaterThan(STALL_MS - 500);
    expect(resumed.silentMs as number).toBeLessThan(STALL_MS + 1_000);
    // A status line read once the thread answers again is back to info.
    const earlier = new Set(server.logs);
    const running = (l: Record<string, unknown>) => (l as unknown as ServerStatus).threads.every((t) => t.state === 'running');
    const line = await server.waitForLog((l) => l.msg === 'server status' && !earlier.has(l) && running(l));
    expect(line.level).toBe(30);
    const replies = await Promise.all([victim, other].flatMap((t) => Array.from({ length: 6 }, () => t.send(server.masterUrl, '/api/v1/ping', { body: '{}' }))));
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
    // The gate opened during the stall pairs terminals, whichever thread their connections reach.
    for (const serial of ['STALL-AFTER-1', 'STALL-AFTER-2', 'STALL-AFTER-3']) await pairRawTerminal(alice, server, RawTerminal.create(serial, 'ec'));
    expect(server.logs.some((l) => l.msg === 'opening the gate on a thread that was not responding failed')).toBe(false);
  });
});

describe('shutting down while a front thread is blocked', () => {
  it('stops everything else without waiting for it, ends the process, and leaves the store whole', async () => {
    const earlier = new Set(server.logs);
    const blocked = server.waitForLog((l) => l.msg === 'test hook: blocking this front thread on purpose' && !earlier.has(l));
    process.kill(server.pid, 'SIGUSR2');
    await blocked;
    const endsAt = Date.now() + STALL_MS;
    while ((await status()).threads[STALLED]!.state === 'running' && Date.now() < endsAt);

    expect(await server.stop('SIGTERM')).toBeNull(); // ended by a signal, not an exit code
    expect(Date.now()).toBeLessThan(endsAt);
    // The last lines may still be in the pipe when the exit is seen.
    const left = await server.waitForLog((l) => l.msg === 'front threads not responding at shutdown; stopped without them (each may lose its last half second of replay-window nonces)');
    expect(left.threads).toEqual([STALLED]);
    expect((await server.waitForLog((l) => l.msg === 'stopped, except front threads that were not responding; killing the process')).level).toBe(60);
    expect(server.output()).not.toContain('Assertion failed');

    // The same data and ports again: the terminals are still paired and call master.
    await alice.close();
    server = await startServerProcess({ dataDir: server.dataDir, ports: server.ports, extraArgs: ['--threads', '2'] });
    const replies = await Promise.all([victim, other].map((t) => t.send(server.masterUrl, '/api/v1/ping', { body: '{}' })));
    expect(replies.map((r) => r.status)).toEqual([200, 200]);
  });
});

describe('a second signal during shutdown', () => {
  it('ends the process at once instead of waiting for the shutdown', async () => {
    const own = await startServerProcess({ extraArgs: ['--threads', '2'], env: { PAIRING_TEST_HOOKS: '1', PAIRING_TEST_STALL_MS: String(STALL_MS) } });
    // A blocked thread holds the first shutdown for about SILENT_AFTER_MS, so the second signal lands during it.
    const blocked = own.waitForLog((l) => l.msg === 'test hook: blocking this front thread on purpose');
    process.kill(own.pid, 'SIGUSR2');
    await blocked;
    process.kill(own.pid, 'SIGTERM');
    await own.waitForLog((l) => l.msg === 'shutting down');
    const secondAt = Date.now();
    expect(await own.stop('SIGINT')).toBeNull(); // ended by a signal, not an exit code
    expect(Date.now() - secondAt).toBeLessThan(SILENT_AFTER_MS);
    expect((await own.waitForLog((l) => l.msg === 'second signal during shutdown; stopping at once without waiting for it')).signal).toBe('SIGINT');
    expect(own.logs.some((l) => l.msg === 'front threads not responding at shutdown; stopped without them (each may lose its last half second of replay-window nonces)')).toBe(false);
  });
});
