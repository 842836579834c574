/** @module Unit tests: the VPN CA on disk, terminal VPN certificates for RSA, P-256 and Ed25519 keys, and the CRL, all checked by openssl. */
import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSelfSignedCertificate, generateKeyPair } from '../../../src/crypto/certificates.js';
import type { KeyKind } from '../../../src/protocol/types.js';
import { VPN_SERVER_NAME, VpnAuthority } from '../../../src/vpn/vpn-authority.js';
import { buildCrl, crlPem } from '../../../src/vpn/vpn-crl.js';
import { isTlsCryptKey } from '../../../src/vpn/tls-crypt-key.js';

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpn-ca-test-'));
afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

/** openssl's exit status and combined output; never throws. */
function openssl(args: string[]): { ok: boolean; out: string } {
  const run = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: run.status === 0, out: `${run.stdout}${run.stderr}` };
}

function file(name: string, content: string): string {
  const target = path.join(workDir, name);
  fs.writeFileSync(target, content);
  return target;
}

const mode = (p: string): number => fs.statSync(p).mode & 0o777;
const spki = (pem: string | Buffer): Buffer => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });

function terminalCertificate(kind: KeyKind, serial: string): { certPem: string; der: Buffer } {
  const { privateKeyPem } = generateKeyPair(kind);
  return createSelfSignedCertificate({ privateKeyPem, commonName: serial });
}

const dataDir = path.join(workDir, 'data');
fs.mkdirSync(dataDir, { mode: 0o700 });
const now = new Date();
const ca = VpnAuthority.open(dataDir, now);
const caFile = path.join(dataDir, 'vpn', 'ca.crt');

describe('the VPN CA on disk', () => {
  it('is created on first use: directory 0700, private keys and the tls-crypt key 0600', () => {
    const dir = path.join(dataDir, 'vpn');
    expect(mode(dir)).toBe(0o700);
    for (const name of ['ca.key', 'server.key', 'tls-crypt.key']) expect(mode(path.join(dir, name))).toBe(0o600);
    expect(mode(caFile)).toBe(0o644);
    expect(fs.readdirSync(dataDir).filter((n) => n.startsWith('.vpn-'))).toEqual([]);
  });

  it('is loaded, not replaced, when opened again', () => {
    const again = VpnAuthority.open(dataDir, new Date());
    expect(again.caFingerprint).toBe(ca.caFingerprint);
    expect(again.tlsCryptKey).toBe(ca.tlsCryptKey);
  });

  it('is an ECDSA P-256 CA that openssl accepts, with a server certificate for OpenVPN', () => {
    const caCert = new X509Certificate(ca.caCertPem);
    expect(caCert.ca).toBe(true);
    expect(caCert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(openssl(['verify', '-CAfile', caFile, caFile]).ok).toBe(true);
    const serverFile = file('server.crt', ca.serverCertPem);
    const verified = openssl(['verify', '-CAfile', caFile, '-purpose', 'sslserver', serverFile]);
    expect(verified.out).toContain(': OK');
    const text = openssl(['x509', '-in', serverFile, '-noout', '-text']).out;
    expect(text).toContain(`CN = ${VPN_SERVER_NAME}`);
    expect(text).toContain('TLS Web Server Authentication');
    expect(new X509Certificate(ca.serverCertPem).checkPrivateKey(createPrivateKey(ca.serverKeyPem()))).toBe(true);
  });

  it('holds a 2048-bit OpenVPN static key for tls-crypt', () => {
    expect(isTlsCryptKey(ca.tlsCryptKey)).toBe(true);
    expect(ca.tlsCryptKey).toContain('-----BEGIN OpenVPN Static key V1-----');
    expect(ca.tlsCryptKey.split('\n').filter((l) => /^[0-9a-f]{32}$/.test(l))).toHaveLength(16);
  });
});

describe('terminal VPN certificates', () => {
  for (const kind of ['ec', 'ed25519', 'rsa'] as const) {
    it(`certify the terminal's own ${kind} public key, chain to the CA and are for TLS clients`, () => {
      const serial = `ATM-${kind}`;
      const terminal = terminalCertificate(kind, serial);
      const issued = ca.issueClient(serial, new X509Certificate(terminal.der).publicKey, now);
      const certFile = file(`${kind}.crt`, issued.pem);
      expect(openssl(['verify', '-CAfile', caFile, '-purpose', 'sslclient', certFile]).out).toContain(': OK');
      // Same SubjectPublicKeyInfo: the terminal's private key, which never left it, fits this certificate.
      expect(spki(issued.pem).equals(spki(terminal.certPem))).toBe(true);
      const x509 = new X509Certificate(issued.pem);
      expect(x509.subject).toContain(`CN=${serial}`);
      expect(x509.ca).toBe(false);
      expect(x509.serialNumber).toBe(issued.serialHex);
      expect(x509.keyUsage).toContain('1.3.6.1.5.5.7.3.2'); // clientAuth
      expect(x509.keyUsage).not.toContain('1.3.6.1.5.5.7.3.1'); // never serverAuth: a terminal cannot pose as the VPN server
      expect(new Date(x509.validTo).getTime()).toBeGreaterThan(now.getTime() + 9 * 365 * 86_400_000);
    });
  }

  it('are refused by openssl under another CA', () => {
    const otherDir = path.join(workDir, 'other');
    fs.mkdirSync(otherDir);
    const other = VpnAuthority.open(otherDir, now);
    const terminal = terminalCertificate('ec', 'ATM-x');
    const issued = other.issueClient('ATM-x', new X509Certificate(terminal.der).publicKey, now);
    expect(openssl(['verify', '-CAfile', caFile, file('foreign.crt', issued.pem)]).ok).toBe(false);
  });
});

describe('the CRL', () => {
  const revokedTerminal = terminalCertificate('ed25519', 'ATM-gone');
  const keptTerminal = terminalCertificate('rsa', 'ATM-kept');
  const revoked = ca.issueClient('ATM-gone', new X509Certificate(revokedTerminal.der).publicKey, now);
  const kept = ca.issueClient('ATM-kept', new X509Certificate(keptTerminal.der).publicKey, now);
  const crl = crlPem(buildCrl({
    issuer: ca.issuerForCrl, crlNumber: BigInt(Date.now()),
    entries: [{ serialHex: revoked.serialHex, revokedAt: now, reason: 'cessationOfOperation' }],
    thisUpdate: new Date(now.getTime() - 60_000), nextUpdate: new Date(now.getTime() + 86_400_000),
  }));
  const crlFile = file('crl.pem', crl);

  it('is a v2 CRL signed by the CA that lists the revoked serial with its reason', () => {
    const verified = openssl(['crl', '-in', crlFile, '-noout', '-verify', '-CAfile', caFile]);
    expect(verified.ok).toBe(true);
    expect(verified.out).toContain('verify OK');
    const text = openssl(['crl', '-in', crlFile, '-noout', '-text']).out;
    expect(text).toContain('Version 2');
    expect(text).toContain(`Serial Number: ${revoked.serialHex}`);
    expect(text).toContain('Cessation Of Operation');
    expect(text).toContain('X509v3 CRL Number');
    expect(text).not.toContain(kept.serialHex);
  });

  it('makes openssl refuse the revoked certificate and still accept the other', () => {
    const gone = openssl(['verify', '-crl_check', '-CRLfile', crlFile, '-CAfile', caFile, file('gone.crt', revoked.pem)]);
    expect(gone.ok).toBe(false);
    expect(gone.out).toContain('certificate revoked');
    expect(openssl(['verify', '-crl_check', '-CRLfile', crlFile, '-CAfile', caFile, file('kept.crt', kept.pem)]).ok).toBe(true);
  });

  it('verifies when empty (no revokedCertificates field at all)', () => {
    const empty = file('empty.pem', crlPem(buildCrl({
      issuer: ca.issuerForCrl, crlNumber: 1n, entries: [], thisUpdate: new Date(now.getTime() - 60_000), nextUpdate: new Date(now.getTime() + 86_400_000),
    })));
    expect(openssl(['crl', '-in', empty, '-noout', '-verify', '-CAfile', caFile]).out).toContain('verify OK');
    expect(openssl(['crl', '-in', empty, '-noout', '-text']).out).toContain('No Revoked Certificates');
  });

  it('encodes a serial whose top bit is set as a positive integer', () => {
    const serialHex = 'FF00112233445566778899AABBCCDDEE';
    const pem = crlPem(buildCrl({
      issuer: ca.issuerForCrl, crlNumber: 2n ** 63n, entries: [{ serialHex, revokedAt: now, reason: 'superseded' }],
      thisUpdate: now, nextUpdate: new Date(now.getTime() + 1000),
    }));
    const text = openssl(['crl', '-in', file('high.pem', pem), '-noout', '-text']).out;
    expect(text).toContain(`Serial Number: ${serialHex}`);
    expect(text).toContain('Superseded');
  });
});
