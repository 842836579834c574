/** @module RFC 9421 HTTP Message Signatures as profiled by PROTOCOL.md: parsing, the signature base, verifying, and signing terminal requests. */
import { constants, createPrivateKey, createVerify, randomBytes, sign as signNative, verify as verifyNative, type KeyObject } from 'node:crypto';
import {
  isInnerList,
  parseDictionary,
  serializeDictionary,
  serializeInnerList,
  type BareItem,
  type Dictionary,
  type InnerList,
  type Item,
} from 'structured-headers';
import { fail, ok, type Result } from '../errors.js';
import { byteSequenceOf, canonicalBytesMember, canonicalInnerListMember } from './canonical-fields.js';
import { SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from '../protocol/types.js';
import { contentDigest } from './content-digest.js';
import { normalizeFingerprint } from './fingerprint.js';
import { signatureBase } from './signature-base.js';

export { signatureBase } from './signature-base.js';

/** What the verifier needs from an incoming request; the net layer fills it before any await. */
export interface RequestParts {
  /** The method as sent (e.g. `POST`); upper-cased in the base, see `componentValue`. */
  method: string;
  /** Absolute path as sent, without the query. */
  path: string;
  /** Raw query string without the leading '?'; '' when there is none. */
  query: string;
  /** A header's value by lowercase name; undefined when absent. */
  header(name: string): string | undefined;
  /** True when the request has a non-empty body (then `content-digest` must be covered). */
  hasBody: boolean;
}

export interface SignatureParams {
  created: number;
  expires: number | null;
  nonce: string;
  /** The TFP, normalized to lowercase hex. */
  keyid: string;
  alg: SignatureAlgorithm;
}

export interface ParsedSignature {
  label: string;
  components: string[];
  params: SignatureParams;
  signature: Buffer;
  /** The serialized inner list with its parameters, exactly as it appears in the `@signature-params` line. */
  signatureParams: string;
}

/** Bounds on attacker-controlled input: parser work and base size stay small. */
export const MAX_SIGNATURE_HEADER_LENGTH = 4096;
export const MAX_COVERED_COMPONENTS = 32;
const MAX_SIGNATURE_BYTES = 1024; // RSA-4096 is 512
const MIN_NONCE_BYTES = 16;
/**
 * A nonce is kept in the store's keys for the whole replay window: bounded well below lmdb's key limit (1,978 bytes),
 * which a longer one once broke, together with every key written in the same batch.
 */
const MAX_NONCE_BYTES = 64;
const MAX_NONCE_CHARS = Math.ceil(MAX_NONCE_BYTES / 3) * 4;

const DERIVED = new Set(['@method', '@target-uri', '@authority', '@scheme', '@request-target', '@path', '@query']);
/** RFC 9110 token characters, lowercase only: covered field names MUST be lowercase (RFC 9421 §2.1). */
const FIELD_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

const bad = (message: string) => fail<never>('bad_signature_input', message);

function nonceBytes(nonce: string): number {
  // Longer than any nonce needs: refused before a pattern runs on it.
  if (nonce.length > MAX_NONCE_CHARS) return Number.POSITIVE_INFINITY;
  // Exact for the valid base64 the pattern admits, and it decodes nothing.
  if (BASE64.test(nonce)) return Buffer.byteLength(nonce, 'base64');
  if (BASE64URL.test(nonce)) return Buffer.from(nonce, 'base64url').length;
  return 0;
}

/** Bounds every header the parser reads. */
function checkLength(header: string | undefined, name: string): Result<string> {
  if (header === undefined || header.length === 0) return bad(`${name} is missing`);
  if (header.length > MAX_SIGNATURE_HEADER_LENGTH) return bad(`${name} is too long`);
  return ok(header);
}

/** The one member of a dictionary header, read by structured-headers. */
function libraryMember(header: string, name: string): Result<[string, Item | InnerList]> {
  let dictionary: Dictionary;
  try {
    dictionary = parseDictionary(header);
  } catch {
    return bad(`${name} is not a structured-field dictionary`);
  }
  // PROTOCOL.md: a request carries exactly one signature.
  if (dictionary.size !== 1) return bad(`${name} must hold exactly one signature`);
  return ok(dictionary.entries().next().value!);
}

interface InputMember {
  label: string;
  value: Item | InnerList;
  /** The value's serialization when it arrived canonical, so it need not be serialized again. */
  serialized: string | null;
}

function parseInput(header: string | undefined): Result<InputMember> {
  const checked = checkLength(header, 'Signature-Input');
  if (!checked.ok) return checked;
  const fast = canonicalInnerListMember(checked.value);
  if (fast) return ok(fast);
  const member = libraryMember(checked.value, 'Signature-Input');
  return member.ok ? ok({ label: member.value[0], value: member.value[1], serialized: null }) : member;
}

function parseSignatureBytes(header: string | undefined): Result<{ label: string; bytes: Buffer }> {
  const checked = checkLength(header, 'Signature');
  if (!checked.ok) return checked;
  const fast = canonicalBytesMember(checked.value);
  if (fast) return ok(fast);
  const member = libraryMember(checked.value, 'Signature');
  if (!member.ok) return member;
  const [label, item] = member.value;
  const bytes = byteSequenceOf(item);
  return bytes ? ok({ label, bytes }) : bad('Signature member is not a byte sequence');
}

function parseComponents(list: InnerList, parts: RequestParts): Result<string[]> {
  const items = list[0];
  if (items.length > MAX_COVERED_COMPONENTS) return bad('too many covered components');
  const components: string[] = [];
  for (const [value, params] of items) {
    if (typeof value !== 'string') return bad('a covered component is not a string');
    // Component parameters (sf, key, bs, req, name) are not part of the profile.
    if (params.size > 0) return bad('component parameters are not supported');
    if (components.includes(value)) return bad('a covered component is repeated');
    if (value.startsWith('@')) {
      if (!DERIVED.has(value)) return bad('unsupported derived component');
    } else {
      if (!FIELD_NAME.test(value)) return bad('covered field names must be lowercase tokens');
      if (parts.header(value) === undefined) return bad('a covered header is absent from the request');
    }
    components.push(value);
  }
  const required = ['@method', '@path', 'x-terminal-serial'];
  if (parts.hasBody) required.push('content-digest');
  if (parts.query !== '') required.push('@query');
  for (const name of required) {
    if (!components.includes(name)) return bad(`required component ${name} is not covered`);
  }
  return ok(components);
}

function parseParams(params: Map<string, BareItem>): Result<SignatureParams> {
  const created = params.get('created');
  const expires = params.get('expires');
  const nonce = params.get('nonce');
  const keyid = params.get('keyid');
  const alg = params.get('alg');
  if (typeof created !== 'number' || !Number.isSafeInteger(created)) return bad('created must be an integer');
  if (expires !== undefined && (typeof expires !== 'number' || !Number.isSafeInteger(expires))) {
    return bad('expires must be an integer');
  }
  const bytes = typeof nonce === 'string' ? nonceBytes(nonce) : 0;
  if (bytes < MIN_NONCE_BYTES || bytes > MAX_NONCE_BYTES) return bad(`nonce must be base64 of ${MIN_NONCE_BYTES} to ${MAX_NONCE_BYTES} bytes`);
  const tfp = typeof keyid === 'string' ? normalizeFingerprint(keyid) : null;
  if (tfp === null) return bad('keyid must be a certificate fingerprint');
  // Required (DECISIONS, Authentication): the profile names four algorithms and the key's type must match the one sent.
  if (alg === undefined) return bad(`alg is missing: one of ${SIGNATURE_ALGORITHMS.join(', ')}`);
  if (typeof alg !== 'string' || !(SIGNATURE_ALGORITHMS as readonly string[]).includes(alg)) return bad('alg is not supported');
  return ok({ created, expires: expires ?? null, nonce, keyid: tfp, alg: alg as SignatureAlgorithm });
}

/** Parses Signature-Input and Signature and checks them against the profile; no cryptography yet. */
export function parseSignature(
  signatureInput: string | undefined,
  signature: string | undefined,
  parts: RequestParts,
): Result<ParsedSignature> {
  const input = parseInput(signatureInput);
  if (!input.ok) return input;
  const sig = parseSignatureBytes(signature);
  if (!sig.ok) return sig;
  const { label, value: list } = input.value;
  if (sig.value.label !== label) return bad('Signature and Signature-Input labels differ');
  if (!isInnerList(list)) return bad('Signature-Input member is not an inner list');
  const bytes = sig.value.bytes;
  if (bytes.length === 0 || bytes.length > MAX_SIGNATURE_BYTES) return bad('signature has an impossible length');

  const components = parseComponents(list, parts);
  if (!components.ok) return components;
  const params = parseParams(list[1]);
  if (!params.ok) return params;
  // RFC 9421 §3.2: the verifier rebuilds the line from the parsed value, so whitespace the sender chose cannot matter.
  const signatureParams = input.value.serialized ?? serializeInnerList(list);
  return ok({ label, components: components.value, params: params.value, signature: bytes, signatureParams });
}

/**
 * Verifies `signature` over `base`; false for any mismatch or garbage (never throws).
 *
 * createVerify rather than the one-shot crypto.verify where the algorithm has a digest: the one-shot copies its data
 * and signature into a job of their own, and costs 1-2.5 µs more per call on Node 20 (RSA-2048 PKCS#1 v1.5 21.5
 * against 23.1 µs, PSS 24.8 against 25.9, P-256 71.8 against 74.2; interleaved rounds on the Intel host).
 */
export function verifySignature(publicKey: KeyObject, alg: SignatureAlgorithm, base: string, signature: Buffer): boolean {
  try {
    switch (alg) {
      case 'rsa-v1_5-sha256':
        return createVerify('sha256').update(base, 'utf8').verify({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
      case 'rsa-pss-sha512':
        // RFC 8017 §8.1.2: a signature that is not exactly k octets is invalid. OpenSSL's PSS path reads a shorter one
        // as an integer with leading zeros, so a signature starting with 0x00 (1 in 256) verified without that byte.
        if (signature.length !== rsaOctets(publicKey)) return false;
        // RFC 9421 §3.3.1 signs with a 64-byte salt; any salt length is accepted on verify because common
        // RFC 9421 libraries (npm http-message-signatures) sign with the maximum, and PSS stays secure either way.
        return createVerify('sha512').update(base, 'utf8').verify(
          { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
          signature,
        );
      case 'ecdsa-p256-sha256':
        if (signature.length !== 64) return false;
        return createVerify('sha256').update(base, 'utf8').verify({ key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
      case 'ed25519':
        // Ed25519 hashes inside the algorithm: only the one-shot API takes it.
        return verifyNative(null, Buffer.from(base, 'utf8'), publicKey, signature);
      default:
        return false;
    }
  } catch {
    return false;
  }
}

/** k, the length in octets of an RSA key's modulus; 0 for any other key. Node caches the key's details: a field read. */
function rsaOctets(key: KeyObject): number {
  return Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
}

/** `created` within ±skew of now, and `expires` (when given) not yet past. */
export function isFresh(params: { created: number; expires: number | null }, nowSec: number, skewSec: number): boolean {
  if (Math.abs(nowSec - params.created) > skewSec) return false;
  return params.expires === null || params.expires >= nowSec;
}

export interface SignRequestOptions {
  method: string;
  path: string;
  query?: string;
  body?: Uint8Array;
  serial: string;
  privateKeyPem: string;
  alg: SignatureAlgorithm;
  /** The terminal's TFP (lowercase hex). */
  keyid: string;
  label?: string;
  created?: number;
  nonce?: string;
  /** More headers to send, each also covered by the signature (e.g. `X-Terminal-Certificate`). */
  extraHeaders?: Record<string, string>;
}

/** Signs a signature base with `alg`; pass a parsed KeyObject when signing many times (parsing the PEM costs more than an RSA signature). */
export function signSignatureBase(alg: SignatureAlgorithm, privateKey: KeyObject | string, base: string): Buffer {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  const data = Buffer.from(base, 'utf8');
  switch (alg) {
    case 'rsa-v1_5-sha256':
      return signNative('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING });
    case 'rsa-pss-sha512':
      return signNative('sha512', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 });
    case 'ecdsa-p256-sha256':
      return signNative('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
    case 'ed25519':
      return signNative(null, data, key);
  }
}

/** Terminal side: the headers that sign a request (Signature-Input, Signature, X-Terminal-Serial, Content-Digest, extras). */
export function signRequest(opts: SignRequestOptions): Record<string, string> {
  const query = opts.query ?? '';
  const body = opts.body ?? new Uint8Array(0);
  const headers: Record<string, string> = { 'X-Terminal-Serial': opts.serial };
  if (body.length > 0) headers['Content-Digest'] = contentDigest(body);
  for (const [name, value] of Object.entries(opts.extraHeaders ?? {})) headers[name] = value;
  const lowerHeaders = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));

  const components = ['@method', '@path'];
  if (query !== '') components.push('@query');
  if (body.length > 0) components.push('content-digest');
  components.push('x-terminal-serial');
  for (const name of Object.keys(opts.extraHeaders ?? {})) {
    if (!components.includes(name.toLowerCase())) components.push(name.toLowerCase());
  }

  const params = new Map<string, BareItem>([
    ['created', opts.created ?? Math.floor(Date.now() / 1000)],
    ['nonce', opts.nonce ?? randomBytes(16).toString('base64')],
    ['keyid', opts.keyid],
    ['alg', opts.alg],
  ]);
  const signatureParams = serializeInnerList([components.map((name): Item => [name, new Map()]), params]);
  const parts: RequestParts = {
    method: opts.method,
    path: opts.path,
    query,
    header: (name) => lowerHeaders.get(name),
    hasBody: body.length > 0,
  };
  // The same base builder as the verifier: a terminal cannot sign something the server reads differently.
  const base = signatureBase(parts, { components, signatureParams });
  if (!base.ok) throw new TypeError(base.message);
  const label = opts.label ?? 'term';
  const signature = signSignatureBase(opts.alg, opts.privateKeyPem, base.value);
  headers['Signature-Input'] = `${label}=${signatureParams}`;
  headers['Signature'] = serializeDictionary(new Map([[label, [signature, new Map()]]]));
  return headers;
}
