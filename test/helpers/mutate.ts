/** @module fast-check arbitraries for fuzzing: mutations of valid inputs (text and bytes) and structured-field-like garbage. */
import fc from 'fast-check';

/** Pieces of RFC 8941 structured fields and of this protocol's headers: garbage made of them gets past the first parser checks. */
export const SF_VOCABULARY = [
  'term', 'sig1', '=', '(', ')', '"', ';', ':', ',', ' ', '\t', '*', '?1', '?0', '@', '-1', '1e3', '0.5', '%',
  '"@method"', '"@path"', '"@query"', '"@authority"', '"@target-uri"', '"@request-target"', '"@status"',
  '"content-digest"', '"x-terminal-serial"', '"X-Terminal-Serial"', ';sf', ';key="a"', ';bs', ';req',
  'created=', 'expires=', 'nonce=', 'keyid=', 'alg=', '1700000000', '99999999999999999', '"ed25519"', '"rsa-pss-sha512"',
  '"ecdsa-p256-sha256"', '"rsa-v1_5-sha256"', '"hmac-sha256"', '"none"', 'sha-256=', 'sha-512=', 'md5=', ':AAAA:', ':',
  ':AAAAAAAAAAAAAAAAAAAAAA==:', '"AAAAAAAAAAAAAAAAAAAAAA=="', '\u0000', '\r\n', '\u00ff', '\u{1F600}', '\\', '\\"',
];

export const sfLikeText = fc.array(fc.constantFrom(...SF_VOCABULARY), { maxLength: 40 }).map((parts) => parts.join(''));

/** Any text: unicode (lone surrogates included), ASCII, SF-like, and over-long. */
export const anyHeaderText = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 200 }) },
  { weight: 4, arbitrary: sfLikeText },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 4000, maxLength: 6000 }) },
);

type TextEdit = { kind: 'delete' | 'insert' | 'replace' | 'duplicate' | 'truncate' | 'case'; at: number; len: number; piece: string };

const textEdit: fc.Arbitrary<TextEdit> = fc.record({
  kind: fc.constantFrom('delete', 'insert', 'replace', 'duplicate', 'truncate', 'case'),
  at: fc.nat(),
  len: fc.integer({ min: 1, max: 8 }),
  piece: fc.oneof(fc.constantFrom(...SF_VOCABULARY), fc.string({ unit: 'binary-ascii', maxLength: 4 })),
});

function applyTextEdit(text: string, edit: TextEdit): string {
  const at = text.length === 0 ? 0 : edit.at % text.length;
  switch (edit.kind) {
    case 'delete':
      return text.slice(0, at) + text.slice(at + edit.len);
    case 'insert':
      return text.slice(0, at) + edit.piece + text.slice(at);
    case 'replace':
      return text.slice(0, at) + edit.piece + text.slice(at + edit.len);
    case 'duplicate':
      return text.slice(0, at + edit.len) + text.slice(at);
    case 'truncate':
      return text.slice(0, at);
    case 'case': {
      const part = text.slice(at, at + edit.len);
      const flipped = part === part.toUpperCase() ? part.toLowerCase() : part.toUpperCase();
      return text.slice(0, at) + flipped + text.slice(at + edit.len);
    }
  }
}

/** One to four random edits of `text`; may occasionally leave it equal to the original. */
export function mutatedText(text: string): fc.Arbitrary<string> {
  return fc.array(textEdit, { minLength: 1, maxLength: 4 }).map((edits) => edits.reduce(applyTextEdit, text));
}

type ByteEdit = { kind: 'flip' | 'set' | 'delete' | 'insert' | 'truncate' | 'length'; at: number; value: number; len: number };

const byteEdit: fc.Arbitrary<ByteEdit> = fc.record({
  kind: fc.constantFrom('flip', 'set', 'delete', 'insert', 'truncate', 'length'),
  at: fc.nat(),
  value: fc.integer({ min: 0, max: 255 }),
  len: fc.integer({ min: 1, max: 16 }),
});

function applyByteEdit(bytes: Buffer, edit: ByteEdit): Buffer {
  if (bytes.length === 0) return Buffer.from([edit.value]);
  const at = edit.at % bytes.length;
  switch (edit.kind) {
    case 'flip': {
      const copy = Buffer.from(bytes);
      copy[at] = copy[at]! ^ (1 << (edit.value % 8));
      return copy;
    }
    case 'set': {
      const copy = Buffer.from(bytes);
      copy[at] = edit.value;
      return copy;
    }
    case 'delete':
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + edit.len)]);
    case 'insert':
      return Buffer.concat([bytes.subarray(0, at), Buffer.alloc(edit.len, edit.value), bytes.subarray(at)]);
    case 'truncate':
      return bytes.subarray(0, at);
    case 'length': {
      // DER length bytes sit right after a tag; hitting the first few bytes breaks the outer structure's lengths.
      const copy = Buffer.from(bytes);
      const target = at % Math.min(copy.length, 12);
      copy[target] = edit.value;
      return copy;
    }
  }
}

/** One to six random edits of `bytes` (bit flips, byte sets, deletions, insertions, truncation, length-byte damage). */
export function mutatedBytes(bytes: Buffer): fc.Arbitrary<Buffer> {
  return fc.array(byteEdit, { minLength: 1, maxLength: 6 }).map((edits) => edits.reduce(applyByteEdit, bytes));
}
