/** @module What `invalid_field` says: the field once, and zod's issue in plain words, for operators and terminal developers alike. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { cashEventSchema, check, serialSchema } from '../../../src/protocol/schemas.js';

const event = { eventId: 'ev-1', currency: 'USD', denomination: 20, count: 3, at: '2026-12-06T10:00:00Z' };

function messageOf(schema: z.ZodType, value: unknown): string {
  try {
    check(schema, value);
  } catch (error) {
    expect(error).toMatchObject({ code: 'invalid_field' });
    return (error as Error).message;
  }
  throw new Error('the value passed the check');
}

describe('invalid_field messages', () => {
  it('name the field once, also where the schema wrote its own message', () => {
    expect(messageOf(cashEventSchema, { ...event, currency: 'usd' })).toBe('currency: an ISO 4217 code such as USD');
    expect(messageOf(z.object({ serial: serialSchema }), { serial: ' ATM-1' })).toBe('serial: 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');
  });

  it("put zod's bounds, types and options in words", () => {
    expect(messageOf(z.object({ minutes: z.number().int().min(1).max(10080) }), { minutes: 20000 })).toBe('minutes: at most 10080');
    expect(messageOf(cashEventSchema, { ...event, denomination: 0 })).toBe('denomination: at least 0.001');
    expect(messageOf(cashEventSchema, { ...event, denomination: 1e-300 })).toBe('denomination: at least 0.001');
    expect(messageOf(cashEventSchema, { ...event, denomination: 0.0005 })).toBe('denomination: at least 0.001');
    expect(messageOf(cashEventSchema, { ...event, denomination: 20.0001 })).toBe('denomination: at most 3 decimal places');
    expect(check(cashEventSchema, { ...event, denomination: 0.07 }).denomination).toBe(0.07);
    expect(check(cashEventSchema, { ...event, denomination: 0.005 }).denomination).toBe(0.005);
    expect(messageOf(cashEventSchema, { ...event, at: '0001-01-01T00:00:00Z' })).toBe('at: before 2000-01-01');
    expect(messageOf(cashEventSchema, { ...event, at: '1970-01-01T00:00:00Z' })).toBe('at: before 2000-01-01');
    expect(messageOf(cashEventSchema, { ...event, count: 1.5 })).toBe('count: must be a whole number');
    expect(messageOf(cashEventSchema, { ...event, count: 2 ** 53 })).toBe('count: at most 10000');
    expect(messageOf(cashEventSchema, { ...event, count: undefined })).toBe('count: required');
    expect(messageOf(cashEventSchema, { ...event, at: 'yesterday' })).toBe('at: an ISO 8601 time with its offset, such as 2026-12-06T10:00:00Z');
    expect(messageOf(z.object({ name: z.string().max(5) }), { name: 'abcdefgh' })).toBe('name: at most 5 characters');
    expect(messageOf(z.object({ state: z.enum(['pending', 'approved']) }), { state: 'x' })).toBe('state: one of pending, approved');
    expect(messageOf(cashEventSchema, { ...event, note: 'hi' })).toBe('note: not a field of this request');
  });

  it('never echo the value that was refused', () => {
    const secret = 'A'.repeat(300);
    expect(messageOf(cashEventSchema, { ...event, eventId: secret })).not.toContain(secret);
  });
});
