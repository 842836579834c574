/**
 * @module Property-based fuzzing of everything parsed from a body or an admin frame: JSON (invalid UTF-8 included), the three
 * pairing forms, cash events, and admin frames. Each throws only its documented AppError code, and valid input round-trips.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FrameError, parseFrame } from '../../../src/admin/dispatch.js';
import { AppError } from '../../../src/errors.js';
import { cashEventSchema, check, parseJson, parsePairingBody } from '../../../src/protocol/schemas.js';
import { FuzzTally, writeSection } from '../../helpers/reliability.js';

const BUDGET_MS = 250;
const tally = new FuzzTally();

/** 'ok' or the AppError code; anything else thrown (TypeError, RangeError, a zod error) fails the test. */
function codeOf(run: () => unknown): string {
  try {
    run();
    return 'ok';
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
}

/** JSON values with the keys an attacker would try: prototype pollution, the protocol's own field names. */
const hostileKey = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'commitment', 'reveal', 'requestId', 'info', 'eventId', 'currency', 'denomination', 'count', 'at'),
);
const hostileJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null), fc.boolean(), fc.double(), fc.integer(), fc.string({ unit: 'binary', maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileKey, tie('value'), { maxKeys: 5 }),
  ),
})).value;

const base64Of = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('base64'));
const requestId = fc.stringMatching(/^[A-Za-z0-9_-]{16,64}$/);

afterAll(() => {
  writeSection({
    name: 'fuzz-unit-bodies',
    title: 'Fuzzing: JSON bodies, pairing forms, cash events, admin frames (unit, fast-check)',
    summary: [
      'Random bytes (invalid UTF-8 included) as a body: parsed, or `malformed_json`; valid JSON parses to the same value.',
      'Any JSON value as a pairing body or cash event: parsed, or `invalid_field`, never a TypeError or a zod exception; `__proto__`, `constructor` and the protocol\'s own keys included.',
      'Valid commit / reveal / poll forms and cash events round-trip; any admin frame text gives a request or a coded FrameError with a safe integer id.',
    ],
    numbers: { inputsFuzzed: tally.total },
    table: tally.table(),
  });
});

describe('parseJson', () => {
  it('parses valid JSON to the same value and answers malformed_json for anything else', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.json().map((text) => Buffer.from(text)),
      fc.json().map((text) => Buffer.concat([Buffer.from(text), Buffer.from([0xff, 0xfe])])),
      fc.json().map((text) => Buffer.from(text.slice(0, Math.max(0, text.length - 1)))),
    );
    fc.assert(
      fc.property(bytes, (body) => {
        let expected: unknown;
        let valid = true;
        try {
          expected = JSON.parse(body.toString('utf8'));
        } catch {
          valid = false;
        }
        const code = tally.time('parseJson(bytes)', () => codeOf(() => parseJson(body)));
        tally.outcome('parseJson(bytes)', code);
        expect(code).toBe(valid ? 'ok' : 'malformed_json');
        if (valid) expect(parseJson(body)).toEqual(expected);
      }),
      { numRuns: 600 },
    );
    expect(tally.maxMs('parseJson(bytes)')).toBeLessThan(BUDGET_MS);
  });
});

describe('parsePairingBody', () => {
  it('answers a form or invalid_field for any JSON value', () => {
    const shaped = fc.oneof(
      hostileJson,
      fc.record({ commitment: fc.oneof(base64Of(32), hostileJson), info: hostileJson }, { requiredKeys: ['commitment'] }),
      fc.record({ requestId: fc.oneof(requestId, hostileJson), reveal: fc.oneof(base64Of(32), base64Of(31), hostileJson) }),
      fc.record({ requestId: fc.oneof(requestId, hostileJson), extra: hostileJson }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(shaped, (value) => {
        const code = tally.time('parsePairingBody(any JSON)', () => codeOf(() => parsePairingBody(value)));
        tally.outcome('parsePairingBody(any JSON)', code);
        expect(['ok', 'invalid_field']).toContain(code);
      }),
      { numRuns: 800 },
    );
    expect(tally.maxMs('parsePairingBody(any JSON)')).toBeLessThan(BUDGET_MS);
  });

  it('round-trips the three valid forms', () => {
    const info = fc.dictionary(fc.stringMatching(/^[a-z]{1,10}$/), fc.string({ maxLength: 20 }), { maxKeys: 4 });
    fc.assert(
      fc.property(base64Of(32), base64Of(32), requestId, info, fc.boolean(), (commitment, reveal, id, extra, withInfo) => {
        tally.count('parsePairingBody(valid forms)');
        const commit = withInfo ? { commitment, info: extra } : { commitment };
        expect(parsePairingBody(JSON.parse(JSON.stringify(commit)))).toEqual({ form: 'commit', commitment, info: withInfo ? extra : null });
        expect(parsePairingBody({ requestId: id, reveal })).toEqual({ form: 'reveal', requestId: id, reveal });
        expect(parsePairingBody({ requestId: id })).toEqual({ form: 'poll', requestId: id });
        expect(parsePairingBody({})).toEqual({ form: 'poll', requestId: null });
      }),
      { numRuns: 200 },
    );
  });
});

describe('cash events', () => {
  const validEvent = fc.record({
    eventId: fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
    currency: fc.stringMatching(/^[A-Z]{3}$/),
    denomination: fc.double({ min: 0.01, max: 1_000_000, noNaN: true }),
    count: fc.integer({ min: 1, max: 10_000 }),
    at: fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  });

  it('answer a parsed event or invalid_field for any JSON value, and round-trip valid ones', () => {
    const value = fc.oneof(
      hostileJson,
      validEvent.chain((event) => fc.record({ key: fc.constantFrom(...Object.keys(event)), replacement: hostileJson }).map(({ key, replacement }) => ({ ...event, [key]: replacement }))),
      validEvent.map((event) => ({ ...event, extra: 1 })),
      validEvent,
    );
    fc.assert(
      fc.property(value, (event) => {
        const code = tally.time('cashEventSchema(any JSON)', () => codeOf(() => check(cashEventSchema, event)));
        tally.outcome('cashEventSchema(any JSON)', code);
        expect(['ok', 'invalid_field']).toContain(code);
        if (code === 'ok') expect(check(cashEventSchema, event)).toEqual(event);
      }),
      { numRuns: 800 },
    );
  });
});

describe('admin frames', () => {
  it('give a request or a coded FrameError with a safe integer id, for any text', () => {
    const frameText = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      hostileJson.map((v) => JSON.stringify(v)),
      fc.record({ id: hostileJson, op: fc.oneof(fc.string({ maxLength: 20 }), hostileJson), args: hostileJson }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(frameText, (raw) => {
        const outcome = tally.time('parseFrame(any text)', () => {
          try {
            const frame = parseFrame(raw);
            expect(Number.isSafeInteger(frame.id)).toBe(true);
            expect(typeof frame.op).toBe('string');
            expect(typeof frame.args === 'object' && frame.args !== null && !Array.isArray(frame.args)).toBe(true);
            return 'ok';
          } catch (error) {
            if (!(error instanceof FrameError)) throw error;
            expect(Number.isSafeInteger(error.id)).toBe(true);
            return error.cause.code;
          }
        });
        tally.outcome('parseFrame(any text)', outcome);
        expect(['ok', 'malformed_json', 'invalid_field']).toContain(outcome);
      }),
      { numRuns: 800 },
    );
  });

  it('round-trip well-formed requests', () => {
    const args = fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue(), { maxKeys: 4 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.string({ maxLength: 30 }), args, fc.boolean(), (id, op, a, background) => {
        tally.count('parseFrame(valid request)');
        const frame = parseFrame(JSON.stringify({ id, op, args: a, ...(background && { background }) }));
        expect(frame).toEqual({ id, op, args: JSON.parse(JSON.stringify(a)), background });
      }),
      { numRuns: 200 },
    );
  });
});
