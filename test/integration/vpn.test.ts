/**
 * @module Deployment scenario A end to end: `vpn: true` terminals paired with the real CLIs receive an OpenVPN profile for
 * their own key; openssl checks the chain, the key and the CRL; Debian's openvpn runs the exported server and each profile.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { AppError } from '../../src/errors.js';
import type { KeyKind } from '../../src/protocol/types.js';
import { ok, terminalCli } from '../helpers/cli.js';
import { LoggedProcess, NamespacePair, sbin, vpnTestMode } from '../helpers/openvpn.js';
import { addOperator, casSession, connectOperator, type Cas, type TestOperator } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, tempDir, type ServerProcess } from '../helpers/server-process.js';

const KINDS: readonly KeyKind[] = ['ec', 'ed25519', 'rsa'];
const MODE = vpnTestMode();
const work = tempDir('vpn-it');
const stateOf = (kind: KeyKind): string => path.join(work, `terminal-${kind}`);
const serialOf = (kind: KeyKind): string => `ATM-VPN-${kind.toUpperCase()}`;

let server: ServerProcess;
let alice: TestOperator;
let cas: Cas;
let bobClient: AdminClient | undefined;
let namespaces: NamespacePair | undefined;
let tunnelServer: LoggedProcess | undefined;
const processes: LoggedProcess[] = [];


function openssl(args: string[]): { ok: boolean; out: string } {
  const result = spawnSync('openssl', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: result.status === 0, out: `${result.stdout}${result.stderr}` };
}

const spkiOf = (pem: string): Buffer => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
const certPemOf = (profile: string): string => /<cert>\n([\s\S]*?)\n<\/cert>/.exec(profile)![1]!;
const remoteOf = (profile: string): string | undefined => profile.split('\n').find((l) => l.startsWith('remote '));

function openvpn(args: string[], opts: { netns?: string; cwd?: string } = {}): LoggedProcess {
  const proc = LoggedProcess.start(sbin('openvpn'), args, opts);
  processes.push(proc);
  return proc;
}

beforeAll(async () => {
  server = await startServerProcess();
  alice = await addOperator(server.dataDir, 'alice');
  cas = await casSession(server, alice);
  ok(await cas(['gate', 'open', '--minutes', '30']));
});

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  namespaces?.remove();
  await bobClient?.close();
  await cas?.(['logout']);
  await server?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe(`VPN for terminals (deployment scenario A), openvpn checked by ${MODE === 'tunnel' ? 'a real tunnel between network namespaces' : 'parsing up to opening the tun device'}`, () => {
  it('gives a trusted vpn terminal an OpenVPN profile for its own key, and a plain one none', async () => {
    for (const kind of KINDS) {
      const serial = serialOf(kind);
      ok(await cas(['terminals', 'create', serial, '--vpn', '--location', 'VPN test']));
      ok(await terminalCli(stateOf(kind), ['init', '--serial', serial, '--key', kind]));
      const pending = ok(await terminalCli(stateOf(kind), ['pair', '--gate', server.gateUrl]));
      const [request] = ok(await cas(['pairing', 'list', '--state', 'pending'])).filter((r: { serial: string }) => r.serial === serial);
      ok(await cas(['pairing', 'approve', '--code', pending.code, '--', request.requestId])); // ids may start with '-'
      const trusted = ok(await terminalCli(stateOf(kind), ['pair']));
      expect(trusted.status).toBe('trusted');
      expect(trusted.masterUrl).toBe(server.masterUrl);
      expect(trusted.vpn).toMatchObject({ masterUrl: `https://10.8.0.1:${server.ports.master}`, serial: expect.stringMatching(/^[0-9A-F]+$/) });
      const lines = trusted.vpn.profile.split('\n');
      for (const line of ['client', 'dev tun', 'proto udp', 'remote 127.0.0.1 1194', 'remote-cert-tls server']) expect(lines).toContain(line);
      expect(lines.some((l: string) => l.startsWith('verify-x509-name '))).toBe(true);
      for (const tag of ['ca', 'cert', 'tls-crypt']) expect(trusted.vpn.profile).toContain(`\n</${tag}>`);
      expect(trusted.vpn.profile).not.toContain('PRIVATE KEY');
    }

    // A terminal created without --vpn: the trusted answer carries "vpn": null (raw protocol, as PROTOCOL.md shows it).
    ok(await cas(['terminals', 'create', 'ATM-PLAIN']));
    const raw = RawTerminal.create('ATM-PLAIN', 'ec');
    const { requestId, code } = await raw.requestPairing(server.gateUrl, server.sfp);
    ok(await cas(['pairing', 'approve', '--code', code, '--', requestId]));
    const answer = await raw.gate(server.gateUrl, {});
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ status: 'trusted', masterUrl: server.masterUrl, vpn: null });
  });

  it('issues certificates that chain to the exported CA and certify exactly the terminal key', async () => {
    const dir = path.join(work, 'bundle-1');
    ok(await cas(['vpn', 'export', '--out', dir]));
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    for (const name of ['server.key', 'tls-crypt.key']) expect(fs.statSync(path.join(dir, name)).mode & 0o777).toBe(0o600);
    for (const name of ['server.conf', 'ca.crt', 'server.crt', 'crl.pem']) expect(fs.existsSync(path.join(dir, name))).toBe(true);
    for (const kind of KINDS) {
      const vpn = ok(await terminalCli(stateOf(kind), ['vpn-config']));
      const certFile = path.join(work, `${kind}-vpn.crt`);
      fs.writeFileSync(certFile, certPemOf(vpn.profile));
      expect(openssl(['verify', '-CAfile', path.join(dir, 'ca.crt'), certFile]).out).toContain(`${certFile}: OK`);
      // SubjectPublicKeyInfo DER of the VPN certificate = that of the terminal's own certificate: no key was made for it.
      const terminalCert = fs.readFileSync(path.join(stateOf(kind), 'cert.pem'), 'utf8');
      expect(spkiOf(certPemOf(vpn.profile)).equals(spkiOf(terminalCert))).toBe(true);
      expect(new X509Certificate(certPemOf(vpn.profile)).serialNumber).toBe(vpn.serial);
    }
  });

  it('lets only operators with 2FA export the server keys', async () => {
    const bob = await addOperator(server.dataDir, 'bob', { with2fa: false });
    bobClient = await connectOperator(server, bob);
    const refused = await bobClient.request('vpn.export').then(() => 'no error', (err: unknown) => (err instanceof AppError ? err.code : String(err)));
    expect(refused).toBe('requires_2fa');
    expect(await bobClient.request('vpn.get')).toMatchObject({ port: 1194, proto: 'udp', caCreated: true });
    const audit = ok(await cas(['audit', '--limit', '50']));
    expect(audit).toContainEqual(expect.objectContaining({ user: 'bob', action: 'vpn.export', detail: expect.objectContaining({ result: 'requires_2fa' }) }));
    expect(audit).toContainEqual(expect.objectContaining({ user: 'alice', action: 'vpn.export', detail: expect.objectContaining({ result: 'ok' }) }));
    // Neither key of the bundle ever reaches the server's log.
    const tlsCrypt = fs.readFileSync(path.join(work, 'bundle-1', 'tls-crypt.key'), 'utf8').split('\n').filter((l) => /^[0-9a-f]{32}$/.test(l));
    expect(tlsCrypt).toHaveLength(16);
    for (const line of tlsCrypt) expect(server.output()).not.toContain(line);
    expect(server.output()).not.toContain('PRIVATE KEY');
  });

  it('prints the profile on the terminal and writes it with the terminal key, owner-only', async () => {
    const shown = await terminalCli(stateOf('ec'), ['vpn-config']).then(ok);
    const file = path.join(work, 'ec.ovpn');
    const written = ok(await terminalCli(stateOf('ec'), ['vpn-config', '--out', file]));
    expect(written).toMatchObject({ out: file, serial: shown.serial });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const content = fs.readFileSync(file, 'utf8');
    const key = fs.readFileSync(path.join(stateOf('ec'), 'key.pem'), 'utf8').trim();
    expect(content).toContain(`<key>\n${key}\n</key>`);
    expect(content.startsWith(shown.profile.trimEnd())).toBe(true);
    const none = await terminalCli(path.join(work, 'no-vpn'), ['init', '--serial', 'ATM-NOVPN']).then(() => terminalCli(path.join(work, 'no-vpn'), ['vpn-config']));
    expect(none.json.error).toBe('not_found');
  });

  it('regenerates a configuration after the VPN moves, without re-pairing', async () => {
    const host = MODE === 'tunnel' ? '192.168.77.1' : '127.0.0.1';
    // Where every VPN terminal's profile points: 2FA, as for the deposit addresses.
    const refused = await bobClient!.request('vpn.set', { host: 'vpn.evil.example' }).then(() => 'no error', (err: unknown) => (err instanceof AppError ? err.code : String(err)));
    expect(refused).toBe('requires_2fa');
    const settings = ok(await cas(['vpn', 'set', '--host', host, '--port', '1195']));
    expect(settings).toMatchObject({ host, port: 1195, hostIsDefault: false });
    const audit = ok(await cas(['audit', '--limit', '10'])) as { user: string; action: string; detail: Record<string, unknown> }[];
    const entry = audit.find((e) => e.action === 'vpn.set' && e.user === 'alice');
    expect(entry?.detail).toMatchObject({ result: 'ok', set: { host, port: 1195 }, previous: { port: 1194 } });
    expect(audit.find((e) => e.action === 'vpn.set' && e.user === 'bob')?.detail).toMatchObject({ result: 'requires_2fa', set: { host: 'vpn.evil.example' } });
    for (const kind of KINDS) {
      const before = ok(await terminalCli(stateOf(kind), ['vpn-config']));
      const reissued = ok(await cas(['vpn', 'regenerate', serialOf(kind)]));
      expect(reissued).toMatchObject({ serial: serialOf(kind), host, port: 1195 });
      const trusted = ok(await terminalCli(stateOf(kind), ['pair'])); // no code, no operator: it is still trusted
      expect(trusted.status).toBe('trusted');
      expect(remoteOf(before.profile)).toBe('remote 127.0.0.1 1194');
      expect(remoteOf(trusted.vpn.profile)).toBe(`remote ${host} 1195`);
      expect(trusted.vpn.serial).toBe(reissued.certSerial);
      expect(trusted.vpn.serial).not.toBe(before.serial);
      ok(await terminalCli(stateOf(kind), ['vpn-config', '--out', path.join(work, `${kind}.ovpn`)]));
    }
  });

  it(`is accepted by Debian's openvpn: the exported server and every key type's profile (${MODE})`, async () => {
    const dir = path.join(work, 'bundle-2');
    ok(await cas(['vpn', 'export', '--out', dir]));
    expect(fs.readFileSync(path.join(dir, 'server.conf'), 'utf8')).toContain('port 1195');
    if (MODE === 'parse') {
      // A tun node that cannot be a tun device: the check stops where the tunnel would open, and never touches this host's network.
      const srv = openvpn(['--cd', dir, '--config', 'server.conf', '--verb', '4', '--dev-node', path.join(work, 'no-tun-here')]);
      await srv.waitFor(/CRL: loaded 1 CRLs from file crl\.pem/, 15_000);
      await srv.waitFor(/Incoming Control Channel Encryption/, 15_000); // the tls-crypt key was read
      // Past the certificates and keys, the next step is the tun device: opened, or refused without the privilege.
      await srv.waitFor(/Cannot (open|ioctl) TUN|TUNSETIFF/, 15_000);
      expect(srv.output()).not.toMatch(/Options error|Cannot load/);
      await srv.stop();
      for (const kind of KINDS) {
        const client = openvpn(['--config', path.join(work, `${kind}.ovpn`), '--verb', '4']);
        await client.waitFor(/UDPv4 link remote: \[AF_INET\]127\.0\.0\.1:1195/, 15_000);
        expect(client.output()).toContain('Incoming Control Channel Encryption');
        expect(client.output()).not.toMatch(/Options error|Cannot load/);
        await client.stop();
      }
      return;
    }

    namespaces = new NamespacePair();
    const srv = openvpn(['--cd', dir, '--config', 'server.conf', '--verb', '4'], { netns: namespaces.server });
    tunnelServer = srv;
    await srv.waitFor(/Initialization Sequence Completed/, 20_000);
    // A listener on master's tunnel address, inside the server namespace: what a terminal reaches through the tunnel.
    const echo = LoggedProcess.start(process.execPath, ['-e', `require('node:net').createServer((s) => s.end('pong')).listen(7999, '10.8.0.1', () => console.log('listening'))`], { netns: namespaces.server });
    processes.push(echo);
    await echo.waitFor(/listening/, 10_000);
    for (const kind of KINDS) {
      const client = openvpn(['--config', path.join(work, `${kind}.ovpn`), '--verb', '4'], { netns: namespaces.client });
      await client.waitFor(/Initialization Sequence Completed/, 30_000);
      await srv.waitFor(new RegExp(`\\[${serialOf(kind)}\\] Peer Connection Initiated`), 10_000);
      expect(client.output()).toMatch(/VERIFY X509NAME OK: .*CN=vpn-server@pairing/);
      const reply = spawnSync(sbin('ip'), ['netns', 'exec', namespaces.client, process.execPath, '-e',
        `const s = require('node:net').connect(7999, '10.8.0.1'); s.on('data', (d) => process.stdout.write(d)); s.on('error', () => process.exit(1));`],
        { encoding: 'utf8', timeout: 10_000 });
      expect(reply.stdout).toBe('pong');
      await client.stop();
    }
  });

  it('revokes the VPN certificate on unpair: the CRL lists it, openssl and OpenVPN refuse it', async () => {
    const kind: KeyKind = 'ec';
    const { serial: certSerial, profile } = ok(await terminalCli(stateOf(kind), ['vpn-config']));
    ok(await cas(['terminals', 'unpair', serialOf(kind)]));
    const crl = ok(await cas(['vpn', 'crl']));
    expect(crl.revoked).toContainEqual({ certSerial, serial: serialOf(kind), revokedAt: expect.any(String), reason: 'cessationOfOperation' });
    // Both issued certificates of that terminal (the first and the regenerated one) are on the list.
    expect(crl.revoked.filter((r: { serial: string }) => r.serial === serialOf(kind))).toHaveLength(2);

    const dir = path.join(work, 'bundle-2');
    fs.writeFileSync(path.join(dir, 'crl.pem'), crl.crl); // what the operator does after an unpair
    const text = openssl(['crl', '-in', path.join(dir, 'crl.pem'), '-noout', '-text']);
    expect(text.out).toContain(`Serial Number: ${certSerial}`);
    expect(openssl(['crl', '-in', path.join(dir, 'crl.pem'), '-noout', '-verify', '-CAfile', path.join(dir, 'ca.crt')]).out).toContain('verify OK');
    const certFile = path.join(work, 'revoked.crt');
    fs.writeFileSync(certFile, certPemOf(profile));
    const refused = openssl(['verify', '-crl_check', '-CRLfile', path.join(dir, 'crl.pem'), '-CAfile', path.join(dir, 'ca.crt'), certFile]);
    expect(refused.ok).toBe(false);
    expect(refused.out).toContain('certificate revoked');
    const other = path.join(work, 'still-valid.crt');
    fs.writeFileSync(other, certPemOf(ok(await terminalCli(stateOf('rsa'), ['vpn-config'])).profile));
    expect(openssl(['verify', '-crl_check', '-CRLfile', path.join(dir, 'crl.pem'), '-CAfile', path.join(dir, 'ca.crt'), other]).ok).toBe(true);

    if (MODE === 'tunnel') {
      // The running OpenVPN server re-reads crl.pem when it changes: the unpaired terminal's next connection is refused.
      const client = openvpn(['--config', path.join(work, `${kind}.ovpn`), '--verb', '4', '--connect-retry-max', '1'], { netns: namespaces!.client });
      await tunnelServer!.waitFor(new RegExp(`VERIFY ERROR: depth=0, error=certificate revoked.*CN=${serialOf(kind)}`), 20_000);
      expect(client.output()).not.toContain('Initialization Sequence Completed');
      await client.stop();
    }
  });
});
