/** @module The VPN CA's certificate revocation list: an X.509 v2 CRL (RFC 5280 §5) built with node-forge ASN.1 and signed with node:crypto. */
import forge from 'node-forge';
import { algorithmIdentifier, pemOf, timeAsn1 } from '../crypto/certificates.js';
import { asn1Of, authorityKeyIdentifier, issuerKind, rawExtension, signTbs, type Issuer, type RawExtension } from './vpn-x509.js';

const asn1 = forge.asn1;
type Asn1 = forge.asn1.Asn1;

/** RFC 5280 §5.3.1 CRLReason values this server uses. */
export const REVOCATION_REASONS = { superseded: 4, cessationOfOperation: 5 } as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

export interface RevokedEntry {
  /** Hex, as stored; any case. */
  serialHex: string;
  revokedAt: Date;
  reason: RevocationReason;
}

export interface CrlSpec {
  issuer: Issuer;
  entries: readonly RevokedEntry[];
  thisUpdate: Date;
  nextUpdate: Date;
  /** Monotonically increasing (RFC 5280 §5.2.3). */
  crlNumber: bigint;
}

const OID = { crlNumber: '2.5.29.20', reasonCode: '2.5.29.21' } as const;

/** A non-negative INTEGER's minimal two's-complement bytes (forge's integerToDer stops at 32 bits). */
function unsignedInteger(value: bigint): Asn1 {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  // A set top bit would read as negative: prefix a zero byte.
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, forge.util.hexToBytes(hex));
}

function extensionAsn1(ext: RawExtension): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(ext.id).getBytes()),
    ...(ext.critical ? [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BOOLEAN, false, '\u00ff')] : []),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, asn1.toDer(ext.value).getBytes()),
  ]);
}

function revokedAsn1(entry: RevokedEntry): Asn1 {
  const reason = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.ENUMERATED, false, String.fromCharCode(REVOCATION_REASONS[entry.reason]));
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    unsignedInteger(BigInt(`0x${entry.serialHex}`)),
    timeAsn1(entry.revokedAt),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      extensionAsn1({ id: OID.reasonCode, critical: false, value: reason }),
    ]),
  ]);
}

/** DER of a signed v2 CRL. An empty list omits `revokedCertificates`, as RFC 5280 requires. */
export function buildCrl(spec: CrlSpec): Buffer {
  const aki = authorityKeyIdentifier(spec.issuer.keyId);
  const crlNumber = rawExtension(OID.crlNumber, unsignedInteger(spec.crlNumber));
  const tbs = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(1).getBytes()), // v2
    algorithmIdentifier(issuerKind(spec.issuer.privateKey)),
    asn1Of(spec.issuer.nameDer),
    timeAsn1(spec.thisUpdate),
    timeAsn1(spec.nextUpdate),
    ...(spec.entries.length > 0 ? [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, spec.entries.map(revokedAsn1))] : []),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [extensionAsn1(aki), extensionAsn1(crlNumber)]),
    ]),
  ]);
  return signTbs(tbs, spec.issuer.privateKey);
}

export const crlPem = (der: Uint8Array): string => pemOf(der, 'X509 CRL');
