/** @module The terminal's restore point: key, certificate and state sealed with a passphrase, and the checks a restore makes before trusting one. */
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { AppError } from '../errors.js';
import { parseCertificate } from '../crypto/certificates.js';
import { openWithPassphrase, sealWithPassphrase } from '../crypto/secret-box.js';
import { isStoredState, type StoredState } from './state-dir.js';

const FORMAT = 'terminal-restore-point';
export const MIN_PASSPHRASE_LENGTH = 8;

export interface RestorePoint {
  privateKeyPem: string;
  certPem: string;
  state: StoredState;
}

function checkPassphrase(passphrase: string): void {
  if (typeof passphrase !== 'string' || passphrase.length < MIN_PASSPHRASE_LENGTH) {
    throw new AppError('invalid_field', `the passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters`);
  }
}

/** The private key leaves the directory only inside this sealed box (PROTOCOL.md "Terminal identity"). */
export async function sealRestorePoint(point: RestorePoint, passphrase: string): Promise<Buffer> {
  checkPassphrase(passphrase);
  const plain = Buffer.from(JSON.stringify({ format: FORMAT, version: 1, createdAt: new Date().toISOString(), ...point }), 'utf8');
  try {
    return await sealWithPassphrase(plain, passphrase);
  } finally {
    plain.fill(0); // the key's PEM was in it
  }
}

const damaged = (why: string) => new AppError('invalid_field', `not a usable terminal restore point: ${why}`);

/** Opens and checks a restore point: the key must belong to the certificate, whose CN and fingerprint must match the state. */
export async function openRestorePoint(sealed: Buffer, passphrase: string): Promise<RestorePoint> {
  checkPassphrase(passphrase);
  const opened = await openWithPassphrase(sealed, passphrase);
  if (!opened.ok) throw new AppError(opened.code, opened.message);
  let parsed: unknown;
  try {
    parsed = JSON.parse(opened.value.toString('utf8'));
  } catch {
    throw damaged('its content is not JSON');
  } finally {
    opened.value.fill(0);
  }
  const p = parsed as Partial<RestorePoint> & { format?: unknown; version?: unknown };
  if (p.format !== FORMAT || p.version !== 1) throw damaged('unknown format');
  if (typeof p.privateKeyPem !== 'string' || typeof p.certPem !== 'string' || !isStoredState(p.state)) {
    throw damaged('key, certificate or state is missing');
  }
  const state: StoredState = { ...p.state, pairing: p.state.pairing ?? null };

  let der: Buffer;
  let keySpki: Buffer;
  try {
    der = new X509Certificate(p.certPem).raw;
    keySpki = createPublicKey(createPrivateKey(p.privateKeyPem)).export({ type: 'spki', format: 'der' });
  } catch {
    throw damaged('the key or certificate does not parse');
  }
  const cert = parseCertificate(der);
  if (!cert.ok) throw damaged(cert.message);
  const certSpki = cert.value.publicKey.export({ type: 'spki', format: 'der' });
  if (!certSpki.equals(keySpki)) throw damaged('the private key does not belong to the certificate');
  if (cert.value.tfp !== state.tfp || cert.value.commonName !== state.serial || cert.value.keyKind !== state.keyKind) {
    throw damaged('the certificate does not match the saved state');
  }
  return { privateKeyPem: p.privateKeyPem, certPem: p.certPem, state };
}
