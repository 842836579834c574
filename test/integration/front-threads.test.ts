/**
 * @module Several front-end threads share the ports and run the terminal actors of the serials whose leases they
 * hold: a nonce is single-use across them, and when a thread crashes the others take its terminals at once while
 * it is replaced.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import type { ServerStatus, ServiceCounts } from '../../src/protocol/types.js';
import { leaseClaims } from '../helpers/lease-logs.js';
import { addOperator, connectOperator, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const THREADS = 3;
/** The thread the crash hook stops (the first live one). */
const CRASHED = 0;
let server: ServerProcess;
let alice: AdminClient;
const terminal = RawTerminal.create('THREADS-1', 'rsa');
const ping = (t = terminal) => t.send(server.masterUrl, '/api/v1/ping', { body: '{}' });
/** Every paired terminal; pairing goes on until the thread that will crash holds one of them. */
const terminals: RawTerminal[] = [];
/** The thread that last took `serial`'s lease (debug log). */
const holderOf = (serial: string) => leaseClaims(server, serial).at(-1)?.thread;

const status = () => alice.request<ServerStatus>('server.status');
/** Master's answers of every thread, summed. */
function masterTotals(s: ServerStatus): ServiceCounts {
  const sum = { answered: 0, refused: 0, failed: 0 };
  for (const { report } of s.threads) {
    for (const key of ['answered', 'refused', 'failed'] as const) sum[key] += report?.master[key] ?? 0;
  }
  return sum;
}

async function pair(t: RawTerminal): Promise<void> {
  await pairRawTerminal(alice, server, t);
  terminals.push(t);
}

beforeAll(async () => {
  // The first restart fails after the new thread is up (at linking): the retry must not leave that thread serving too.
  server = await startServerProcess({ extraArgs: ['--threads', String(THREADS), '--status-log', '1'], env: { PAIRING_TEST_HOOKS: '1', PAIRING_TEST_FAILED_RESTARTS: '1' } });
  alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
  await alice.request('gate.open', { minutes: 10 });
  await pair(terminal);
  for (let i = 2; i < 30 && !terminals.some((t) => holderOf(t.serial) === CRASHED); i++) await pair(RawTerminal.create(`THREADS-${i}`, 'ec'));
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
    const copy = terminal.replayable(server.masterUrl, '/api/v1/ping');
    // Each copy on its own connection: the kernel spreads them over the threads.
    const replies = await Promise.all(Array.from({ length: 12 }, copy));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 401)).toHaveLength(11);
  });

  it("reports every thread's state, leases, actors and answers to operators (server.status)", async () => {
    const before = await status();
    expect(before.threads.map((t) => [t.thread, t.state, t.restarts])).toEqual([[0, 'running', 0], [1, 'running', 0], [2, 'running', 0]]);
    expect(before.terminals).toBe(terminals.length);
    // One request each, approved: the history the store keeps, for the default 90 days once over.
    expect(before.pairingHistory).toEqual({ requests: terminals.length, days: 90 });
    // The server's start covers its threads' starts.
    for (const t of before.threads) expect(Date.parse(t.startedAt!)).toBeGreaterThanOrEqual(Date.parse(before.startedAt));
    expect(before.rssBytes).toBeGreaterThan(0);
    // Of it, the pages of mapped files (node's binary, the store): Linux says how many.
    expect(before.rssFileBytes).toBeGreaterThan(2 ** 20);
    expect(before.rssFileBytes).toBeLessThan(before.rssBytes);
    // The data dir's disk as the server last read it: room to spare on a test machine, against the default minimum.
    expect(before.disk).toMatchObject({ minFreeBytes: 64 * 2 ** 20, low: false });
    expect(before.disk!.freeBytes).toBeGreaterThan(64 * 2 ** 20);
    // Every paired terminal has an actor in memory (the idle time is a minute) and its bucket's lease on one thread.
    const actors = before.threads.reduce((n, t) => n + (t.report?.actors ?? 0), 0);
    const leases = before.threads.reduce((n, t) => n + t.leases, 0);
    expect(actors).toBe(terminals.length);
    expect(leases).toBeGreaterThan(0);
    expect(leases).toBeLessThanOrEqual(terminals.length);
    expect(before.threads.reduce((n, t) => n + (t.report?.gate.answered ?? 0), 0)).toBeGreaterThanOrEqual(terminals.length * 2);
    // Exactly what is sent now is counted: 20 answered, and of 6 copies of one call 1 answered and 5 refused.
    await Promise.all(Array.from({ length: 20 }, () => ping()));
    await Promise.all(Array.from({ length: 6 }, terminal.replayable(server.masterUrl, '/api/v1/ping')));
    const after = await status();
    const [b, a] = [masterTotals(before), masterTotals(after)];
    expect({ answered: a.answered - b.answered, refused: a.refused - b.refused, failed: a.failed - b.failed }).toEqual({ answered: 21, refused: 5, failed: 0 });
    // A copy reaching a thread that does not hold the terminal is handed to the one that does, and counted on both.
    const handedOn = after.threads.reduce((n, t) => n + (t.report?.handedOn ?? 0), 0);
    expect(after.threads.reduce((n, t) => n + (t.report?.received ?? 0), 0)).toBe(handedOn);
  });

  it('logs the same status every --status-log seconds, answer counts included', async () => {
    const { answered } = masterTotals(await status());
    const earlier = new Set(server.logs.filter((l) => l.msg === 'server status'));
    const line = await server.waitForLog((l) => l.msg === 'server status' && !earlier.has(l));
    const logged = line as unknown as ServerStatus;
    expect(logged.threads.map((t) => [t.thread, t.state])).toEqual([[0, 'running'], [1, 'running'], [2, 'running']]);
    expect(logged.terminals).toBe(terminals.length);
    expect(logged.pairingHistory).toEqual({ requests: terminals.length, days: 90 });
    // Open since the start, for 10 minutes: monitoring sees a gate left open from the log alone.
    expect(line.gate).toEqual({ open: true, openUntil: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(masterTotals(logged).answered).toBeGreaterThanOrEqual(answered);
  });

  it('replaces a crashed thread, and the others answer for its terminals meanwhile', async () => {
    // A call the doomed thread (or whichever holds the terminal by then) admits just before the crash.
    const victim = terminals.find((t) => holderOf(t.serial) === CRASHED)!;
    expect(victim).toBeDefined();
    const replay = victim.replayable(server.masterUrl, '/api/v1/ping');
    expect((await replay()).status).toBe(200);
    const crashed = server.waitForLog((l) => l.msg === 'front thread exited unexpectedly; restarting it');
    process.kill(server.pid, 'SIGUSR2');
    const entry = await crashed;
    expect(entry.thread).toBe(CRASHED);
    expect(typeof entry.leasesFreed).toBe('number');
    // Its leases are free once it is gone: the other threads take its terminals with their next calls.
    const during = await Promise.all(terminals.flatMap((t) => Array.from({ length: 6 }, () => ping(t))));
    expect(during.map((r) => r.status)).toEqual(during.map(() => 200));
    // The call it admitted is still refused, by whichever thread took the terminal.
    const copies = await Promise.all(Array.from({ length: 16 }, replay));
    expect(copies.map((r) => r.status)).toEqual(copies.map(() => 401));
    await server.waitForLog((l) => l.msg === 'front thread restarted' && l.thread === CRASHED);
    expect(server.logs.some((l) => l.msg === 'restarting a front thread failed' && l.thread === CRASHED)).toBe(true);
    const after = await Promise.all(terminals.flatMap((t) => Array.from({ length: 10 }, () => ping(t))));
    expect(after.map((r) => r.status)).toEqual(after.map(() => 200));
    // One actor per terminal, whatever thread each copy reaches: a call is accepted once.
    const all = await Promise.all(Array.from({ length: 16 }, victim.replayable(server.masterUrl, '/api/v1/ping')));
    expect(all.filter((r) => r.status === 200)).toHaveLength(1);
    // The restarted thread serves the gate window that was open before it crashed.
    expect((await terminal.gate(server.gateUrl, {})).json.status).toBe('trusted');
    // Operators see the restart: one unexpected exit (the failed attempt was retired, not crashed), a new start time.
    const { threads } = await status();
    expect(threads.map((t) => [t.state, t.restarts])).toEqual(threads.map((t) => ['running', t.thread === CRASHED ? 1 : 0]));
    expect(Date.parse(threads[CRASHED]!.startedAt!)).toBeGreaterThan(Date.parse(threads[(CRASHED + 1) % THREADS]!.startedAt!));
  });
});
