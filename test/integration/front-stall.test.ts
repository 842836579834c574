/**
 * @module A front thread whose event loop is blocked (long synchronous work) is reported as not responding, the rest
 * of the server keeps answering, and the calls for the terminals it holds wait for it instead of failing or going
 * to another thread.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { STATUS_TIMEOUT_MS } from '../../src/net/front-pool.js';
import type { ServerStatus } from '../../src/protocol/types.js';
import { leaseClaims } from '../helpers/lease-logs.js';
import { addOperator, connectOperator, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

/** The thread the stall hook blocks (the first live one). */
const STALLED = 0;
/** Long enough for a status request to give up on the thread (STATUS_TIMEOUT_MS) with time to spare. */
const STALL_MS = STATUS_TIMEOUT_MS + 2_000;
let server: ServerProcess;
let alice: AdminClient;
/** A paired terminal whose actor runs on the thread that will stall. */
let victim: RawTerminal;

const status = () => alice.request<ServerStatus>('server.status');
const holderOf = (serial: string) => leaseClaims(server, serial).at(-1)?.thread;

beforeAll(async () => {
  server = await startServerProcess({ extraArgs: ['--threads', '2', '--status-log', '1'], env: { PAIRING_TEST_HOOKS: '1', PAIRING_TEST_STALL_MS: String(STALL_MS) } });
  alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
  await alice.request('gate.open', { minutes: 10 });
  // Pairing goes on until the thread that will stall holds one of the terminals (each lands on a thread at random).
  for (let i = 1; i < 30 && !victim; i++) {
    const t = RawTerminal.create(`STALL-${i}`, 'ec');
    await pairRawTerminal(alice, server, t);
    if (holderOf(t.serial) === STALLED) victim = t;
  }
});

afterAll(async () => {
  await alice?.close();
  await server?.stop();
});

describe('a front thread whose event loop is blocked', () => {
  it('is reported as not responding while the other thread runs, and its calls wait for it', async () => {
    expect(victim).toBeDefined();
    const before = await status();
    expect(before.threads.map((t) => [t.thread, t.state])).toEqual([[0, 'running'], [1, 'running']]);

    const blocked = server.waitForLog((l) => l.msg === 'test hook: blocking this front thread on purpose');
    process.kill(server.pid, 'SIGUSR2');
    expect((await blocked).thread).toBe(STALLED);
    const startedAt = Date.now();
    // On whichever thread its connection lands, the call needs the blocked thread's actor.
    const call = victim.send(server.masterUrl, '/api/v1/ping', { body: '{}' });

    const during = await status();
    expect(Date.now() - startedAt).toBeLessThan(STALL_MS);
    expect(during.threads.map((t) => [t.thread, t.state])).toEqual([[0, 'not_responding'], [1, 'running']]);
    expect(during.threads[STALLED]!.report).toBeNull();
    expect(during.threads[1]!.report).not.toBeNull();
    // The status log line says the same, as a warning.
    const logged = await server.waitForLog((l) => l.msg === 'server status' && (l as unknown as ServerStatus).threads[STALLED]!.state === 'not_responding');
    expect(logged.level).toBe(40);

    // Delayed, not refused, and not served by a second actor elsewhere.
    expect((await call).status).toBe(200);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(STATUS_TIMEOUT_MS);
    expect(holderOf(victim.serial)).toBe(STALLED);
  });

  it('runs again once the work is done; a stall is not a restart', async () => {
    const after = await status();
    expect(after.threads.map((t) => [t.thread, t.state, t.restarts])).toEqual([[0, 'running', 0], [1, 'running', 0]]);
    expect(server.logs.some((l) => l.msg === 'front thread exited unexpectedly; restarting it')).toBe(false);
    // A status line read once the thread answers again is back to info.
    const earlier = new Set(server.logs);
    const running = (l: Record<string, unknown>) => (l as unknown as ServerStatus).threads.every((t) => t.state === 'running');
    const line = await server.waitForLog((l) => l.msg === 'server status' && !earlier.has(l) && running(l));
    expect(line.level).toBe(30);
    const replies = await Promise.all(Array.from({ length: 6 }, () => victim.send(server.masterUrl, '/api/v1/ping', { body: '{}' })));
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
  });
});
