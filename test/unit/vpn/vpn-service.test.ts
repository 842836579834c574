/** @module Unit tests: the VPN service on a real LMDB store — issue for the pinned key, gate config, settings, regenerate, revocation and the server bundle. */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { createSelfSignedCertificate, generateKeyPair } from '../../../src/crypto/certificates.js';
import { fingerprint } from '../../../src/crypto/fingerprint.js';
import { createLogger } from '../../../src/logger.js';
import type { KeyKind } from '../../../src/protocol/types.js';
import type { TerminalRecord } from '../../../src/store/records.js';
import { Store } from '../../../src/store/store.js';
import { VpnService, type VpnGateConfig } from '../../../src/vpn/vpn-service.js';
import { VpnStore } from '../../../src/vpn/vpn-store.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpn-service-test-'));
let store: Store;
let vpn: VpnService;
let clock = Date.now();

beforeAll(() => {
  store = Store.open(dataDir);
  vpn = new VpnService({
    store, dataDir, publicHost: 'pairing.example', masterPort: () => 7743, log: createLogger({ level: 'silent', pretty: false }), now: () => clock,
  });
});

afterAll(async () => {
  await store.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function pairedTerminal(serial: string, opts: { vpn?: boolean; kind?: KeyKind } = {}): Promise<TerminalRecord> {
  const { privateKeyPem } = generateKeyPair(opts.kind ?? 'ec');
  const { der } = createSelfSignedCertificate({ privateKeyPem, commonName: serial });
  const record: TerminalRecord = {
    serial, name: '', location: '', contact: '', vpn: opts.vpn ?? true, createdAt: clock, createdBy: 'alice',
    tfp: fingerprint(der), certDer: der, pairedAt: clock, pairedBy: 'alice', lastSeenAt: null,
  };
  await store.durable(store.terminals.put(serial, record));
  return record;
}

/** The revocation an unpair commits with it (operator-decisions.ts), then the CRL file the main thread writes after. */
async function revokeAsUnpair(serial: string): Promise<string[]> {
  const revoked = await store.atomically(() => VpnStore.of(store).revokeSync(serial, clock, 'cessationOfOperation', null));
  vpn.publishCrl();
  return revoked;
}

function certOf(config: VpnGateConfig): X509Certificate {
  return new X509Certificate(/<cert>\n([\s\S]*?)\n<\/cert>/.exec(config.profile)![1]!);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return err instanceof AppError ? err.code : `not an AppError: ${String(err)}`;
  }
  return 'no error';
}

describe('settings', () => {
  it('default to the public host, UDP 1194, 10.8.0.0/24 and master at the tunnel\'s first address', () => {
    expect(vpn.settings()).toMatchObject({
      host: 'pairing.example', port: 1194, proto: 'udp', subnet: '10.8.0.0/24', masterUrl: 'https://10.8.0.1:7743', hostIsDefault: true, masterUrlIsDefault: true,
    });
  });

  it('does not create the CA by looking', () => {
    expect(vpn.status()).toMatchObject({ caCreated: false, caFingerprint: null });
    expect(fs.existsSync(path.join(dataDir, 'vpn'))).toBe(false);
  });

  it('refuse values that are not what they claim, naming the field', async () => {
    const cases: Record<string, unknown>[] = [
      { host: 'vpn.example 1195\nscript-security 2' }, { host: '' }, { port: 0 }, { port: 70000 }, { proto: 'icmp' },
      { subnet: '10.8.0.1/24' }, { subnet: '10.8.0.0/30' }, { subnet: 'fd00::/64' }, { masterUrl: 'http://10.8.0.1:7743' },
      { masterUrl: 'https://10.9.0.1:7743' }, { masterUrl: 'https://10.8.0.1:7743/path' }, { unknown: 1 },
    ];
    for (const args of cases) expect(await codeOf(vpn.updateSettings(args, 'alice')), JSON.stringify(args)).toBe('invalid_field');
  });

  it('derive the in-tunnel master from a new subnet and return to defaults on null', async () => {
    expect(await vpn.updateSettings({ subnet: '172.16.4.0/22', host: 'vpn.example', proto: 'tcp', port: 443 }, 'alice')).toMatchObject({
      host: 'vpn.example', port: 443, proto: 'tcp', masterUrl: 'https://172.16.4.1:7743', updatedBy: 'alice',
    });
    expect(await codeOf(vpn.updateSettings({ subnet: '10.8.0.0/24', masterUrl: 'https://172.16.4.9:7743' }, 'alice'))).toBe('invalid_field');
    expect((await vpn.updateSettings({ masterUrl: 'https://172.16.4.9:8443' }, 'alice')).masterUrl).toBe('https://172.16.4.9:8443');
    const reset = await vpn.updateSettings({ host: null, masterUrl: null, subnet: '10.8.0.0/24', proto: 'udp', port: 1194 }, 'alice');
    expect(reset).toMatchObject({ host: 'pairing.example', masterUrl: 'https://10.8.0.1:7743', hostIsDefault: true, masterUrlIsDefault: true });
  });
});

describe('terminal configurations', () => {
  it('are issued for the pinned key and rendered into the gate answer', async () => {
    const terminal = await pairedTerminal('ATM-1', { kind: 'ed25519' });
    const view = await vpn.issue('ATM-1', 'alice');
    const config = (await vpn.gateConfig(terminal))!;
    expect(config).toMatchObject({ masterUrl: 'https://10.8.0.1:7743', serial: view.certSerial, expiresAt: view.expiresAt });
    for (const line of ['client', 'dev tun', 'proto udp', 'remote pairing.example 1194', 'remote-cert-tls server', 'verify-x509-name vpn-server@pairing name']) {
      expect(config.profile.split('\n')).toContain(line);
    }
    for (const tag of ['ca', 'cert', 'tls-crypt']) expect(config.profile).toContain(`</${tag}>`);
    expect(config.profile).not.toMatch(/PRIVATE KEY|^<key>/m);
    const spki = new X509Certificate(terminal.certDer!).publicKey.export({ type: 'spki', format: 'der' });
    expect(certOf(config).publicKey.export({ type: 'spki', format: 'der' }).equals(spki)).toBe(true);
    expect(vpn.status().caCreated).toBe(true);
  });

  it('are null for a terminal created without VPN, and refused to regenerate', async () => {
    const terminal = await pairedTerminal('ATM-plain', { vpn: false });
    expect(await vpn.gateConfig(terminal)).toBeNull();
    expect(await codeOf(vpn.regenerate('ATM-plain', 'alice'))).toBe('invalid_state');
    expect(await codeOf(vpn.regenerate('ATM-none', 'alice'))).toBe('not_found');
  });

  it('are issued on the spot for a paired VPN terminal that has none yet', async () => {
    const terminal = await pairedTerminal('ATM-lazy');
    const config = (await vpn.gateConfig(terminal))!;
    expect(certOf(config).subject).toContain('CN=ATM-lazy');
    expect((await vpn.gateConfig(terminal))!.serial).toBe(config.serial); // and kept, not reissued per answer
  });

  it('follow the settings of the moment they are regenerated, without re-pairing', async () => {
    const terminal = store.terminals.get('ATM-1')!;
    const before = (await vpn.gateConfig(terminal))!;
    await vpn.updateSettings({ host: 'vpn2.example', port: 1195 }, 'alice');
    expect((await vpn.gateConfig(terminal))!.profile).toContain('remote pairing.example 1194');
    const view = await vpn.regenerate('ATM-1', 'bob');
    const after = (await vpn.gateConfig(terminal))!;
    expect(after.profile).toContain('remote vpn2.example 1195');
    expect(after.serial).toBe(view.certSerial);
    expect(after.serial).not.toBe(before.serial);
    expect(store.terminals.get('ATM-1')!.tfp).toBe(terminal.tfp);
  });

  it('are revoked, all of them, when the terminal is unpaired, and the CRL says so', async () => {
    const terminal = store.terminals.get('ATM-1')!;
    const current = (await vpn.gateConfig(terminal))!;
    await store.durable(store.terminals.put('ATM-1', { ...terminal, tfp: null, certDer: null }));
    const revoked = await revokeAsUnpair('ATM-1');
    expect(revoked).toHaveLength(2); // the first issue and the regenerated one
    expect(revoked).toContain(current.serial);
    const { crl, revoked: listed } = vpn.crl();
    expect(listed.filter((r) => r.serial === 'ATM-1').map((r) => r.reason)).toEqual(['cessationOfOperation', 'cessationOfOperation']);
    const crlFile = path.join(dataDir, 'check-crl.pem');
    fs.writeFileSync(crlFile, crl);
    const text = spawnSync('openssl', ['crl', '-in', crlFile, '-noout', '-text'], { encoding: 'utf8' }).stdout;
    for (const serial of revoked) expect(text).toContain(`Serial Number: ${serial}`);
    // The server keeps <dataDir>/vpn/crl.pem current for an OpenVPN server on the same machine.
    const onDisk = spawnSync('openssl', ['crl', '-in', path.join(dataDir, 'vpn', 'crl.pem'), '-noout', '-text'], { encoding: 'utf8' }).stdout;
    expect(onDisk).toContain(`Serial Number: ${current.serial}`);
    expect(await codeOf(vpn.regenerate('ATM-1', 'alice'))).toBe('invalid_state');
  });

  it('are revoked on unpairing whatever the length of the serial (lmdb encodes keys of 64 characters or more apart)', async () => {
    for (const serial of ['S', 'L'.repeat(30), 'M'.repeat(31), 'X'.repeat(64)]) {
      const terminal = await pairedTerminal(serial);
      const issued = (await vpn.gateConfig(terminal))!;
      await store.durable(store.terminals.put(serial, { ...terminal, tfp: null, certDer: null }));
      expect(await revokeAsUnpair(serial), serial).toEqual([issued.serial]);
      expect(vpn.crl().revoked.filter((r) => r.serial === serial)).toHaveLength(1);
    }
  });

  it('of a replaced key are revoked as superseded when the new key is pinned', async () => {
    const old = await pairedTerminal('ATM-2');
    const first = (await vpn.gateConfig(old))!;
    const replaced = await pairedTerminal('ATM-2'); // a second TFP approved for the serial: new pin
    const second = (await vpn.gateConfig(replaced))!;
    expect(second.serial).not.toBe(first.serial);
    expect(vpn.crl().revoked).toContainEqual(expect.objectContaining({ certSerial: first.serial, serial: 'ATM-2', reason: 'superseded' }));
  });

  it('are in the CRL file again when it is published at start-up, whatever happened to the file; without a CA nothing is made', async () => {
    const file = path.join(dataDir, 'vpn', 'crl.pem');
    fs.rmSync(file); // a crash after a revocation's commit, before its file was written, or a file lost since
    vpn.publishCrl();
    const text = spawnSync('openssl', ['crl', '-in', file, '-noout', '-text'], { encoding: 'utf8' }).stdout;
    for (const { certSerial } of vpn.crl().revoked) expect(text).toContain(`Serial Number: ${certSerial}`);
    const bare = fs.mkdtempSync(path.join(os.tmpdir(), 'vpn-none-'));
    new VpnService({ store, dataDir: bare, publicHost: 'pairing.example', masterPort: () => 7743, log: createLogger({ level: 'silent', pretty: false }), now: () => clock }).publishCrl();
    expect(fs.readdirSync(bare)).toEqual([]);
    fs.rmSync(bare, { recursive: true, force: true });
  });

  it('are not written for a terminal unpaired while its certificate was being made', async () => {
    await pairedTerminal('ATM-3');
    const issuing = vpn.issue('ATM-3', 'alice');
    await store.durable(store.terminals.put('ATM-3', { ...store.terminals.get('ATM-3')!, tfp: null, certDer: null }));
    // Whichever commits first, no certificate of ATM-3 may stay unrevoked once the revocation ran.
    await issuing.catch(() => undefined);
    await revokeAsUnpair('ATM-3');
    const active = [...store.root.openDB<{ terminalSerial: string; revokedAt: number | null }, string>({ name: 'vpn-certs' }).getRange()]
      .filter(({ value }) => value.terminalSerial === 'ATM-3' && value.revokedAt === null);
    expect(active).toEqual([]);
  });
});

describe('the OpenVPN server bundle', () => {
  it('holds server.conf matching the settings, the certificates, the keys (marked secret) and the CRL, but never the CA key', async () => {
    clock += 1000;
    await vpn.updateSettings({ proto: 'tcp', port: 443, subnet: '10.20.0.0/16' }, 'alice');
    const bundle = vpn.exportBundle();
    const byName = Object.fromEntries(bundle.files.map((f) => [f.name, f]));
    expect(Object.keys(byName).sort()).toEqual(['ca.crt', 'crl.pem', 'server.conf', 'server.crt', 'server.key', 'tls-crypt.key']);
    expect(bundle.files.filter((f) => f.secret).map((f) => f.name).sort()).toEqual(['server.key', 'tls-crypt.key']);
    const conf = byName['server.conf']!.content.split('\n');
    for (const line of ['port 443', 'proto tcp', 'dev tun', 'server 10.20.0.0 255.255.0.0', 'tls-crypt tls-crypt.key', 'crl-verify crl.pem', 'remote-cert-tls client']) {
      expect(conf).toContain(line);
    }
    expect(conf).not.toContain('explicit-exit-notify 1'); // UDP only
    const caKey = fs.readFileSync(path.join(dataDir, 'vpn', 'ca.key'), 'utf8');
    expect(bundle.files.some((f) => f.content.includes(caKey.trim()))).toBe(false);
  });
});
