/** @module Unit tests: RFC 9530 Content-Digest. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { contentDigest, verifyContentDigest } from '../../../src/crypto/content-digest.js';

const BODY = Buffer.from('{"hello": "world"}');

describe('contentDigest', () => {
  it('matches the value in RFC 9421/9530 examples for {"hello": "world"}', () => {
    expect(contentDigest(BODY)).toBe('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:');
  });
});

describe('verifyContentDigest', () => {
  const sha512 = `sha-512=:${createHash('sha512').update(BODY).digest('base64')}:`;

  it('accepts sha-256, sha-512, both, and ignores unknown algorithms', () => {
    expect(verifyContentDigest(contentDigest(BODY), BODY).ok).toBe(true);
    expect(verifyContentDigest(sha512, BODY).ok).toBe(true);
    expect(verifyContentDigest(`${contentDigest(BODY)}, ${sha512}`, BODY).ok).toBe(true);
    expect(verifyContentDigest(`md5=:AAAA:, ${contentDigest(BODY)}`, BODY).ok).toBe(true);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['not a dictionary', 'sha-256=:not base64'],
    ['no known algorithm', 'md5=:AAAA:'],
    ['a string instead of bytes', `sha-256="${createHash('sha256').update(BODY).digest('base64')}"`],
    ['an inner list', 'sha-256=(:AAAA:)'],
    ['a wrong length', 'sha-256=:AAAA:'],
    ['too long', `sha-256=:${'A'.repeat(5000)}:`],
  ])('refuses %s', (_name, header) => {
    const result = verifyContentDigest(header, BODY);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.code).toBe('bad_content_digest');
  });

  it('refuses a digest of another body', () => {
    const result = verifyContentDigest(contentDigest(Buffer.from('{"hello": "World"}')), BODY);
    expect(result.ok ? null : result.code).toBe('bad_content_digest');
  });

  it('refuses when one of two known digests is wrong', () => {
    const wrong512 = `sha-512=:${createHash('sha512').update('other').digest('base64')}:`;
    const result = verifyContentDigest(`${contentDigest(BODY)}, ${wrong512}`, BODY);
    expect(result.ok ? null : result.code).toBe('bad_content_digest');
  });
});
