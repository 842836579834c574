/**
 * @module The public key of a certificate the server already accepted (pinned, or seen at the gate), imported the
 * cheap way. OpenSSL 3 takes 150–300 µs to decode an X.509 or SPKI RSA key (its decoder tries every format), but
 * about 6 µs for the bare PKCS#1 key inside it (bench/signature-verify.bench.ts, "key import"). Master looks a key
 * up on every call of a terminal whose key is not cached on that thread, so this is on the hot path of a big fleet.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import type { KeyKind } from '../protocol/types.js';
import { MAX_CERTIFICATE_BYTES, MAX_RSA_BITS, MIN_RSA_BITS, parseCertificate } from './certificates.js';
import { fingerprint } from './fingerprint.js';

/**
 * What a verifier needs of a certificate, and nothing of its bytes: kept by each front thread's certificate cache, a
 * copy of them (a few hundred bytes, but a slice of Node's shared 8 KiB Buffer pool) held that pool's whole 8 KiB,
 * mostly other requests' garbage, for as long as the entry lived (bench/JOURNAL.md, session 39).
 */
export interface VerifyingKey {
  /** Lowercase hex SHA-256 of the certificate's DER. */
  tfp: string;
  keyKind: KeyKind;
  publicKey: KeyObject;
}

const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const P256 = '1.2.840.10045.3.1.7';
const ED25519 = '1.3.101.112';

const asn1 = forge.asn1;
/** forge's typings predate its options object; keep BIT STRINGs raw rather than guessing they hold DER. */
const fromDer = asn1.fromDer as unknown as (bytes: forge.util.ByteStringBuffer, options: { parseAllBytes: boolean; decodeBitStrings: boolean }) => forge.asn1.Asn1;

/**
 * The key of a stored certificate whose SHA-256 must be `tfp`, or null when the bytes are not that certificate.
 * Keys the fast path does not know are parsed the full way, so the answer never depends on which path ran.
 */
export function storedCertificateKey(certDer: Uint8Array, tfp: string): VerifyingKey | null {
  if (certDer.length === 0 || certDer.length > MAX_CERTIFICATE_BYTES) return null;
  // A view, read only within this call: nothing returned refers to the bytes.
  const der = Buffer.from(certDer.buffer, certDer.byteOffset, certDer.byteLength);
  // The fingerprint binds the bytes to the pin: whatever the store returned, only the pinned certificate verifies.
  const own = fingerprint(der);
  if (own !== tfp) return null;
  // `own`, equal to `tfp` but not a piece of a request's header (a substring can hold its whole parent string).
  const fast = importSubjectKey(der);
  if (fast) return { tfp: own, ...fast };
  const parsed = parseCertificate(der);
  return parsed.ok ? { tfp: own, keyKind: parsed.value.keyKind, publicKey: parsed.value.publicKey } : null;
}

/** The subjectPublicKeyInfo of a DER certificate, imported from its bare key; null for anything unexpected. */
function importSubjectKey(der: Buffer): { keyKind: KeyKind; publicKey: KeyObject } | null {
  try {
    const certificate = fromDer(forge.util.createBuffer(der.toString('binary')), { parseAllBytes: true, decodeBitStrings: false });
    const tbs = (certificate.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[];
    // TBSCertificate: [0] version (optional), serial, signature, issuer, validity, subject, subjectPublicKeyInfo.
    const first = tbs[0]!;
    const spki = tbs[first.tagClass === asn1.Class.CONTEXT_SPECIFIC ? 6 : 5]!.value as forge.asn1.Asn1[];
    const algorithm = spki[0]!.value as forge.asn1.Asn1[];
    const oid = asn1.derToOid(algorithm[0]!.value as string);
    const bits = spki[1]!.value as string;
    // A BIT STRING's first byte counts unused bits: a key is always whole bytes.
    if (spki[1]!.type !== asn1.Type.BITSTRING || bits.charCodeAt(0) !== 0) return null;
    const key = Buffer.from(bits.slice(1), 'binary');
    if (oid === RSA_ENCRYPTION) {
      const publicKey = createPublicKey({ key, format: 'der', type: 'pkcs1' });
      const size = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
      return size >= MIN_RSA_BITS && size <= MAX_RSA_BITS ? { keyKind: 'rsa', publicKey } : null;
    }
    if (oid === EC_PUBLIC_KEY && algorithm[1] && asn1.derToOid(algorithm[1].value as string) === P256) {
      if (key.length !== 65 || key[0] !== 0x04) return null;
      const jwk = { kty: 'EC', crv: 'P-256', x: key.subarray(1, 33).toString('base64url'), y: key.subarray(33).toString('base64url') };
      return { keyKind: 'ec', publicKey: createPublicKey({ key: jwk, format: 'jwk' }) };
    }
    if (oid === ED25519 && key.length === 32) {
      return { keyKind: 'ed25519', publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key.toString('base64url') }, format: 'jwk' }) };
    }
    return null;
  } catch {
    return null;
  }
}
