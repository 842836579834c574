/**
 * @module `cas terminals import` against the real server: a CSV and a JSON Lines file create their terminals with their
 * fields, a serial already there fails its row (or is skipped with --skip-existing), a bad file is refused whole
 * before anything is sent, and a refusal that is not about a row (no 2FA for contacts) stops the import.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import type { TerminalView } from '../../src/protocol/types.js';
import { casCli, ok } from '../helpers/cli.js';
import { addOperator, casSession, connectOperator, type Cas } from '../helpers/operator.js';
import { startServerProcess, tempDir, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let alice: AdminClient;
let cas: Cas;
const dir = tempDir('import-files');

beforeAll(async () => {
  server = await startServerProcess();
  const op = await addOperator(server.dataDir, 'alice');
  alice = await connectOperator(server, op);
  cas = await casSession(server, op);
});

afterAll(async () => {
  await alice?.close();
  await server?.stop();
});

function file(name: string, text: string): string {
  const at = path.join(dir, name);
  fs.writeFileSync(at, text);
  return at;
}

const get = (serial: string) => alice.request<TerminalView>('terminals.get', { serial });

describe('cas terminals import', () => {
  it('creates the terminals of a CSV file with their fields; a serial already there fails its row, or is skipped', async () => {
    await alice.request('terminals.create', { serial: 'IMP-0002' });
    const csv = file('fleet.csv', '\uFEFFSerial,Name,Location,Contact,VPN\r\nIMP-0001,Lobby,"Main St 1, Zürich",+41 44 000 01,yes\r\nIMP-0002,Back office,,,\r\n\r\nIMP-0003,"Kiosk ""North""",Station,+41 44 000 03,no\r\n');
    const first = await cas(['terminals', 'import', csv]);
    expect(first.code).toBe(1);
    expect(first.json).toMatchObject({ total: 3, created: 2, skipped: 0, notSent: 0, stoppedBy: null, failed: [{ line: 3, serial: 'IMP-0002', error: 'already_exists' }] });
    expect(await get('IMP-0001')).toMatchObject({ name: 'Lobby', location: 'Main St 1, Zürich', contact: '+41 44 000 01', vpn: true, state: 'expected' });
    expect(await get('IMP-0003')).toMatchObject({ name: 'Kiosk "North"', location: 'Station', vpn: false });

    const again = ok(await cas(['terminals', 'import', csv, '--skip-existing']));
    expect(again).toMatchObject({ total: 3, created: 0, skipped: 3, failed: [] });
    // Each one is audited as a create by hand is.
    const entries = await alice.request<unknown[]>('audit.list', { action: 'terminals.create', serial: 'IMP-0001' });
    expect(entries.map((e) => (e as { detail: { result: string } }).detail.result)).toEqual(['already_exists', 'ok']);
  });

  it('creates the terminals of a JSON Lines file', async () => {
    const lines = file('fleet.jsonl', '{"serial":"IMP-J1","name":"One","vpn":true}\n\n{"serial":"IMP-J2"}\n');
    expect(ok(await cas(['terminals', 'import', lines]))).toMatchObject({ total: 2, created: 2, failed: [] });
    expect(await get('IMP-J1')).toMatchObject({ name: 'One', vpn: true });
    expect(await get('IMP-J2')).toMatchObject({ name: '', vpn: false });
  });

  it('refuses a file with a bad line whole, naming the line, before anything is sent (exit 2)', async () => {
    const cases: [string, string, string][] = [
      ['unknown-column.csv', 'serial,colour\nIMP-B1,red\n', 'line 2: unknown column "colour"'],
      ['bad-serial.csv', 'serial\nIMP-B2\n-nope\n', 'line 3: serial "-nope" is not a serial'],
      ['twice.csv', 'serial\nIMP-B3\nimp-b3\n', 'line 3: serial imp-b3 is on line 2 already'],
      ['bad-json.jsonl', '{"serial":"IMP-B4"}\n{"serial":\n', 'line 2: not a JSON object'],
      ['bad-vpn.csv', 'serial,vpn\nIMP-B5,maybe\n', 'line 2: vpn must be true or false'],
      ['empty.csv', 'serial\n', 'holds no terminal'],
    ];
    for (const [name, text, says] of cases) {
      const res = await cas(['terminals', 'import', file(name, text)]);
      expect(res.code, name).toBe(2);
      expect(res.stderr, name).toContain(says);
    }
    const missing = await cas(['terminals', 'import', path.join(dir, 'nope.csv')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read');
    for (const serial of ['IMP-B1', 'IMP-B2', 'IMP-B3', 'IMP-B4', 'IMP-B5']) {
      await expect(get(serial)).rejects.toMatchObject({ code: 'not_found' });
    }
  });

  it('stops at a refusal that is not about its row, and says how many rows were not sent', async () => {
    const dora = await addOperator(server.dataDir, 'dora', { with2fa: false });
    const rows = Array.from({ length: 200 }, (_, i) => `IMP-D${String(i).padStart(3, '0')},Kiosk,,${i === 100 ? '+1 555 0100' : ''}`);
    // Logged in for this one command, with the password alone.
    const res = await casCli(['--url', server.adminUrl, '--user', dora.user, '--fingerprint', server.sfp, '--json', 'terminals', 'import',
      file('dora.csv', `serial,name,location,contact\n${rows.join('\n')}\n`)], `${dora.password}\n`);
    expect(res.code).toBe(1);
    const summary = res.json as { created: number; notSent: number; failed: { line: number; error: string }[]; stoppedBy: { error: string } };
    expect(summary.stoppedBy).toMatchObject({ error: 'requires_2fa' });
    expect(summary.failed).toEqual([expect.objectContaining({ line: 102, error: 'requires_2fa' })]);
    // Those already in flight when the refusal came were still created; none after them was sent.
    expect(summary.created + summary.notSent + 1).toBe(200);
    expect(summary.notSent).toBeGreaterThan(0);
    await expect(get('IMP-D199')).rejects.toMatchObject({ code: 'not_found' });
  });
});
