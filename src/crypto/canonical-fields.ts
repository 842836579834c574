/**
 * @module A fast reader for the one shape terminals send `Signature-Input`, `Signature` and `Content-Digest` in: a single
 * dictionary member, already in canonical RFC 8941 serialization. It answers exactly what structured-headers'
 * `parseDictionary` answers for that member, a byte sequence as a Buffer rather than an ArrayBuffer
 * (test/unit/crypto/canonical-fields.test.ts checks this on generated input), and `null` for anything else, which
 * then goes to the library. Parsing the two headers with the library cost about as much as the RSA verify itself
 * (bench/signature-verify.bench.ts, "parseSignature").
 */
import { isInnerList, type BareItem, type InnerList, type Item } from 'structured-headers';

export interface CanonicalMember {
  label: string;
  value: InnerList | Item;
  /** The member's value exactly as sent, which for canonical input is also its serialization. */
  serialized: string;
}

const KEY = "[a-z*][a-z0-9_.*-]{0,63}";
/** Strings without escapes, integers without leading zeros: inputs whose canonical form is themselves. */
const STRING = '"[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]*"';
const INTEGER = '(?:0|-?[1-9][0-9]{0,14})';
const INNER_LIST = new RegExp(`^(${KEY})=\\((${STRING}(?: ${STRING})*)?\\)((?:;${KEY}=(?:${STRING}|${INTEGER}))*)$`);
const PARAMETER = new RegExp(`;(${KEY})=(${STRING}|${INTEGER})`, 'g');
/**
 * Base64 characters, then at most two `=`; with a length that is a multiple of 4 this is exactly padded base64, the
 * form RFC 8941 serializes byte sequences in. Checking the length apart halves the match: a pattern of 4-character
 * groups backtracks through every group of a 344-character RSA signature.
 */
const BYTES = new RegExp(`^(${KEY})=:([A-Za-z0-9+/]*={0,2}):$`);

/**
 * The parameters of every item read here, which have none. One shared map, not one per item: these
 * maps were a fifth of a request's allocations (bench/README.md). Readers only ask its size; it MUST never be written.
 */
const NO_PARAMETERS: Map<string, BareItem> = new Map();

/** `label=("a" "b");k="v";n=1`: an inner list of strings without parameters, with string or integer parameters. */
export function canonicalInnerListMember(header: string): CanonicalMember | null {
  const match = INNER_LIST.exec(header);
  if (!match) return null;
  const [, label, items, params] = match as unknown as [string, string, string | undefined, string];
  const list: Item[] = items === undefined ? [] : items.slice(1, -1).split('" "').map((value): Item => [value, NO_PARAMETERS]);
  const parameters = new Map<string, string | number>();
  // An exec loop, not matchAll: matchAll clones the regular expression and allocates an iterator on every call.
  PARAMETER.lastIndex = 0;
  for (let m = PARAMETER.exec(params); m !== null; m = PARAMETER.exec(params)) {
    const key = m[1]!;
    const raw = m[2]!;
    // A repeated key is legal but not canonical (the library keeps the last); let the library decide.
    if (parameters.has(key)) return null;
    parameters.set(key, raw.startsWith('"') ? raw.slice(1, -1) : Number(raw));
  }
  return { label, value: [list, parameters], serialized: header.slice(label.length + 1) };
}

/** A dictionary member whose value is a byte sequence without parameters. */
export interface CanonicalBytes {
  label: string;
  /** The decoded bytes, where structured-headers would give an ArrayBuffer of them. */
  bytes: Buffer;
}

/**
 * `label=:base64:`: a byte sequence without parameters. The bytes stay a Buffer (from Node's shared pool) rather
 * than the ArrayBuffer the library returns: a copy into an ArrayBuffer of their own cost 0.9 µs of the 3.4 µs this
 * took per request, and one more backing store for every scavenge to sweep.
 */
export function canonicalBytesMember(header: string): CanonicalBytes | null {
  const match = BYTES.exec(header);
  if (!match) return null;
  const [, label, base64] = match as unknown as [string, string, string];
  if (base64.length % 4 !== 0) return null;
  return { label, bytes: Buffer.from(base64, 'base64') };
}

/** A member structured-headers read, as `canonicalBytesMember` gives its bytes: a Buffer, or null when it is not a byte sequence. */
export function byteSequenceOf(member: Item | InnerList): Buffer | null {
  const value = isInnerList(member) ? undefined : member[0];
  return value instanceof ArrayBuffer ? Buffer.from(value) : null;
}
