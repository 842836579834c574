/**
 * @module terminals.delete against the real server: an unpaired terminal leaves the store (a mistyped serial, retired
 * hardware), its serial can be created again, its pending requests can no longer be approved, and a paired terminal
 * must be unpaired first. A terminal created again under the serial has no last-seen time of its deleted namesake's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/admin/admin-client.js';
import type { AuditEntry, PairingView, TerminalView } from '../../src/protocol/types.js';
import { casCli } from '../helpers/cli.js';
import { addOperator, connectOperator, nextPush, pairRawTerminal, type TestOperator } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { Store } from '../../src/store/store.js';

let server: ServerProcess;
let operator: TestOperator;
let alice: AdminClient;
/** A second operator's connection, subscribed: deletions are told to every operator. */
let watcher: AdminClient;

const remove = (serial: string) => alice.request<TerminalView>('terminals.delete', { serial });

beforeAll(async () => {
  server = await startServerProcess();
  operator = await addOperator(server.dataDir, 'alice');
  alice = await connectOperator(server, operator);
  watcher = await connectOperator(server, await addOperator(server.dataDir, 'bob'));
  await watcher.request('subscribe', { topics: ['terminals', 'pairing'] });
  await alice.request('gate.open', { minutes: 10 });
});

afterAll(async () => {
  await watcher?.close();
  await alice?.close();
  await server?.stop();
});

describe('terminals.delete', () => {
  it('needs 2FA: deleted and created again, a terminal\'s contact would otherwise be a password\'s to choose', async () => {
    await alice.request('terminals.create', { serial: 'DEL-2FA', contact: '+1 555 0100' });
    const dora = await connectOperator(server, await addOperator(server.dataDir, 'dora', { with2fa: false }));
    try {
      await expect(dora.request('terminals.delete', { serial: 'DEL-2FA' })).rejects.toMatchObject({ code: 'requires_2fa' });
      expect(await alice.request<TerminalView>('terminals.get', { serial: 'DEL-2FA' })).toMatchObject({ contact: '+1 555 0100' });
    } finally {
      await dora.close();
    }
  });

  it('removes a mistyped terminal, tells every operator, and lets its serial (in any case) be created again', async () => {
    await alice.request('terminals.create', { serial: 'DEL-TYPO', name: 'Lobby', location: 'Main St 1', contact: '+1 555 0100' });
    const told = nextPush(watcher, (p) => p.event === 'terminal.deleted');
    expect(await remove('DEL-TYPO')).toMatchObject({ serial: 'DEL-TYPO', name: 'Lobby', state: 'expected' });
    expect((await told).data).toMatchObject({ terminal: { serial: 'DEL-TYPO' }, user: 'alice' });
    await expect(alice.request('terminals.get', { serial: 'DEL-TYPO' })).rejects.toMatchObject({ code: 'not_found' });
    expect((await alice.request<{ terminals: TerminalView[] }>('terminals.list', { query: 'del-typo' })).terminals).toEqual([]);
    await expect(remove('DEL-TYPO')).rejects.toMatchObject({ code: 'not_found' });
    // The case-folded index let go of it too: the serial is free in either case.
    expect(await alice.request<TerminalView>('terminals.create', { serial: 'del-typo' })).toMatchObject({ serial: 'del-typo' });
    // What it was is in the audit log, so a deletion by mistake can be undone by hand.
    const entries = await alice.request<AuditEntry[]>('audit.list', { action: 'terminals.delete', serial: 'DEL-TYPO' });
    expect(entries.map((e) => e.detail?.result)).toEqual(['not_found', 'ok']);
    expect(entries[1]).toMatchObject({ user: 'alice', target: 'DEL-TYPO', detail: { name: 'Lobby', location: 'Main St 1', contact: '+1 555 0100', vpn: false, result: 'ok' } });
  });

  it('created again, does not take a time the write-behind wrote for its deleted namesake after the delete', async () => {
    // As a front thread whose read of the terminal came just before the delete, and whose put committed just after it.
    const stray = Store.open(server.dataDir, { fieldKey: false });
    try {
      await stray.durable(stray.lastSeen.put('DEL-SEEN', Date.now() + 60_000));
      await alice.request('terminals.create', { serial: 'DEL-SEEN' });
      expect(stray.lastSeen.get('DEL-SEEN')).toBeUndefined();
    } finally {
      await stray.close();
    }
  });

  it('rejects the pending requests of the terminal: their code can no longer be approved', async () => {
    await alice.request('terminals.create', { serial: 'DEL-WAIT' });
    const terminal = RawTerminal.create('DEL-WAIT');
    const { requestId, code } = await terminal.requestPairing(server.gateUrl, server.sfp);
    const rejected = nextPush(watcher, (p) => p.event === 'pairing.rejected');
    await remove('DEL-WAIT');
    expect((await rejected).data).toMatchObject({ request: { requestId, state: 'rejected', decidedBy: 'alice' } });
    expect(await alice.request<PairingView>('pairing.get', { requestId })).toMatchObject({ state: 'rejected', decidedBy: 'alice' });
    await expect(alice.request('pairing.approve', { requestId, code })).rejects.toMatchObject({ code: 'not_found' });
    // To the gate it is a serial nobody created.
    const again = await terminal.gate(server.gateUrl, { commitment: Buffer.alloc(32, 7).toString('base64') });
    expect(again.json).toMatchObject({ error: 'unknown_serial' });
  });

  it('names in its audit entry every request it rejected, with its key: the pairing history forgets them, the audit log does not', async () => {
    await alice.request('terminals.create', { serial: 'DEL-KEYS' });
    // One key with its code shown to operators, one that has only committed: the delete rejects both.
    const shown = RawTerminal.create('DEL-KEYS');
    const { requestId } = await shown.requestPairing(server.gateUrl, server.sfp);
    const committed = RawTerminal.create('DEL-KEYS');
    expect((await committed.gate(server.gateUrl, { commitment: Buffer.alloc(32, 9).toString('base64') })).status).toBe(202);
    const was = await alice.request<TerminalView & { rejectedRequests: { requestId: string; tfp: string }[] }>('terminals.delete', { serial: 'DEL-KEYS' });
    expect(was.rejectedRequests.map((r) => r.tfp).sort()).toEqual([shown.tfp, committed.tfp].sort());
    expect(was.rejectedRequests.map((r) => r.requestId)).toContain(requestId);
    const [entry] = await alice.request<AuditEntry[]>('audit.list', { action: 'terminals.delete', serial: 'DEL-KEYS', limit: 1 });
    expect(entry!.detail).toMatchObject({ result: 'ok', rejected: 2 });
    expect((entry!.detail as { tfps: string[] }).tfps.slice().sort()).toEqual([shown.tfp, committed.tfp].sort());
    // Nothing waited: the entry says so.
    await alice.request('terminals.create', { serial: 'DEL-NONE' });
    expect(await alice.request<{ rejectedRequests: unknown[] }>('terminals.delete', { serial: 'DEL-NONE' })).toMatchObject({ rejectedRequests: [] });
    const [none] = await alice.request<AuditEntry[]>('audit.list', { action: 'terminals.delete', serial: 'DEL-NONE', limit: 1 });
    expect(none!.detail).toMatchObject({ result: 'ok', rejected: 0, tfps: [] });
  });

  it('when undone with terminals.create, lets the same terminal (the same key) pair again at once', async () => {
    await alice.request('terminals.create', { serial: 'DEL-UNDO' });
    const terminal = RawTerminal.create('DEL-UNDO');
    const first = await terminal.requestPairing(server.gateUrl, server.sfp);
    await remove('DEL-UNDO');
    await alice.request('terminals.create', { serial: 'DEL-UNDO' });
    // Its certificate went with the terminal: to master the key is unknown (401), not a known key of an unpaired serial (403).
    expect((await terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).json).toMatchObject({ error: 'unauthenticated' });
    // Its rejected request is history, not a rejection of the key: no pairing_rejected for a pairing TTL.
    expect((await terminal.gate(server.gateUrl, {})).json).toMatchObject({ error: 'no_pairing_request' });
    const { requestId, code } = await terminal.requestPairing(server.gateUrl, server.sfp);
    expect(requestId).not.toBe(first.requestId);
    await alice.request('pairing.approve', { requestId, code });
    expect((await terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);
    expect(await alice.request<PairingView>('pairing.get', { requestId: first.requestId })).toMatchObject({ state: 'rejected', decidedBy: 'alice' });
  });

  it('refuses a paired terminal until it is unpaired; then the terminal is refused by master', async () => {
    const terminal = RawTerminal.create('DEL-PAIRED');
    await pairRawTerminal(alice, server, terminal);
    await expect(remove('DEL-PAIRED')).rejects.toMatchObject({ code: 'invalid_state' });
    expect((await terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);
    await alice.request('terminals.unpair', { serial: 'DEL-PAIRED' });
    await remove('DEL-PAIRED');
    const refused = await terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}' });
    expect(refused.status).toBe(401);
  });

  it('is cas terminals delete SERIAL', async () => {
    await alice.request('terminals.create', { serial: 'DEL-CLI' });
    const base = ['--url', server.adminUrl, '--user', 'alice', '--fingerprint', server.sfp];
    const res = await casCli([...base, ...(operator.totpSecret ? ['--totp', await nextCode()] : []), 'terminals', 'delete', 'DEL-CLI'], `${operator.password}\n`);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('terminal DEL-CLI deleted');
    await expect(alice.request('terminals.get', { serial: 'DEL-CLI' })).rejects.toMatchObject({ code: 'not_found' });
  });
});

async function nextCode(): Promise<string> {
  const { nextTotp } = await import('../helpers/operator.js');
  return (await nextTotp(operator))!;
}
