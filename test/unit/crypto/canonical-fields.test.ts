/**
 * @module Unit tests: the fast reader of canonical Signature-Input / Signature members answers exactly what
 * structured-headers answers, or leaves the input to it. Generated canonical headers, their mutations and
 * structured-field-like noise are all checked against the library.
 */
import fc from 'fast-check';
import { parseDictionary, serializeDictionary, serializeInnerList, type InnerList, type Item } from 'structured-headers';
import { describe, expect, it } from 'vitest';
import { canonicalBytesMember, canonicalInnerListMember, type CanonicalBytes, type CanonicalMember } from '../../../src/crypto/canonical-fields.js';
import { anyHeaderText, mutatedText, sfLikeText } from '../../helpers/mutate.js';

const key = fc.stringMatching(/^[a-z*][a-z0-9_.*-]{0,10}$/);
const sfString = fc.string({ maxLength: 24 }).filter((s) => /^[\x20-\x7e]*$/.test(s));
const component = fc.oneof(fc.constantFrom('@method', '@path', '@query', 'x-terminal-serial', 'content-digest'), sfString);
const paramValue = fc.oneof(sfString, fc.integer({ min: -1e15 + 1, max: 1e15 - 1 }));

const signatureInput = fc
  .tuple(key, fc.array(component, { maxLength: 6 }), fc.uniqueArray(fc.tuple(key, paramValue), { maxLength: 6, selector: ([k]) => k }))
  .map(([label, items, params]) => {
    const list: InnerList = [items.map((value): Item => [value, new Map()]), new Map(params)];
    return serializeDictionary(new Map([[label, list]]));
  });
const signature = fc
  .tuple(key, fc.uint8Array({ maxLength: 600 }))
  .map(([label, bytes]) => serializeDictionary(new Map([[label, [Buffer.from(bytes).buffer.slice(0), new Map()]]])));

/** The library's reading of a one-member dictionary, in the fast reader's shape; null when it refuses or sees more members. */
function library(header: string): { label: string; value: unknown } | null {
  try {
    const dictionary = parseDictionary(header);
    if (dictionary.size !== 1) return null;
    const [label, value] = dictionary.entries().next().value!;
    return { label, value };
  } catch {
    return null;
  }
}

function agrees(fast: CanonicalMember | null, header: string): void {
  if (fast === null) return;
  const slow = library(header);
  expect(slow).not.toBeNull();
  expect({ label: fast.label, value: fast.value }).toEqual(slow);
  if (Array.isArray(fast.value[0])) expect(fast.serialized).toBe(serializeInnerList(fast.value as InnerList));
}

/** The same for a byte sequence, which the fast reader gives as a Buffer of the bytes the library's ArrayBuffer holds. */
function agreesOnBytes(fast: CanonicalBytes | null, header: string): void {
  if (fast === null) return;
  const slow = library(header);
  expect(slow).not.toBeNull();
  expect(fast.label).toBe(slow!.label);
  const [bytes, params] = slow!.value as Item;
  expect(bytes).toBeInstanceOf(ArrayBuffer);
  expect(params.size).toBe(0);
  expect(fast.bytes.equals(Buffer.from(bytes as ArrayBuffer))).toBe(true);
}

describe('canonicalInnerListMember', () => {
  it('reads every canonical Signature-Input the way structured-headers does', () => {
    fc.assert(fc.property(signatureInput, (header) => {
      const fast = canonicalInnerListMember(header);
      // Canonical input without escapes MUST take the fast path; escapes are left to the library.
      if (!header.includes('\\')) expect(fast).not.toBeNull();
      agrees(fast, header);
    }), { numRuns: 2000 });
  });

  it('never reads a mutated or noisy header differently from structured-headers', () => {
    const headers = fc.oneof(signatureInput.chain(mutatedText), anyHeaderText, sfLikeText);
    fc.assert(fc.property(headers, (header) => agrees(canonicalInnerListMember(header), header)), { numRuns: 3000 });
  });

  it('leaves non-canonical spellings to the library', () => {
    for (const header of [
      'term=("@method"  "@path");created=1', // two spaces
      'term=( "@method");created=1', // leading space inside the list
      'term=("@method");created=007', // leading zeros
      'term=("@method");created=1;created=2', // repeated parameter
      'term=("@method");created=-0',
      'term=("a\\"b")', // escaped quote
      ' term=("@method")', // leading space
      'term=("@method"), other=("@path")', // two members
      'term=("@method";sf)', // item parameter
      'term=("@method");flag', // boolean parameter
    ]) {
      expect(canonicalInnerListMember(header)).toBeNull();
    }
  });
});

describe('canonicalBytesMember', () => {
  it('reads every canonical Signature the way structured-headers does', () => {
    fc.assert(fc.property(signature, (header) => {
      const fast = canonicalBytesMember(header);
      expect(fast).not.toBeNull();
      agreesOnBytes(fast, header);
    }), { numRuns: 1000 });
  });

  it('never reads a mutated or noisy header differently from structured-headers', () => {
    const headers = fc.oneof(signature.chain(mutatedText), anyHeaderText, sfLikeText);
    fc.assert(fc.property(headers, (header) => agreesOnBytes(canonicalBytesMember(header), header)), { numRuns: 3000 });
  });

  it('leaves unpadded, over-padded or otherwise non-canonical base64 to the library', () => {
    // Non-zero pad bits (AB==), characters the decoder would skip (. and a space), a colon inside, no closing colon.
    for (const header of ['sig=:AAA:', 'sig=:AA=:', 'sig=:A===:', 'sig=:AAAA=:', 'sig=:AA==AA==:', 'sig=:AAAA:;p=1', 'sig=:AB==:', 'sig=:AA.A:', 'sig=:AA A:', 'sig=:AA:A:', 'sig=:AAAA', 'sig=:']) {
      expect(canonicalBytesMember(header)).toBeNull();
    }
    expect(canonicalBytesMember('sig=::')!.bytes).toEqual(Buffer.alloc(0));
    expect(canonicalBytesMember('sig=:AA==:')!.bytes).toEqual(Buffer.from([0]));
  });
});
