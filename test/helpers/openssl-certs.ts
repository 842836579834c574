/** @module Certificates made by the openssl CLI for hostile-input tests: any key type, any validity dates, any (even fake) public key. */
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './server-process.js';

export interface OpensslIdentity {
  der: Buffer;
  keyPem: string;
}

/** A minimal `openssl ca` setup: the only openssl 3.0 command that sets arbitrary notBefore/notAfter dates. */
const CA_CONFIG = `[ca]
default_ca = d
[d]
database = ./index.txt
new_certs_dir = .
rand_serial = yes
default_md = sha256
policy = p
unique_subject = no
email_in_dn = no
[p]
commonName = optional
`;

export class OpensslCerts {
  readonly dir = tempDir('openssl-certs');
  private n = 0;

  constructor() {
    fs.writeFileSync(path.join(this.dir, 'ca.cnf'), CA_CONFIG);
    fs.writeFileSync(path.join(this.dir, 'index.txt'), '');
  }

  private run(args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: 'pipe' });
  }

  private file(ext: string): string {
    return path.join(this.dir, `f${++this.n}.${ext}`);
  }

  /** A private key: `genpkey` arguments (e.g. `['-algorithm', 'ed448']`), or `dsa` (node makes DSA keys without a slow parameter step). */
  key(spec: string[] | 'dsa'): string {
    const out = this.file('key');
    if (spec === 'dsa') {
      const { privateKey } = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
      fs.writeFileSync(out, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    } else {
      this.run(['genpkey', ...spec, '-out', out]);
    }
    return out;
  }

  /** Self-signed; `subject` like `/CN=ATM-1`; dates as `YYYYMMDDHHMMSSZ` (both or neither). */
  selfSigned(keyFile: string, subject: string, dates?: { start: string; end: string }): OpensslIdentity {
    const out = this.file('der');
    if (dates) {
      const csr = this.file('csr');
      const pem = this.file('pem');
      this.run(['req', '-new', '-key', keyFile, '-subj', subject, '-out', csr]);
      this.run(['ca', '-selfsign', '-config', 'ca.cnf', '-batch', '-notext', '-keyfile', keyFile, '-in', csr, '-startdate', dates.start, '-enddate', dates.end, '-out', pem]);
      this.run(['x509', '-in', pem, '-outform', 'DER', '-out', out]);
    } else {
      this.run(['req', '-x509', '-key', keyFile, '-subj', subject, '-days', '30', '-outform', 'DER', '-out', out]);
    }
    return { der: fs.readFileSync(out), keyPem: fs.readFileSync(keyFile, 'utf8') };
  }

  /**
   * A certificate carrying `publicKeyPem` (which need not be a usable key: an RSA modulus of random bits is enough
   * to test size limits without minutes of key generation), issued by a throwaway P-256 key.
   */
  withPublicKey(publicKeyPem: string, subject: string): Buffer {
    const issuerKey = this.key(['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    const issuer = this.file('pem');
    this.run(['req', '-x509', '-key', issuerKey, '-subj', '/CN=issuer', '-days', '30', '-out', issuer]);
    const pub = this.file('pub');
    fs.writeFileSync(pub, publicKeyPem);
    const csr = this.file('csr');
    this.run(['req', '-new', '-key', issuerKey, '-subj', subject, '-out', csr]);
    const out = this.file('der');
    this.run(['x509', '-req', '-in', csr, '-CA', issuer, '-CAkey', issuerKey, '-force_pubkey', pub, '-days', '30', '-outform', 'DER', '-out', out]);
    return fs.readFileSync(out);
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** An RSA public key with a random odd modulus of exactly `bits` bits (not a product of two primes: never used to verify). */
export function fakeRsaPublicKeyPem(bits: number): string {
  const n = randomBytes(Math.ceil(bits / 8));
  const spare = n.length * 8 - bits;
  n[0] = (n[0]! & (0xff >> spare)) | (0x80 >> spare);
  n[n.length - 1] = n[n.length - 1]! | 1;
  return createPublicKey({ key: { kty: 'RSA', n: n.toString('base64url'), e: 'AQAB' }, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
}
