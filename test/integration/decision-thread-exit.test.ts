/**
 * @module A front thread that exits while it runs an operator's decision: the op is audited as `interrupted`, with
 * `tookEffect` when the thread had committed it, and the operator is told which instead of "try again". The crash is
 * the server's own test hook (PAIRING_TEST_CRASH_ON_DECISION): the thread dies of an uncaught exception, as of a fault.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import type { AuditEntry, TerminalView } from '../../src/protocol/types.js';
import { addOperator, casSession, connectOperator, type TestOperator } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess | undefined;
let alice: AdminClient | undefined;
afterEach(async () => {
  await alice?.close();
  await server?.stop();
  alice = undefined;
  server = undefined;
});

let operator: TestOperator;

async function start(crashOn: 'before' | 'after'): Promise<AdminClient> {
  server = await startServerProcess({ extraArgs: ['--threads', '1'], env: { PAIRING_TEST_HOOKS: '1', PAIRING_TEST_CRASH_ON_DECISION: crashOn } });
  operator = await addOperator(server.dataDir, 'alice');
  alice = await connectOperator(server, operator);
  return alice;
}

/** The op's refusal, which MUST come: a decision answered `ok` means the hook did not run. */
async function refusal(pending: Promise<unknown>): Promise<{ code: string; message: string }> {
  const outcome = await pending.then(() => null, (error: { code: string; message: string }) => error);
  expect(outcome, 'the decision was answered although its thread crashed').not.toBeNull();
  return outcome!;
}

async function lastEntry(client: AdminClient, action: string): Promise<AuditEntry> {
  const entries = await client.request<AuditEntry[]>('audit.list', { action, limit: 1 });
  expect(entries).toHaveLength(1);
  return entries[0]!;
}

describe('a front thread exiting during an operator decision', () => {
  it('after the commit: audited interrupted and taken effect, and the operator told it is done', async () => {
    const op = await start('after');
    await op.request('gate.open', { minutes: 10 });
    const terminal = RawTerminal.create('EXIT-AFTER-1', 'ec');
    await op.request('terminals.create', { serial: terminal.serial });
    const { requestId, code } = await terminal.requestPairing(server!.gateUrl, server!.sfp);

    const approve = await refusal(op.request('pairing.approve', { requestId, code }));
    expect(approve.code).toBe('overloaded');
    expect(approve.message).toMatch(/exited after pairing\.approve took effect.*it is done; do not send it again/);
    expect((await op.request<TerminalView>('terminals.get', { serial: terminal.serial })).tfp).toBe(terminal.tfp);
    expect((await lastEntry(op, 'pairing.approve')).detail).toMatchObject({ result: 'interrupted', tookEffect: true });
    // The pin is real: the terminal's signed calls are answered by the thread that replaced the crashed one.
    await server!.waitForLog((l) => l.msg === 'front thread restarted');
    expect((await terminal.send(server!.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);

    const cas = await casSession(server!, operator, { json: false });
    expect((await cas(['audit', '--action', 'pairing.approve'])).stdout).toMatch(/pairing\.approve\s+pr_\S+\s+interrupted \(took effect\)/);

    const update = await refusal(op.request('terminals.update', { serial: terminal.serial, name: 'Lobby' }));
    expect(update.message).toMatch(/it is done/);
    expect((await op.request<TerminalView>('terminals.get', { serial: terminal.serial })).name).toBe('Lobby');
    expect((await lastEntry(op, 'terminals.update')).detail).toMatchObject({ result: 'interrupted', tookEffect: true });
  }, 60_000);

  it('before it ran: audited interrupted without taken effect, and the operator told to look before sending it again', async () => {
    const op = await start('before');
    await op.request('terminals.create', { serial: 'EXIT-BEFORE-1', name: 'Hall' });

    const update = await refusal(op.request('terminals.update', { serial: 'EXIT-BEFORE-1', name: 'Lobby' }));
    expect(update.code).toBe('overloaded');
    expect(update.message).toMatch(/exited while running terminals\.update: it may or may not have taken effect; look at its target/);
    expect((await op.request<TerminalView>('terminals.get', { serial: 'EXIT-BEFORE-1' })).name).toBe('Hall');
    const entry = await lastEntry(op, 'terminals.update');
    expect(entry.detail).toMatchObject({ result: 'interrupted' });
    expect(entry.detail).not.toHaveProperty('tookEffect');
    // The server goes on: the next decision reaches a restarted thread (which crashes again, by the hook).
    expect((await refusal(op.request('terminals.update', { serial: 'EXIT-BEFORE-1', name: 'Lobby' }))).code).toBe('overloaded');
  }, 60_000);
});
