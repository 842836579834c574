/**
 * @module Property-based fuzzing of the RFC 9421 parser, signature base and verifier: garbage and mutated headers only ever
 * give `bad_signature_input`, a mutation never verifies for content other than what was signed, and valid signatures round-trip.
 */
import { KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { isFresh, parseSignature, signRequest, signatureBase, verifySignature, type RequestParts } from '../../../src/crypto/signature.js';
import { SERIAL_PATTERN } from '../../../src/protocol/schemas.js';
import { SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from '../../../src/protocol/types.js';
import { FuzzTally, writeSection } from '../../helpers/reliability.js';
import { makeTerminal, partsOf, receive, type Terminal, type Wire } from '../crypto/signed-request.js';
import { anyHeaderText, mutatedText } from '../../helpers/mutate.js';

/** Generous for a shared 2-core machine; an input that needs more is a parser with super-linear work. */
const BUDGET_MS = 250;
const tally = new FuzzTally();
const terminals: Record<'rsa' | 'ec' | 'ed25519', Terminal> = { rsa: makeTerminal('rsa'), ec: makeTerminal('ec'), ed25519: makeTerminal('ed25519') };
const ALG_OF: ReadonlyArray<[SignatureAlgorithm, Terminal]> = [
  ['rsa-v1_5-sha256', terminals.rsa], ['rsa-pss-sha512', terminals.rsa], ['ecdsa-p256-sha256', terminals.ec], ['ed25519', terminals.ed25519],
];

const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH');
const path = fc.stringMatching(/^\/[A-Za-z0-9._~/-]{0,60}$/);
const query = fc.oneof(fc.constant(''), fc.stringMatching(/^[A-Za-z0-9=&%._-]{1,60}$/));
const serial = fc.stringMatching(SERIAL_PATTERN);
const label = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,15}$/);
const body = fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b));
const nonce = fc.uint8Array({ minLength: 16, maxLength: 48 }).map((b) => Buffer.from(b).toString('base64'));

const request = fc.record({ method, path, query, serial, label, body, nonce, which: fc.integer({ min: 0, max: ALG_OF.length - 1 }) });
type RequestShape = typeof request extends fc.Arbitrary<infer T> ? T : never;

function sign(shape: RequestShape): { wire: Wire; terminal: Terminal; alg: SignatureAlgorithm } {
  const [alg, terminal] = ALG_OF[shape.which]!;
  const headers = signRequest({
    method: shape.method, path: shape.path, query: shape.query, body: shape.body, serial: shape.serial,
    privateKeyPem: terminal.privateKeyPem, alg, keyid: terminal.tfp, label: shape.label, nonce: shape.nonce,
  });
  return { wire: { method: shape.method, path: shape.path, query: shape.query, body: shape.body, headers }, terminal, alg };
}

/** The signature base a verifier would build for `wire`, or null when it refuses to build one. */
function baseOf(wire: Wire): string | null {
  const parts = partsOf(wire);
  const parsed = parseSignature(parts.header('signature-input'), parts.header('signature'), parts);
  if (!parsed.ok) return null;
  const base = signatureBase(parts, parsed.value);
  return base.ok ? base.value : null;
}

/** A few valid requests to mutate: fixed, so mutation runs cost no signing. */
const SEEDS = ALG_OF.map((_, i) => sign({ method: 'POST', path: '/api/v1/cash-events', query: i % 2 ? 'coin=BTC' : '', serial: 'ATM-7', label: 'term', body: Buffer.from('{"eventId":"e1"}'), nonce: 'AAAAAAAAAAAAAAAAAAAAAA==', which: i }).wire).map((wire, i) => ({ wire, terminal: ALG_OF[i]![1] }));

afterAll(() => {
  writeSection({
    name: 'fuzz-unit-signature',
    title: 'Fuzzing: RFC 9421 signatures (unit, fast-check)',
    summary: [
      'Signature-Input / Signature garbage and mutations of valid headers: only ever `bad_signature_input` (or a failed verify), never an exception.',
      'A mutated header verifies only when its signature base is byte-for-byte the one that was signed (whitespace and other neutral edits).',
      'Valid requests with random methods, paths, queries, bodies, serials, labels and nonces round-trip for all four algorithms; tampering any covered part fails.',
      `Every input is handled within ${BUDGET_MS} ms.`,
    ],
    numbers: { inputsFuzzed: tally.total },
    table: tally.table(),
  });
});

const partsFor = (headers: Record<string, string>, shape: { method: string; path: string; query: string; hasBody: boolean }): RequestParts => ({
  method: shape.method, path: shape.path, query: shape.query, hasBody: shape.hasBody, header: (name) => headers[name],
});

describe('parseSignature on garbage', () => {
  it('answers ok or bad_signature_input for any pair of header values, in bounded time', () => {
    fc.assert(
      fc.property(anyHeaderText, anyHeaderText, method, query, fc.boolean(), (input, signature, m, q, hasBody) => {
        const headers = { 'x-terminal-serial': 'ATM-7', 'content-digest': 'sha-256=:AAAA:' };
        const result = tally.time('parseSignature(garbage)', () => parseSignature(input, signature, partsFor(headers, { method: m, path: '/x', query: q, hasBody })));
        tally.outcome('parseSignature(garbage)', result.ok ? 'ok' : result.code);
        if (!result.ok) expect(result.code).toBe('bad_signature_input');
      }),
      { numRuns: 600 },
    );
    expect(tally.maxMs('parseSignature(garbage)')).toBeLessThan(BUDGET_MS);
  });

  it('never verifies a mutated Signature-Input or Signature unless the signed base is unchanged', () => {
    const seed = fc.constantFrom(...SEEDS);
    const mutated = seed.chain(({ wire, terminal }) =>
      fc.record({
        input: fc.oneof(fc.constant(wire.headers['Signature-Input']!), mutatedText(wire.headers['Signature-Input']!)),
        signature: fc.oneof(fc.constant(wire.headers['Signature']!), mutatedText(wire.headers['Signature']!)),
      }).map((h) => ({ wire, terminal, headers: h })),
    );
    fc.assert(
      fc.property(mutated, ({ wire, terminal, headers }) => {
        const changed: Wire = { ...wire, headers: { ...wire.headers, 'Signature-Input': headers.input, Signature: headers.signature } };
        const verdict = tally.time('mutated signature headers', () => receive(changed, terminal.publicKey, terminal.kind));
        const unchanged = headers.input === wire.headers['Signature-Input'] && headers.signature === wire.headers['Signature'];
        tally.outcome('mutated signature headers', unchanged ? 'unchanged control' : verdict);
        expect(['ok', 'bad_signature_input', 'alg_mismatch', 'stale', 'bad_signature']).toContain(verdict);
        if (verdict === 'ok') expect(baseOf(changed)).toBe(baseOf(wire));
      }),
      { numRuns: 600 },
    );
    expect(tally.maxMs('mutated signature headers')).toBeLessThan(BUDGET_MS);
  });
});

describe('valid signatures', () => {
  it('round-trip: the parsed parameters are what was signed, and the signature verifies', () => {
    fc.assert(
      fc.property(request, (shape) => {
        const { wire, terminal, alg } = sign(shape);
        const verdict = tally.time('sign → parse → verify', () => {
          const parts = partsOf(wire);
          const parsed = parseSignature(parts.header('signature-input'), parts.header('signature'), parts);
          if (!parsed.ok) return parsed.code;
          expect(parsed.value.label).toBe(shape.label);
          expect(parsed.value.params).toMatchObject({ nonce: shape.nonce, keyid: terminal.tfp, alg, expires: null });
          return receive(wire, terminal.publicKey, terminal.kind);
        });
        tally.outcome('sign → parse → verify', verdict);
        expect(verdict).toBe('ok');
      }),
      { numRuns: 150 },
    );
  });

  it('fail once any covered part of the request is changed', () => {
    const part = fc.constantFrom('method', 'path', 'query', 'serial', 'body');
    fc.assert(
      fc.property(request, part, fc.nat(), (shape, which, n) => {
        const { wire, terminal } = sign({ ...shape, query: shape.query || 'a=1', body: shape.body.length ? shape.body : Buffer.from('{}') });
        const tampered: Wire = { ...wire, headers: { ...wire.headers } };
        if (which === 'method') tampered.method = wire.method === 'POST' ? 'PUT' : 'POST';
        if (which === 'path') tampered.path = `${wire.path}x`;
        if (which === 'query') tampered.query = `${wire.query}&b=${n}`;
        if (which === 'serial') tampered.headers['X-Terminal-Serial'] = `${wire.headers['X-Terminal-Serial']}-${n % 10}`;
        if (which === 'body') {
          const copy = Buffer.from(wire.body);
          copy[n % copy.length] = copy[n % copy.length]! ^ 0x01;
          tampered.body = copy;
        }
        const verdict = tally.time('tampered covered part', () => receive(tampered, terminal.publicKey, terminal.kind));
        tally.outcome('tampered covered part', verdict);
        expect(verdict).not.toBe('ok');
      }),
      { numRuns: 150 },
    );
  });
});

/** Around the 24 KiB component limit, cheaply (generating each character would dominate the run). */
const overLong = fc.tuple(fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 8 }), fc.integer({ min: 3_000, max: 3_300 })).map(([s, n]) => s.repeat(Math.ceil(n * 8 / s.length)));

describe('signatureBase and verifySignature on hostile values', () => {
  it('never throws on any covered header value; refuses line breaks and over-long values', () => {
    fc.assert(
      fc.property(fc.oneof(anyHeaderText, overLong), (value) => {
        const parts = partsFor({ 'x-terminal-serial': value }, { method: 'POST', path: '/p', query: '', hasBody: false });
        const base = tally.time('signatureBase(header value)', () => signatureBase(parts, { components: ['@method', 'x-terminal-serial'], signatureParams: '("@method" "x-terminal-serial")' }));
        tally.outcome('signatureBase(header value)', base.ok ? 'ok' : base.code);
        if (/[\r\n]/.test(value.trim()) || value.trim().length > 24 * 1024) expect(base.ok).toBe(false);
        if (!base.ok) expect(base.code).toBe('bad_signature_input');
      }),
      { numRuns: 300 },
    );
  });

  it('returns false, never throws, for random bytes under any key and any algorithm name', () => {
    const keys: KeyObject[] = Object.values(terminals).map((t) => t.publicKey);
    const algName = fc.oneof(fc.constantFrom<string>(...SIGNATURE_ALGORITHMS), fc.string({ maxLength: 20 }));
    fc.assert(
      fc.property(fc.constantFrom(...keys), algName, fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 600 }), (key, alg, base, sig) => {
        const verified = tally.time('verifySignature(random)', () => verifySignature(key, alg as SignatureAlgorithm, base, Buffer.from(sig)));
        expect(verified).toBe(false);
      }),
      { numRuns: 300 },
    );
    expect(tally.maxMs('verifySignature(random)')).toBeLessThan(BUDGET_MS);
  });

  it('isFresh is exactly |now − created| ≤ skew and expires not past', () => {
    const sec = fc.integer({ min: 0, max: 4_000_000_000 });
    fc.assert(
      fc.property(sec, fc.integer({ min: -1000, max: 1000 }), fc.option(fc.integer({ min: -1000, max: 1000 })), fc.integer({ min: 1, max: 900 }), (now, delta, expiresDelta, skew) => {
        const params = { created: now + delta, expires: expiresDelta === null ? null : now + expiresDelta };
        tally.count('isFresh');
        expect(isFresh(params, now, skew)).toBe(Math.abs(delta) <= skew && (expiresDelta === null || expiresDelta >= 0));
      }),
      { numRuns: 300 },
    );
  });
});
