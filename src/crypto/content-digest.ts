/** @module RFC 9530 Content-Digest: computing it for requests the terminal sends and checking it on requests the server receives. */
import { createHash, hash, timingSafeEqual } from 'node:crypto';
import { parseDictionary, type Dictionary } from 'structured-headers';
import { fail, ok, type Result } from '../errors.js';
import { byteSequenceOf, canonicalBytesMember } from './canonical-fields.js';

/** Longer than any honest value (sha-256 + sha-512 together are ~150 bytes); bounds parser work. */
const MAX_HEADER_LENGTH = 4096;

/** RFC 9530 algorithm keys we know, with node's hash names. Others in the header are ignored, as the RFC asks. */
const KNOWN = new Map([
  ['sha-256', 'sha256'],
  ['sha-512', 'sha512'],
]);

/** `sha-256=:<base64>:` for a body. */
export function contentDigest(body: Uint8Array): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

/**
 * Checks a Content-Digest header against the body: at least one known algorithm present,
 * and every known one present matches.
 */
export function verifyContentDigest(header: string | undefined, body: Uint8Array): Result<void> {
  if (header === undefined || header.length === 0) return fail('bad_content_digest', 'Content-Digest is missing');
  if (header.length > MAX_HEADER_LENGTH) return fail('bad_content_digest', 'Content-Digest is too long');
  // Terminals send one canonical member; anything else goes to the library (canonical-fields.ts).
  const canonical = canonicalBytesMember(header);
  const members = canonical ? ok([{ key: canonical.label, bytes: canonical.bytes }]) : libraryMembers(header);
  if (!members.ok) return members;
  let checked = 0;
  for (const { key, bytes } of members.value) {
    const hashName = KNOWN.get(key);
    if (hashName === undefined) continue;
    if (bytes === null) return fail('bad_content_digest', `Content-Digest ${key} is not a byte sequence`);
    const expected = hash(hashName, body, 'buffer');
    // Lengths are public (fixed per algorithm); only the digest bytes need a constant-time compare.
    if (bytes.length !== expected.length || !timingSafeEqual(bytes, expected)) {
      return fail('bad_content_digest', `Content-Digest ${key} does not match the body`);
    }
    checked += 1;
  }
  if (checked === 0) return fail('bad_content_digest', 'Content-Digest has no supported algorithm (sha-256, sha-512)');
  return ok(undefined);
}

/** Every member of the header as structured-headers reads it: its bytes, or null when it is not a byte sequence. */
function libraryMembers(header: string): Result<{ key: string; bytes: Buffer | null }[]> {
  let dictionary: Dictionary;
  try {
    dictionary = parseDictionary(header);
  } catch {
    return fail('bad_content_digest', 'Content-Digest is not a structured-field dictionary');
  }
  return ok([...dictionary].map(([key, member]) => ({ key, bytes: byteSequenceOf(member) })));
}
