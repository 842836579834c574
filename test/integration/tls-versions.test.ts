/**
 * @module TLS 1.2+ only, with a modern cipher list, on gate, master and admin: `openssl s_client` fails to handshake with
 * TLS 1.0 / 1.1 and with CBC or NULL suites, and succeeds with TLS 1.2 (AEAD suites) and TLS 1.3. A permissive control
 * server proves that the client really offers what the server must refuse.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { addOperator, connectOperator } from '../helpers/operator.js';
import { writeSection } from '../helpers/reliability.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

interface Probe {
  name: string;
  args: string[];
  /** Must the project's services complete this handshake? */
  accept: boolean;
}

// SECLEVEL=0 on the client side: otherwise OpenSSL 3 itself would refuse to offer TLS 1.0/1.1 and SHA-1 suites, and the test would pass for the wrong reason.
const PROBES: Probe[] = [
  { name: 'TLS 1.0', args: ['-tls1', '-cipher', 'DEFAULT@SECLEVEL=0'], accept: false },
  { name: 'TLS 1.1', args: ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'], accept: false },
  { name: 'TLS 1.2, ECDHE-ECDSA-AES128-SHA (CBC, SHA-1)', args: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA@SECLEVEL=0'], accept: false },
  { name: 'TLS 1.2, ECDHE-ECDSA-AES256-SHA384 (CBC)', args: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES256-SHA384@SECLEVEL=0'], accept: false },
  { name: 'TLS 1.2, ECDHE-ECDSA-NULL-SHA (no encryption)', args: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-NULL-SHA@SECLEVEL=0'], accept: false },
  { name: 'TLS 1.2 (default offer)', args: ['-tls1_2'], accept: true },
  { name: 'TLS 1.2, ECDHE-ECDSA-AES128-GCM-SHA256', args: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'], accept: true },
  { name: 'TLS 1.2, ECDHE-ECDSA-CHACHA20-POLY1305', args: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-CHACHA20-POLY1305'], accept: true },
  { name: 'TLS 1.3', args: ['-tls1_3'], accept: true },
];

interface Handshake {
  ok: boolean;
  protocol: string | null;
  cipher: string | null;
}

function sClient(port: number, args: string[]): Promise<Handshake> {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['s_client', '-brief', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('close', () => {
      clearTimeout(timer);
      const protocol = /Protocol version: (\S+)/.exec(out)?.[1] ?? null;
      const cipher = /Ciphersuite: (\S+)/.exec(out)?.[1] ?? null;
      resolve({ ok: out.includes('CONNECTION ESTABLISHED') && protocol !== null, protocol, cipher });
    });
    child.stdin.end();
  });
}

let server: ServerProcess;
let alice: AdminClient;
let control: tls.Server;
let controlPort = 0;
const rows: Array<Array<string | number>> = [];
let handshakes = 0;

beforeAll(async () => {
  server = await startServerProcess();
  alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
  await alice.request('gate.open', { minutes: 10 });
  const tlsDir = path.join(server.dataDir, 'tls');
  control = tls.createServer({
    key: fs.readFileSync(path.join(tlsDir, 'server.key')), cert: fs.readFileSync(path.join(tlsDir, 'server.crt')),
    minVersion: 'TLSv1', ciphers: 'ALL:eNULL:@SECLEVEL=0',
  }, (socket) => socket.end());
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  controlPort = (control.address() as { port: number }).port;
});

afterAll(async () => {
  await alice?.close();
  await server?.stop();
  await new Promise((resolve) => control?.close(resolve));
  const refused = rows.filter((r) => r[2] === 'refused').length;
  writeSection({
    name: 'tls',
    title: 'TLS versions and cipher suites (openssl s_client)',
    summary: [
      'Gate, master and admin refuse TLS 1.0 and 1.1 and the CBC and NULL suites of TLS 1.2; they complete TLS 1.2 with AEAD suites and TLS 1.3.',
      'A permissive control server on the same certificate completes every refused handshake, so the client did offer them.',
      `${handshakes} handshakes tried, ${refused} refused as required.`,
    ],
    numbers: { tlsHandshakes: handshakes },
    table: { columns: ['service', 'offer', 'result', 'negotiated'], rows },
  });
});

describe('the openssl client can offer what the services must refuse', () => {
  it.each(PROBES.filter((p) => !p.accept).map((p) => [p.name, p] as const))('control server completes %s', async (_name, probe) => {
    const result = await sClient(controlPort, probe.args);
    handshakes++;
    expect(result.ok).toBe(true);
  });
});

describe.each(['gate', 'master', 'admin'] as const)('%s', (service) => {
  it.each(PROBES.map((p) => [p.name, p] as const))('%s', async (_name, probe) => {
    const result = await sClient(server.ports[service], probe.args);
    handshakes++;
    rows.push([service, probe.name, result.ok ? 'completed' : 'refused', result.ok ? `${result.protocol} ${result.cipher}` : '—']);
    expect(result.ok).toBe(probe.accept);
    if (result.ok) expect(['TLSv1.2', 'TLSv1.3']).toContain(result.protocol);
  });
});
