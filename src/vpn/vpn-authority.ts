/** @module The VPN certificate authority kept by the server under `<dataDir>/vpn/`: CA, OpenVPN server certificate, tls-crypt key, CRL file; created on first use. */
import { X509Certificate, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileDurably } from '../durable-file.js';
import { AppError, errnoOf } from '../errors.js';
import { generateKeyPair, pemOf } from '../crypto/certificates.js';
import { fingerprint } from '../crypto/fingerprint.js';
import { generateTlsCryptKey, isTlsCryptKey } from './tls-crypt-key.js';
import { distinguishedName, issueCertificate, keyIdentifier, subjectNameDer, type Issuer } from './vpn-x509.js';

/** The OpenVPN server's certificate CN, checked by clients with `verify-x509-name`. '@' cannot occur in a serial, so no terminal certificate carries it. */
export const VPN_SERVER_NAME = 'vpn-server@pairing';
const ORGANIZATION = 'Terminal pairing server VPN';

const DAY_MS = 24 * 60 * 60 * 1000;
const CA_DAYS = 20 * 365;
const SERVER_DAYS = 10 * 365;
/** Terminals may stay switched off for months; revocation, not expiry, ends a terminal's VPN access. */
export const CLIENT_DAYS = 10 * 365;
/** Peers whose clocks lag still accept a fresh certificate. */
const BACKDATE_MS = 60 * 60 * 1000;

export const VPN_FILES = {
  caKey: 'ca.key', caCert: 'ca.crt', serverKey: 'server.key', serverCert: 'server.crt', tlsCrypt: 'tls-crypt.key', crl: 'crl.pem',
} as const;
const SECRET_FILES = new Set<string>([VPN_FILES.caKey, VPN_FILES.serverKey, VPN_FILES.tlsCrypt]);

export interface ClientCertificate {
  der: Buffer;
  pem: string;
  serialHex: string;
  notAfter: Date;
}

export class VpnAuthority {
  private constructor(
    readonly dir: string,
    private readonly issuer: Issuer,
    readonly caCertPem: string,
    readonly serverCertPem: string,
    readonly tlsCryptKey: string,
  ) {}

  static directory(dataDir: string): string {
    return path.join(dataDir, 'vpn');
  }

  static exists(dataDir: string): boolean {
    return fs.existsSync(VpnAuthority.directory(dataDir));
  }

  /** Loads the CA, creating the whole directory first if there is none. */
  static open(dataDir: string, now: Date): VpnAuthority {
    const dir = VpnAuthority.directory(dataDir);
    if (!fs.existsSync(dir)) create(dataDir, dir, now);
    return VpnAuthority.load(dir);
  }

  private static load(dir: string): VpnAuthority {
    const read = (name: string): string => {
      try {
        return fs.readFileSync(path.join(dir, name), 'utf8');
      } catch {
        throw new AppError('internal_error', `the VPN CA directory ${dir} is incomplete (${name}); restore it from a backup`);
      }
    };
    const caKey = createPrivateKey(read(VPN_FILES.caKey));
    const caCertPem = read(VPN_FILES.caCert);
    const caCert = new X509Certificate(caCertPem);
    if (!caCert.checkPrivateKey(caKey)) throw new AppError('internal_error', `${VPN_FILES.caKey} does not belong to ${VPN_FILES.caCert} in ${dir}`);
    const tlsCryptKey = read(VPN_FILES.tlsCrypt);
    if (!isTlsCryptKey(tlsCryptKey)) throw new AppError('internal_error', `${VPN_FILES.tlsCrypt} in ${dir} is not an OpenVPN static key`);
    const issuer: Issuer = { privateKey: caKey, nameDer: subjectNameDer(caCert.raw), keyId: keyIdentifier(caCert.publicKey) };
    return new VpnAuthority(dir, issuer, caCertPem, read(VPN_FILES.serverCert), tlsCryptKey);
  }

  /** SHA-256 of the CA certificate, for operators comparing what their OpenVPN server holds. */
  get caFingerprint(): string {
    return fingerprint(new X509Certificate(this.caCertPem).raw);
  }

  get issuerForCrl(): Issuer {
    return this.issuer;
  }

  /** Read when exported, never kept in memory longer than that. */
  serverKeyPem(): string {
    return fs.readFileSync(path.join(this.dir, VPN_FILES.serverKey), 'utf8');
  }

  /** A client certificate for a terminal's own public key: the terminal's private key never comes here. */
  issueClient(serial: string, publicKey: KeyObject, now: Date): ClientCertificate {
    const notAfter = new Date(now.getTime() + CLIENT_DAYS * DAY_MS);
    const { der, serialHex } = issueCertificate({
      issuer: this.issuer,
      subjectDer: distinguishedName([['O', ORGANIZATION], ['CN', serial]]),
      publicKey,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter,
      extensions: [
        { name: 'basicConstraints', critical: true, cA: false },
        { name: 'keyUsage', critical: true, digitalSignature: true },
        { name: 'extKeyUsage', clientAuth: true },
      ],
    });
    return { der, pem: pemOf(der, 'CERTIFICATE'), serialHex, notAfter };
  }

  hasCrlFile(): boolean {
    return fs.existsSync(path.join(this.dir, VPN_FILES.crl));
  }

  /** Replaces crl.pem atomically: an OpenVPN server reading it directly (`crl-verify`) never sees a torn file. */
  writeCrl(pem: string): void {
    writeFileDurably(path.join(this.dir, VPN_FILES.crl), pem, 0o644, { replace: true });
  }
}

function create(dataDir: string, dir: string, now: Date): void {
  // Everything is made in a private temp directory and renamed into place: a crash leaves no half CA.
  const temp = fs.mkdtempSync(path.join(dataDir, '.vpn-'));
  try {
    const ca = generateKeyPair('ec');
    const caKey = createPrivateKey(ca.privateKeyPem);
    const caPublic = createPublicKey(caKey);
    const caName = distinguishedName([['O', ORGANIZATION], ['CN', `VPN CA ${randomBytes(4).toString('hex')}`]]);
    const issuer: Issuer = { privateKey: caKey, nameDer: caName, keyId: keyIdentifier(caPublic) };
    const caCert = issueCertificate({
      issuer, subjectDer: caName, publicKey: caPublic,
      notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + CA_DAYS * DAY_MS),
      extensions: [
        { name: 'basicConstraints', critical: true, cA: true, pathLenConstraint: 0 },
        { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true },
      ],
    });
    const server = generateKeyPair('ec');
    const serverCert = issueCertificate({
      issuer, subjectDer: distinguishedName([['O', ORGANIZATION], ['CN', VPN_SERVER_NAME]]),
      publicKey: createPublicKey(server.privateKeyPem),
      notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + SERVER_DAYS * DAY_MS),
      extensions: [
        { name: 'basicConstraints', critical: true, cA: false },
        { name: 'keyUsage', critical: true, digitalSignature: true },
        { name: 'extKeyUsage', serverAuth: true },
      ],
    });
    const files: Record<string, string> = {
      [VPN_FILES.caKey]: ca.privateKeyPem,
      [VPN_FILES.caCert]: pemOf(caCert.der, 'CERTIFICATE'),
      [VPN_FILES.serverKey]: server.privateKeyPem,
      [VPN_FILES.serverCert]: pemOf(serverCert.der, 'CERTIFICATE'),
      [VPN_FILES.tlsCrypt]: generateTlsCryptKey(),
    };
    for (const [name, content] of Object.entries(files)) {
      // MUST be created with its final mode: a key never exists on disk readable by others, even briefly.
      fs.writeFileSync(path.join(temp, name), content, { mode: SECRET_FILES.has(name) ? 0o600 : 0o644, flag: 'wx' });
    }
    fs.chmodSync(temp, 0o700);
    fs.renameSync(temp, dir);
  } catch (error) {
    fs.rmSync(temp, { recursive: true, force: true });
    // Another process created it first: use theirs.
    if (errnoOf(error) === 'ENOTEMPTY' || errnoOf(error) === 'EEXIST') return;
    throw error;
  }
}
