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

/**
 * The parameters of every item read here, which have none. One shared map, not one per item: these
 * maps were a fifth of a request's allocations (bench/JOURNAL.md). Readers only ask its size; it MUST never be written.
 */
const NO_PARAMETERS: Map<string, BareItem> = new Map();

/** The longest key RFC 8941 allows. */
const MAX_KEY = 64;
/** Integers of at most 15 digits, as RFC 8941 allows. */
const MAX_INTEGER_DIGITS = 15;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SPACE = 0x20;
const OPEN = 0x28;
const CLOSE = 0x29;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const COLON = 0x3a;
const MINUS = 0x2d;

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isLower = (c: number): boolean => c >= 0x61 && c <= 0x7a;

/** The end of the key starting at `at` (`[a-z*][a-z0-9_.*-]{0,63}`), or -1. */
function keyEnd(text: string, at: number): number {
  const first = text.charCodeAt(at);
  if (!isLower(first) && first !== 0x2a) return -1;
  let i = at + 1;
  for (let c = text.charCodeAt(i); isLower(c) || isDigit(c) || c === 0x5f || c === 0x2e || c === 0x2a || c === MINUS; c = text.charCodeAt(++i));
  return i - at > MAX_KEY ? -1 : i;
}

/** The end (past the closing quote) of a string without escapes starting at `at`, or -1. */
function stringEnd(text: string, at: number): number {
  if (text.charCodeAt(at) !== QUOTE) return -1;
  for (let i = at + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    // An escape is canonical only in its own spelling: the library decides those.
    if (c < SPACE || c > 0x7e || c === BACKSLASH) return -1;
  }
  return -1;
}

/** The end of an integer without a leading zero (`0|-?[1-9][0-9]{0,14}`) starting at `at`, or -1. */
function integerEnd(text: string, at: number): number {
  const start = text.charCodeAt(at) === MINUS ? at + 1 : at;
  const first = text.charCodeAt(start);
  if (first === 0x30) return start === at ? start + 1 : -1;
  if (!isDigit(first)) return -1;
  let i = start + 1;
  while (isDigit(text.charCodeAt(i))) i++;
  return i - start > MAX_INTEGER_DIGITS ? -1 : i;
}

/**
 * `label=("a" "b");k="v";n=1`: an inner list of strings without parameters, with string or integer parameters.
 * Scanned by hand rather than matched: the two regular expressions this replaced made a match array and strings per
 * parameter, 888 of the 5,193 heap bytes `authenticateMaster` allocated per call (bench/master-call.bench.ts), and
 * took 1.1 µs where this takes 0.6.
 */
export function canonicalInnerListMember(header: string): CanonicalMember | null {
  const labelEnd = keyEnd(header, 0);
  if (labelEnd < 0 || header.charCodeAt(labelEnd) !== EQUALS || header.charCodeAt(labelEnd + 1) !== OPEN) return null;
  const list: Item[] = [];
  let i = labelEnd + 2;
  if (header.charCodeAt(i) !== CLOSE) {
    for (;;) {
      const end = stringEnd(header, i);
      if (end < 0) return null;
      list.push([header.slice(i + 1, end - 1), NO_PARAMETERS]);
      i = end;
      const next = header.charCodeAt(i);
      if (next === CLOSE) break;
      if (next !== SPACE) return null;
      i++;
    }
  }
  i++;
  const parameters = new Map<string, string | number>();
  while (i < header.length) {
    if (header.charCodeAt(i) !== SEMICOLON) return null;
    const end = keyEnd(header, i + 1);
    if (end < 0 || header.charCodeAt(end) !== EQUALS) return null;
    const key = header.slice(i + 1, end);
    // A repeated key is legal but not canonical (the library keeps the last); let the library decide.
    if (parameters.has(key)) return null;
    i = end + 1;
    if (header.charCodeAt(i) === QUOTE) {
      const valueEnd = stringEnd(header, i);
      if (valueEnd < 0) return null;
      parameters.set(key, header.slice(i + 1, valueEnd - 1));
      i = valueEnd;
    } else {
      const valueEnd = integerEnd(header, i);
      if (valueEnd < 0) return null;
      parameters.set(key, Number(header.slice(i, valueEnd)));
      i = valueEnd;
    }
  }
  return { label: header.slice(0, labelEnd), value: [list, parameters], serialized: header.slice(labelEnd + 1) };
}

/** A dictionary member whose value is a byte sequence without parameters. */
export interface CanonicalBytes {
  label: string;
  /** The decoded bytes, where structured-headers would give an ArrayBuffer of them. */
  bytes: Buffer;
}

/**
 * `label=:base64:`: a byte sequence without parameters. The base64 is checked by decoding it and encoding the bytes
 * again: only canonical base64 (its alphabet, exact padding, zero pad bits), the form RFC 8941 serializes byte
 * sequences in, comes back unchanged; anything else goes to the library. A regular expression over the 344
 * characters of an RSA-2048 signature took 1.7–1.9 µs a header when each header is new, as every request's is (0.5 µs
 * when one header is matched again and again, which is what an earlier measurement did); the round trip 0.2–0.4 µs.
 * The bytes stay a Buffer (from Node's shared pool) rather than the ArrayBuffer the library returns: a copy into an
 * ArrayBuffer of their own cost 0.9 µs, and one more backing store for every scavenge to sweep.
 */
export function canonicalBytesMember(header: string): CanonicalBytes | null {
  const labelEnd = keyEnd(header, 0);
  if (labelEnd < 0 || header.charCodeAt(labelEnd) !== EQUALS || header.charCodeAt(labelEnd + 1) !== COLON) return null;
  const last = header.length - 1;
  if (last < labelEnd + 2 || header.charCodeAt(last) !== COLON) return null;
  const base64 = header.slice(labelEnd + 2, last);
  if (base64.length % 4 !== 0) return null;
  // Node's decoder skips characters outside the alphabet, so the bytes alone would not show them: the encoding does.
  const bytes = Buffer.from(base64, 'base64');
  return bytes.toString('base64') === base64 ? { label: header.slice(0, labelEnd), bytes } : null;
}

/** A member structured-headers read, as `canonicalBytesMember` gives its bytes: a Buffer, or null when it is not a byte sequence. */
export function byteSequenceOf(member: Item | InnerList): Buffer | null {
  const value = isInnerList(member) ? undefined : member[0];
  return value instanceof ArrayBuffer ? Buffer.from(value) : null;
}
