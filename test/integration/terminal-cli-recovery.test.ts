/**
 * @module The terminal CLI against the real server when things go wrong: a closed gate, a mistyped new gate on a paired
 * terminal, an unpair the terminal has not heard of yet, a terminal without VPN, and the rejection after too many wrong codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok, runCli, terminalCli } from '../helpers/cli.js';
import { addOperator, casSession, type Cas } from '../helpers/operator.js';
import { freePort } from '../helpers/ports.js';
import { startServerProcess, tempDir, TERMINAL_CLI, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let cas: Cas;
const atm = tempDir('terminal-recovery');
const term = (args: string[]) => terminalCli(atm, args);
const termText = (args: string[]) => runCli(TERMINAL_CLI, ['--state', atm, ...args]);

beforeAll(async () => {
  server = await startServerProcess();
  cas = await casSession(server, await addOperator(server.dataDir, 'alice'));
});

afterAll(async () => {
  await cas?.(['logout']);
  await server?.stop();
});

describe('terminal CLI recovery against the real server', () => {
  it('a closed gate: the refusal says that the gate listens only while an operator opens it', async () => {
    ok(await term(['init', '--serial', 'ATM-R1']));
    const attempt = await term(['pair', '--gate', server.gateUrl]);
    expect(attempt.code).toBe(1);
    expect(attempt.json.error).toBe('server_unreachable');
    expect(attempt.json.message).toContain('ECONNREFUSED');
    expect(attempt.json.message).toContain('`cas gate open`');
  });

  it('a mistyped --gate on a paired terminal changes nothing, and says so', async () => {
    ok(await cas(['gate', 'open', '--minutes', '30']));
    ok(await cas(['terminals', 'create', 'ATM-R1']));
    const pending = ok(await term(['pair', '--gate', server.gateUrl]));
    const request = ok(await cas(['pairing', 'list', '--state', 'pending'])).find((r: { tfp: string }) => r.tfp === pending.tfp);
    ok(await cas(['pairing', 'approve', request.requestId, '--code', pending.code]));
    expect(ok(await term(['pair'])).status).toBe('trusted');
    const before = ok(await term(['status']));

    const typo = await term(['pair', '--gate', `https://127.0.0.1:${await freePort()}`]);
    expect(typo.code).toBe(1);
    expect(typo.json.error).toBe('server_unreachable');
    expect(typo.json.message).toContain(`Still paired with ${server.gateUrl} (master ${server.masterUrl}); nothing changed`);
    expect(ok(await term(['status']))).toEqual(before);
    // Master's address given for the gate's: said plainly, and nothing changes either.
    const master = await term(['pair', '--gate', server.masterUrl]);
    expect(master.json.error).toBe('not_found');
    expect(master.json.message).toContain('this address is not a gate');
    expect(master.json.message).toMatch(/by default\)\. Still paired with /);
    expect(ok(await term(['status']))).toEqual(before);
    expect(ok(await term(['ping'])).serverTime).toBeTruthy();
    expect(ok(await term(['cash-event', '--currency', 'USD', '--denomination', '20', '--count', '1'])).accepted).toBe(true);
  });

  it('vpn-config on a terminal created without VPN points at the operator, not at pairing again', async () => {
    const attempt = await term(['vpn-config']);
    expect(attempt.code).toBe(1);
    expect(attempt.json.error).toBe('not_found');
    expect(attempt.json.message).toContain('--vpn');
    expect(attempt.json.message).not.toContain('have the operator approve');
  });

  it('after an unpair the terminal has not heard of, status does not claim the server trusts it', async () => {
    ok(await cas(['terminals', 'unpair', 'ATM-R1']));
    const status = await termText(['status']);
    expect(status.stdout).toMatch(/paired {7}yes \(as of the last contact, \d{4}-[^)]+\) — `terminal ping` checks it now/);
    expect(status.stdout).not.toContain('trusted by the server');
    const refused = (await term(['ping'])).json;
    expect(refused.error).toBe('not_paired');
    expect(refused.message).toBe('the server no longer trusts this terminal (an operator unpaired it); run `terminal pair` and have the operator approve it');
    expect((await termText(['status'])).stdout).toMatch(/paired {7}no/);
  });

  it('the rejection after five wrong codes: neutral about who rejected, and what to do until it expires', async () => {
    const pending = ok(await term(['pair', '--gate', server.gateUrl]));
    const request = ok(await cas(['pairing', 'list', '--state', 'pending'])).find((r: { tfp: string }) => r.tfp === pending.tfp);
    for (let i = 0; i < 5; i += 1) {
      expect((await cas(['pairing', 'approve', request.requestId, '--code', '000-000-000-000'])).code).toBe(1);
    }
    expect(ok(await cas(['pairing', 'get', request.requestId])).state).toBe('rejected');

    for (const attempt of [await term(['pair']), await term(['pair'])]) {
      // The first resumes the rejected request; the second commits anew and meets the rejection stuck to the certificate.
      expect(attempt.code).toBe(1);
      expect(attempt.json.error).toBe('pairing_rejected');
      expect(attempt.json.message).toContain('was rejected (by an operator, or after too many wrong codes)');
      expect(attempt.json.message).toContain('until the rejection expires');
      expect(attempt.json.message).toContain('`terminal factory-reset`');
      expect(attempt.json.message).toContain('Call the operator first');
      expect(attempt.json.message).not.toMatch(/^an operator rejected/);
    }
  });

  it('a cash event that gets no answer names its event id, and sent again with it is recorded once', async () => {
    const atm2 = tempDir('terminal-recovery-cash');
    ok(await terminalCli(atm2, ['init', '--serial', 'ATM-R2']));
    ok(await cas(['terminals', 'create', 'ATM-R2']));
    const pending = ok(await terminalCli(atm2, ['pair', '--gate', server.gateUrl]));
    const request = ok(await cas(['pairing', 'list', '--state', 'pending'])).find((r: { tfp: string }) => r.tfp === pending.tfp);
    ok(await cas(['pairing', 'approve', request.requestId, '--code', pending.code]));
    // Approved, but the terminal has not asked the gate since: it says so, not "have the operator approve it".
    const early = (await terminalCli(atm2, ['ping'])).json;
    expect(early.message).toBe(`this terminal is not paired yet: its pairing request (code ${pending.code}) is under way; run \`terminal pair\`, which goes on with it and says whether the operator approved it`);
    expect(ok(await terminalCli(atm2, ['pair'])).status).toBe('trusted');

    // Master is down (the server stopped): the event may not be recorded, and the terminal says which one to send again.
    await cas(['logout']);
    await server.stop();
    const lost = await terminalCli(atm2, ['cash-event', '--currency', 'EUR', '--denomination', '50', '--count', '2']);
    expect(lost.code).toBe(1);
    expect(lost.json.error).toBe('server_unreachable');
    const eventId = lost.json.eventId as string;
    expect(eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(lost.json.message).toContain(`cash event ${eventId} is not confirmed: send it again with --event-id ${eventId}`);
    server = await startServerProcess({ dataDir: server.dataDir, ports: server.ports });
    const again = ok(await terminalCli(atm2, ['cash-event', '--currency', 'EUR', '--denomination', '50', '--count', '2', '--event-id', eventId]));
    expect(again).toMatchObject({ eventId, accepted: true, duplicate: false });
    // The same event (a currency typed in lower case is the same code) is recorded once.
    expect(ok(await terminalCli(atm2, ['cash-event', '--currency', 'eur', '--denomination', '50', '--count', '2', '--event-id', eventId])).duplicate).toBe(true);
  });
});
