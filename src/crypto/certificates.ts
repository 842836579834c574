/** @module Terminal and server identities: key generation, self-signed X.509 certificates (node-forge ASN.1, native signing) and certificate parsing. */
import {
  X509Certificate,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign as signNative,
  type KeyObject,
} from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { fail, ok, type Result } from '../errors.js';
import type { KeyKind, SignatureAlgorithm } from '../protocol/types.js';
import { fingerprint } from './fingerprint.js';

export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
}

export interface SelfSignedOptions {
  privateKeyPem: string;
  commonName: string;
  /** Validity in days from now (default 3650); never checked by the server, see PROTOCOL.md. */
  days?: number;
  /** DNS names or IP addresses for subjectAltName. */
  altNames?: string[];
}

export interface ParsedCertificate {
  der: Buffer;
  /** Lowercase hex SHA-256 of `der`. */
  tfp: string;
  commonName: string | null;
  keyKind: KeyKind;
  rsaBits: number | null;
  publicKey: KeyObject;
}

export const MAX_CERTIFICATE_BYTES = 16 * 1024;
export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 4096;

const ALGORITHMS: Readonly<Record<KeyKind, readonly SignatureAlgorithm[]>> = {
  rsa: ['rsa-v1_5-sha256', 'rsa-pss-sha512'],
  ec: ['ecdsa-p256-sha256'],
  ed25519: ['ed25519'],
};

/** The RFC 9421 algorithms a key of this kind may sign with; callers check `alg` against this. */
export function algorithmsFor(kind: KeyKind): readonly SignatureAlgorithm[] {
  return ALGORITHMS[kind];
}

export function defaultAlgorithm(kind: KeyKind): SignatureAlgorithm {
  return kind === 'rsa' ? 'rsa-pss-sha512' : ALGORITHMS[kind][0]!;
}

/** The protocol's key kind for a key object, or null for anything it does not support (DSA, other curves, X25519, RSA-PSS-only keys). */
export function keyKindOf(key: KeyObject): KeyKind | null {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'rsa';
    case 'ec':
      return key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'ec' : null;
    case 'ed25519':
      return 'ed25519';
    default:
      return null;
  }
}

/** A fresh key pair as PKCS#8 / SPKI PEM. RSA defaults to 2048 bits; EC is P-256. */
export function generateKeyPair(kind: KeyKind, rsaBits = 2048): KeyPairPem {
  const { privateKey, publicKey } =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: rsaBits })
      : kind === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** SPKI PEM of the public half of a private key. */
export function publicKeyOfPrivate(privateKeyPem: string): string {
  return createPublicKey(createPrivateKey(privateKeyPem)).export({ type: 'spki', format: 'pem' }).toString();
}

// forge's x509 builder only takes RSA keys, so the TBSCertificate is assembled here; its extension encoder is untyped.
const pki = forge.pki as typeof forge.pki & {
  certificateExtensionsToAsn1(extensions: unknown[]): forge.asn1.Asn1;
};
const asn1 = forge.asn1;

/** OIDs of the outer signature algorithm, one per key kind (RFC 4055 / RFC 5758 / RFC 8410). */
const SIGNATURE_OID: Readonly<Record<KeyKind, string>> = {
  rsa: '1.2.840.113549.1.1.11', // sha256WithRSAEncryption
  ec: '1.2.840.10045.4.3.2', // ecdsa-with-SHA256
  ed25519: '1.3.101.112', // Ed25519
};

/** The AlgorithmIdentifier of a signature made by a key of this kind (also used by src/vpn/ for CA-signed certificates and CRLs). */
export function algorithmIdentifier(kind: KeyKind): forge.asn1.Asn1 {
  const oid = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(SIGNATURE_OID[kind]).getBytes());
  // RSA's AlgorithmIdentifier carries an explicit NULL; ECDSA and Ed25519 MUST have no parameters.
  const params = kind === 'rsa' ? [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')] : [];
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [oid, ...params]);
}

export function timeAsn1(date: Date): forge.asn1.Asn1 {
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 on.
  return date.getUTCFullYear() < 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

/** 16 random bytes as a positive, minimally encoded DER INTEGER body (a binary string, forge's byte type). */
export function randomSerialBytes(): string {
  const serial = randomBytes(16);
  // Positive (top bit clear) and minimal DER (first byte non-zero).
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return serial.toString('binary');
}

/** DER-encodes forge extension descriptions (`{ name, critical?, … }`, or `{ id, value }` with a ready value) as the TBSCertificate's [3] field. */
export function extensionsToAsn1(extensions: readonly object[]): forge.asn1.Asn1 {
  // forge fills in each extension's DER value; a throwaway certificate object is its only entry point.
  const scratch = pki.createCertificate();
  scratch.setExtensions([...extensions]);
  return pki.certificateExtensionsToAsn1(scratch.extensions as unknown[]);
}

/** PEM armour for DER bytes, 64 characters a line. */
export function pemOf(der: Uint8Array, label: string): string {
  const base64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${base64}-----END ${label}-----\n`;
}

function extensionsFor(kind: KeyKind, altNames: readonly string[]): unknown[] {
  const extensions: unknown[] = [
    { name: 'basicConstraints', critical: true, cA: false },
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: kind === 'rsa' },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
  ];
  if (altNames.length > 0) {
    extensions.push({
      name: 'subjectAltName',
      altNames: altNames.map((name) => (isIP(name) ? { type: 7, ip: name } : { type: 2, value: name })),
    });
  }
  // forge fills in each extension's DER value; a throwaway certificate object is its only entry point.
  const scratch = pki.createCertificate();
  scratch.setExtensions(extensions);
  return scratch.extensions as unknown[];
}

/**
 * A self-signed X.509 v3 certificate for an RSA, ECDSA P-256 or Ed25519 key.
 * node-forge builds the ASN.1 (its x509 signer only knows RSA), node:crypto signs.
 */
export function createSelfSignedCertificate(opts: SelfSignedOptions): { certPem: string; der: Buffer } {
  const privateKey = createPrivateKey(opts.privateKeyPem);
  const publicKey = createPublicKey(privateKey);
  const kind = keyKindOf(publicKey);
  if (kind === null) throw new TypeError('unsupported key type for a certificate');

  const now = Date.now();
  const notBefore = new Date(now - 60 * 60 * 1000); // an hour back, for peers whose clocks lag
  const notAfter = new Date(now + (opts.days ?? 3650) * 24 * 60 * 60 * 1000);
  const name = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer('2.5.4.3').getBytes()),
        // UTF8String: serials may hold characters PrintableString cannot ('_', '@', non-ASCII).
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forge.util.encodeUtf8(opts.commonName)),
      ]),
    ]),
  ]);
  const spkiDer = publicKey.export({ type: 'spki', format: 'der' });

  const tbs = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(2).getBytes()), // v3
    ]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, randomSerialBytes()),
    algorithmIdentifier(kind),
    name, // issuer = subject: self-signed
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [timeAsn1(notBefore), timeAsn1(notAfter)]),
    name,
    asn1.fromDer(forge.util.createBuffer(spkiDer.toString('binary'))),
    pki.certificateExtensionsToAsn1(extensionsFor(kind, opts.altNames ?? [])),
  ]);
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), 'binary');

  // X.509 wants ECDSA signatures DER-encoded (node's default), not the raw r||s that RFC 9421 uses.
  const signature = signNative(kind === 'ed25519' ? null : 'sha256', tbsDer, privateKey);
  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    algorithmIdentifier(kind),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, '\u0000' + signature.toString('binary')),
  ]);
  const der = Buffer.from(asn1.toDer(certificate).getBytes(), 'binary');
  const base64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return { certPem: `-----BEGIN CERTIFICATE-----\n${base64}-----END CERTIFICATE-----\n`, der };
}

/**
 * Parses a terminal or server certificate from DER and checks that its key is one the
 * protocol supports. Validity dates are deliberately not checked (PROTOCOL.md: the pin is the trust).
 */
export function parseCertificate(der: Uint8Array): Result<ParsedCertificate> {
  if (!(der instanceof Uint8Array) || der.length === 0) return fail('bad_certificate', 'certificate is empty');
  if (der.length > MAX_CERTIFICATE_BYTES) return fail('bad_certificate', 'certificate is too large');
  // MUST be DER: X509Certificate would also take PEM text, and the fingerprint is over DER bytes.
  if (der[0] !== 0x30) return fail('bad_certificate', 'certificate is not DER');
  const bytes = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  let x509: X509Certificate;
  let publicKey: KeyObject;
  try {
    x509 = new X509Certificate(bytes);
    publicKey = x509.publicKey;
  } catch {
    return fail('bad_certificate', 'certificate is not valid X.509');
  }
  // OpenSSL ignores bytes after the certificate; two encodings of one certificate MUST NOT have two fingerprints.
  if (!x509.raw.equals(bytes)) return fail('bad_certificate', 'certificate has trailing or non-canonical bytes');

  const keyKind = keyKindOf(publicKey);
  if (keyKind === null) return fail('bad_certificate', 'certificate key type is not supported');
  let rsaBits: number | null = null;
  if (keyKind === 'rsa') {
    rsaBits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (rsaBits < MIN_RSA_BITS || rsaBits > MAX_RSA_BITS) return fail('bad_certificate', 'RSA key size is not supported');
  }

  const copy = Buffer.from(bytes); // detached from the caller's buffer, which may be reused
  return ok({ der: copy, tfp: fingerprint(copy), commonName: commonNameOf(x509), keyKind, rsaBits, publicKey });
}

function commonNameOf(x509: X509Certificate): string | null {
  // The legacy object holds the decoded attribute values; x509.subject is an escaped display string.
  const cn: unknown = x509.toLegacyObject().subject?.CN;
  return typeof cn === 'string' ? cn : null;
}
