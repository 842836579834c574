/** @module CA-signed X.509 certificates for the VPN: names, key identifiers and a TBSCertificate signed by an issuer key (node-forge ASN.1, node:crypto signing). */
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { algorithmIdentifier, extensionsToAsn1, keyKindOf, randomSerialBytes, timeAsn1 } from '../crypto/certificates.js';
import type { KeyKind } from '../protocol/types.js';

const asn1 = forge.asn1;
type Asn1 = forge.asn1.Asn1;

const OID = {
  organization: '2.5.4.10',
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
} as const;

/** The issuing side: its private key, its subject Name (DER) and its key identifier. */
export interface Issuer {
  privateKey: KeyObject;
  nameDer: Buffer;
  keyId: Buffer;
}

export interface CertificateSpec {
  issuer: Issuer;
  /** DER of the subject Name; equal to `issuer.nameDer` for the self-signed CA. */
  subjectDer: Buffer;
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** forge extension descriptions; subject and authority key identifiers are added here. */
  extensions: readonly object[];
}

export interface IssuedCertificate {
  der: Buffer;
  /** Upper-case hex without separators, as `openssl x509 -noout -serial` prints it. */
  serialHex: string;
}

const fromDer = (der: Uint8Array): Asn1 => asn1.fromDer(forge.util.createBuffer(Buffer.from(der).toString('binary')));
const toDer = (node: Asn1): Buffer => Buffer.from(asn1.toDer(node).getBytes(), 'binary');

/** A Name of one RDN per attribute, each a UTF8String: `[['O', …], ['CN', …]]` in that order. */
export function distinguishedName(attributes: ReadonlyArray<readonly ['O' | 'CN', string]>): Buffer {
  const rdns = attributes.map(([type, value]) =>
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(type === 'O' ? OID.organization : OID.commonName).getBytes()),
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forge.util.encodeUtf8(value)),
      ]),
    ]),
  );
  return toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, rdns));
}

/** The subject Name of a certificate, byte for byte: certificates it issues MUST carry exactly these bytes as issuer. */
export function subjectNameDer(certDer: Uint8Array): Buffer {
  const tbs = fromDer(certDer).value[0] as Asn1;
  const fields = tbs.value as Asn1[];
  // tbsCertificate: [0] version (v3 here), serial, signature, issuer, validity, subject, …
  const offset = fields[0]?.tagClass === asn1.Class.CONTEXT_SPECIFIC ? 1 : 0;
  return toDer(fields[offset + 4]!);
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bytes. */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = fromDer(publicKey.export({ type: 'spki', format: 'der' }));
  const bits = (spki.value as Asn1[])[1]!.value as string;
  // The first byte of a BIT STRING's contents counts its unused bits; it is not part of the key.
  return createHash('sha1').update(Buffer.from(bits, 'binary').subarray(1)).digest();
}

/** An extension with its value already built, in forge's `{ id, critical, value }` shape. */
export interface RawExtension {
  id: string;
  critical: boolean;
  value: Asn1;
}

export function rawExtension(id: string, value: Asn1, critical = false): RawExtension {
  return { id, critical, value };
}

export function authorityKeyIdentifier(keyId: Buffer): RawExtension {
  return rawExtension(OID.authorityKeyIdentifier, asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, keyId.toString('binary')),
  ]));
}

/** Builds and signs one certificate. The signature kind follows the issuer's key; the subject key may be RSA, P-256 or Ed25519. */
export function issueCertificate(spec: CertificateSpec): IssuedCertificate {
  const kind = issuerKind(spec.issuer.privateKey);
  const serial = randomSerialBytes();
  const extensions = [
    ...spec.extensions,
    rawExtension(OID.subjectKeyIdentifier, asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, keyIdentifier(spec.publicKey).toString('binary'))),
    authorityKeyIdentifier(spec.issuer.keyId),
  ];
  const tbs = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(2).getBytes()), // v3
    ]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, serial),
    algorithmIdentifier(kind),
    fromDer(spec.issuer.nameDer),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [timeAsn1(spec.notBefore), timeAsn1(spec.notAfter)]),
    fromDer(spec.subjectDer),
    fromDer(spec.publicKey.export({ type: 'spki', format: 'der' })),
    extensionsToAsn1(extensions),
  ]);
  return { der: signTbs(tbs, spec.issuer.privateKey), serialHex: Buffer.from(serial, 'binary').toString('hex').toUpperCase() };
}

/** Signs a TBS structure (a certificate's or a CRL's) and wraps it with the algorithm and the signature. */
export function signTbs(tbs: Asn1, issuerKey: KeyObject): Buffer {
  const kind = issuerKind(issuerKey);
  // X.509 wants ECDSA signatures DER-encoded (node's default), not the raw r||s of RFC 9421.
  const signature = sign(kind === 'ed25519' ? null : 'sha256', toDer(tbs), issuerKey);
  return toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    algorithmIdentifier(kind),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, '\u0000' + signature.toString('binary')),
  ]));
}

/** The AlgorithmIdentifier kind of an issuer key; the TBS MUST name the same algorithm as the outer signature. */
export function issuerKind(issuerKey: KeyObject): KeyKind {
  const kind = keyKindOf(createPublicKey(issuerKey));
  if (kind === null) throw new TypeError('unsupported issuer key type');
  return kind;
}

export const asn1Of = fromDer;
