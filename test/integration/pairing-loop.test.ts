/**
 * @module The whole pairing loop as people run it: the real server, the real terminal CLI and the real `cas` CLI,
 * over TLS on loopback. Create → pair → same code on both sides → approve → master calls → unpair → re-pair after reset.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok, terminalCli } from '../helpers/cli.js';
import { addOperator, casSession, type Cas, type TestOperator } from '../helpers/operator.js';
import { startServerProcess, tempDir, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let alice: TestOperator;
let cas: Cas;
const atm = tempDir('terminal-state');
const term = (args: string[]) => terminalCli(atm, args);


beforeAll(async () => {
  server = await startServerProcess();
  alice = await addOperator(server.dataDir, 'alice');
  cas = await casSession(server, alice);
});

afterAll(async () => {
  await cas?.(['logout']);
  await server?.stop();
});

describe('pairing one terminal with the real CLIs', () => {
  it('cannot pair while the gate is closed', async () => {
    ok(await term(['init', '--serial', 'ATM-0001', '--key', 'rsa']));
    const attempt = await term(['pair', '--gate', server.gateUrl]);
    expect(attempt.code).toBe(1);
    expect(attempt.json.error).toBe('server_unreachable');
  });

  it('tells an installer that the serial must be created first', async () => {
    ok(await cas(['gate', 'open', '--minutes', '30']));
    const attempt = await term(['pair', '--gate', server.gateUrl]);
    expect(attempt.json.error).toBe('unknown_serial');
    const unknown = ok(await cas(['unknown', 'list']));
    expect(unknown.map((u: { serial: string }) => u.serial)).toContain('ATM-0001');
  });

  it('shows the same code on the terminal and to the operator, and pairs after approval with it', async () => {
    ok(await cas(['terminals', 'create', 'ATM-0001', '--name', 'Lobby', '--location', 'Main St 1', '--contact', '+1 555 0100']));
    const pending = ok(await term(['pair', '--gate', server.gateUrl]));
    expect(pending).toMatchObject({ status: 'pending', stage: 'approval' });
    expect(pending.code).toMatch(/^\d{3}-\d{3}-\d{3}-\d{3}$/);
    expect(pending.sfp).toBe(server.sfp);

    const listed = ok(await cas(['pairing', 'list', '--state', 'pending']));
    expect(listed).toHaveLength(1);
    const request = ok(await cas(['pairing', 'get', listed[0].requestId]));
    expect(request).toMatchObject({ serial: 'ATM-0001', tfp: pending.tfp, code: pending.code, state: 'pending' });
    expect(ok(await cas(['terminals', 'get', 'ATM-0001'])).state).toBe('pending');

    const wrong = await cas(['pairing', 'approve', request.requestId, '--code', '000-000-000-000']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('code_mismatch');

    ok(await cas(['pairing', 'approve', request.requestId, '--code', pending.code.replaceAll('-', ' ')]));
    const trusted = ok(await term(['pair', '--gate', server.gateUrl]));
    expect(trusted.status).toBe('trusted');
    const terminal = ok(await cas(['terminals', 'get', 'ATM-0001']));
    expect(terminal).toMatchObject({ state: 'paired', tfp: pending.tfp });
  });

  it('corrects the contact of the paired terminal, keeping its pairing (master calls below still work)', async () => {
    const updated = ok(await cas(['terminals', 'update', 'ATM-0001', '--contact', '+1 555 0111']));
    expect(updated).toMatchObject({ state: 'paired', name: 'Lobby', location: 'Main St 1', contact: '+1 555 0111' });
    expect(ok(await cas(['terminals', 'update', 'ATM-0001', '--location', '']))).toMatchObject({ location: '', contact: '+1 555 0111' });
    const nothing = await cas(['terminals', 'update', 'ATM-0001']);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('--contact');
    const unknown = await cas(['terminals', 'update', 'ATM-9999', '--name', 'x']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('not_found');
  });

  it('works against master: ping, cash events (idempotent), deposit address', async () => {
    expect(ok(await term(['ping'])).serverTime).toBeTruthy();
    expect(ok(await term(['cash-event', '--currency', 'USD', '--denomination', '20', '--count', '3', '--event-id', 'evt-1']))).toMatchObject({ accepted: true, duplicate: false });
    expect(ok(await term(['cash-event', '--currency', 'USD', '--denomination', '20', '--count', '3', '--event-id', 'evt-1']))).toMatchObject({ accepted: true, duplicate: true });
    const invalid = await cas(['deposit', 'set', 'BTC', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdx']);
    expect(invalid.stderr).toContain('invalid_field');
    expect((await cas(['deposit', 'set', 'USDT', 'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t'])).stderr).toContain('0x and 40 hex digits');
    ok(await cas(['deposit', 'set', 'BTC', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq']));
    expect(ok(await term(['deposit-address', '--coin', 'BTC'])).address).toBe('bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq');
  });

  it('breaks trust on unpair: the very next master call is 403 not_paired', async () => {
    ok(await cas(['terminals', 'unpair', 'ATM-0001']));
    const call = await term(['ping']);
    expect(call.code).toBe(1);
    expect(call.json.error).toBe('not_paired');
    // It knows its gate: plain `terminal pair` (a --gate URL it does not have would start a switch of servers).
    expect(call.json.message).toContain('run `terminal pair` and have the operator approve it');
  });

  it('re-pairs after a factory reset with a new key and a new fingerprint', async () => {
    const before = ok(await term(['status']));
    ok(await term(['factory-reset', '--yes']));
    const init = ok(await term(['init', '--serial', 'ATM-0001', '--key', 'ed25519']));
    expect(init.tfp).not.toBe(before.tfp);
    const pending = ok(await term(['pair', '--gate', server.gateUrl]));
    const listed = ok(await cas(['pairing', 'list', '--state', 'pending']));
    const request = listed.find((r: { tfp: string }) => r.tfp === init.tfp);
    expect(request.code).toBe(pending.code);
    ok(await cas(['pairing', 'approve', request.requestId, '--code', pending.code]));
    expect(ok(await term(['pair', '--gate', server.gateUrl])).status).toBe('trusted');
    expect(ok(await term(['ping'])).serverTime).toBeTruthy();
  });

  it('keeps an audit log of who did what', async () => {
    const audit = ok(await cas(['audit', '--limit', '50']));
    const actions = audit.filter((e: { user: string }) => e.user === 'alice').map((e: { action: string }) => e.action);
    for (const action of ['gate.open', 'terminals.create', 'terminals.update', 'pairing.approve', 'terminals.unpair', 'deposit.set', 'login']) {
      expect(actions).toContain(action);
    }
    expect(audit.find((e: { action: string }) => e.action === 'gate.open').detail).toMatchObject({ minutes: 30, result: 'ok' });
  });

  it('audits a deposit address change with the address it replaced', async () => {
    ok(await cas(['deposit', 'set', 'btc', '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2']));
    const [latest] = ok(await cas(['audit', '--limit', '1']));
    expect(latest).toMatchObject({
      action: 'deposit.set', target: 'BTC', user: 'alice',
      detail: { address: '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', previous: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', result: 'ok' },
    });
  });
});
