/**
 * @module The pairing history's retention against the real server (`--pairing-history-days`, 90 by default). A terminal
 * pairs and a stranger's key asks for its serial; the server stops; the history is then made 100 days old in the store
 * (the one step no real clock can do in a test); at its next start the server forgets those requests, and the stranger's
 * certificate with them, while the terminal's trust, a recent request and the audit log stay as they were.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import type { PairingPage } from '../../src/admin/listings.js';
import type { AuditEntry } from '../../src/protocol/types.js';
import { compositeKey, Store } from '../../src/store/store.js';
import { addOperator, connectOperator, pairRawTerminal, type TestOperator } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const DAY = 86_400_000;

let server: ServerProcess;
let operator: TestOperator;
let alice: AdminClient | undefined;

const terminal = RawTerminal.create('HIST-1');
const stranger = RawTerminal.create('HIST-1');
const latecomer = RawTerminal.create('HIST-2');

async function connect(): Promise<AdminClient> {
  alice = await connectOperator(server, operator);
  return alice;
}

/** Moves every pairing request in the store `days` back in time, through the store's own writes (indexes with them). */
async function ageHistory(dataDir: string, days: number): Promise<number> {
  const store = Store.open(dataDir);
  try {
    const records = [...store.pairing.getRange().map(({ value }) => value)];
    const shift = (t: number | null): number | null => (t === null ? null : t - days * DAY);
    await store.atomically(() => {
      for (const record of records) {
        store.removePairingSync(record);
        store.putPairingSync({ ...record, requestedAt: shift(record.requestedAt)!, expiresAt: shift(record.expiresAt)!, decidedAt: shift(record.decidedAt) });
        store.pairingIndex.putSync(compositeKey(record.serial, record.tfp), record.requestId);
      }
    });
    return records.length;
  } finally {
    await store.close();
  }
}

const ping = (t: RawTerminal) => t.send(server.masterUrl, '/api/v1/ping', { body: '{}' });

beforeAll(async () => {
  server = await startServerProcess();
  operator = await addOperator(server.dataDir, 'alice');
  const admin = await connect();
  await admin.request('gate.open', { minutes: 10 });
  await pairRawTerminal(admin, server, terminal);
  await stranger.requestPairing(server.gateUrl, server.sfp);
  await admin.request('terminals.create', { serial: 'HIST-2' });
});

afterAll(async () => {
  await alice?.close();
  await server?.stop();
});

describe('the pairing history past --pairing-history-days', () => {
  it('is forgotten at start-up with the certificates only it kept; the pinned terminal, a recent request and the audit log stay', async () => {
    // Before: the stranger's key is known for the serial, so master says it is not the paired one.
    expect((await ping(stranger)).json).toMatchObject({ error: 'not_paired' });
    await alice!.close();
    alice = undefined;
    const { dataDir, ports } = server;
    await server.stop();
    expect(await ageHistory(dataDir, 100)).toBe(2);

    server = await startServerProcess({ dataDir, ports });
    const forgotten = await server.waitForLog((entry) => entry.msg === 'pairing requests older than the pairing history forgotten');
    expect(forgotten).toMatchObject({ requests: 2, certificates: 1, pairingHistoryDays: 90 });

    // The terminal's trust is its pin, not its request: master still takes its calls.
    expect((await ping(terminal)).status).toBe(200);
    // The stranger's certificate went with its request: its key is no key of this serial any more.
    const strangers = await ping(stranger);
    expect(strangers.status).toBe(401);
    expect(strangers.json).toMatchObject({ error: 'unauthenticated' });
    expect((await stranger.gate(server.gateUrl, {})).json).toMatchObject({ error: 'no_pairing_request' });

    const admin = await connect();
    await admin.request('gate.open', { minutes: 10 });
    const recent = await latecomer.requestPairing(server.gateUrl, server.sfp);
    const page = await admin.request<PairingPage>('pairing.list', {});
    expect(page.requests.map((r) => r.requestId)).toEqual([recent.requestId]);
    // The operator's decision is still in the audit log, whose entries are never removed.
    const approvals = await admin.request<AuditEntry[]>('audit.list', { action: 'pairing.approve', serial: 'HIST-1' });
    expect(approvals.map((e) => e.detail?.result)).toEqual(['ok']);
    // With the key it trusted: the request that held it is gone, the answer to "which key did we trust" is not.
    expect(approvals.map((e) => e.detail?.tfp)).toEqual([terminal.tfp]);
    // So does an unpairing, of the key whose trust it ends.
    await admin.request('terminals.unpair', { serial: terminal.serial });
    const unpairs = await admin.request<AuditEntry[]>('audit.list', { action: 'terminals.unpair', serial: terminal.serial });
    expect(unpairs.map((e) => e.detail?.tfp)).toEqual([terminal.tfp]);
    expect(server.logs.filter((entry) => entry.msg === 'pairing requests older than the pairing history forgotten')).toHaveLength(1);
  });
});
