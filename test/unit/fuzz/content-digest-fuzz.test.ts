/**
 * @module Property-based fuzzing of RFC 9530 Content-Digest checking: any header gives ok or `bad_content_digest`, ok only
 * for a header that carries the body's real digest, and a digest made for one body never passes for another.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { contentDigest, verifyContentDigest } from '../../../src/crypto/content-digest.js';
import { FuzzTally, writeSection } from '../../helpers/reliability.js';
import { anyHeaderText, mutatedText } from '../../helpers/mutate.js';

const BUDGET_MS = 250;
const tally = new FuzzTally();
const body = fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b));
const digestOf = (algorithm: 'sha256' | 'sha512', bytes: Uint8Array) => createHash(algorithm).update(bytes).digest('base64');

afterAll(() => {
  writeSection({
    name: 'fuzz-unit-content-digest',
    title: 'Fuzzing: Content-Digest (unit, fast-check)',
    summary: [
      'Any header text with any body: ok or `bad_content_digest`, never an exception; ok only when the header holds the body\'s real SHA-256 or SHA-512.',
      'Digests of a body verify with extra unknown algorithms present; a wrong SHA-512 next to a right SHA-256 fails (every known algorithm must match).',
      'Mutations of a valid digest never pass for another body.',
    ],
    numbers: { inputsFuzzed: tally.total },
    table: tally.table(),
  });
});

describe('verifyContentDigest', () => {
  it('answers ok or bad_content_digest for any header, and ok only with the real digest in it', () => {
    // Half the headers are made around the real digest, so the ok path is exercised too.
    const header = (bytes: Buffer) => fc.oneof(
      anyHeaderText,
      mutatedText(contentDigest(bytes)),
      fc.constantFrom(`sha-512=:${digestOf('sha512', bytes)}:`, `sha-256=:${digestOf('sha256', bytes)}:, md5=:AAAA:`, `sha-256=${digestOf('sha256', bytes)}`),
    );
    fc.assert(
      fc.property(body.chain((bytes) => fc.tuple(fc.constant(bytes), header(bytes))), ([bytes, text]) => {
        const result = tally.time('verifyContentDigest(any header)', () => verifyContentDigest(text, bytes));
        tally.outcome('verifyContentDigest(any header)', result.ok ? 'ok' : result.code);
        if (!result.ok) expect(result.code).toBe('bad_content_digest');
        // Padding is optional to some parsers, so compare without it.
        else expect(text.includes(digestOf('sha256', bytes).replace(/=+$/, '')) || text.includes(digestOf('sha512', bytes).replace(/=+$/, ''))).toBe(true);
      }),
      { numRuns: 800 },
    );
    expect(tally.maxMs('verifyContentDigest(any header)')).toBeLessThan(BUDGET_MS);
  });

  it('round-trips what contentDigest makes, alone or beside other algorithms', () => {
    fc.assert(
      fc.property(body, fc.constantFrom('md5=:AAAA:', 'unixsum=:AA==:', 'sha=:AAAA:', 'x-custom=?1'), (bytes, other) => {
        const cases: Array<[string, boolean]> = [
          [contentDigest(bytes), true],
          [`${other}, ${contentDigest(bytes)}`, true],
          [`${contentDigest(bytes)}, sha-512=:${digestOf('sha512', bytes)}:`, true],
          [`${contentDigest(bytes)}, sha-512=:${digestOf('sha512', Buffer.concat([bytes, Buffer.from('x')]))}:`, false],
          [other, false],
        ];
        for (const [header, expected] of cases) {
          const result = tally.time('valid digest round trip', () => verifyContentDigest(header, bytes));
          expect(result.ok).toBe(expected);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('never passes a (mutated) digest of one body for another body', () => {
    const pair = fc.tuple(body, body).filter(([a, b]) => !a.equals(b));
    fc.assert(
      fc.property(pair.chain(([a, b]) => fc.tuple(fc.constant(b), mutatedText(contentDigest(a)))), ([other, header]) => {
        const result = tally.time('digest of another body', () => verifyContentDigest(header, other));
        tally.outcome('digest of another body', result.ok ? 'ok' : result.code);
        expect(result.ok).toBe(false);
      }),
      { numRuns: 400 },
    );
  });

  it('refuses a missing, empty or over-long header without parsing it', () => {
    for (const header of [undefined, '', `sha-256=:${'A'.repeat(5000)}:`]) {
      const result = tally.time('missing/over-long header', () => verifyContentDigest(header, Buffer.from('{}')));
      expect(result.ok ? 'ok' : result.code).toBe('bad_content_digest');
    }
  });
});
