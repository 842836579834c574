/** @module Unit tests: the table of calls waiting for another thread's answer, whose ids are reused slots. */
import { describe, expect, it } from 'vitest';
import { PendingCalls } from '../../../src/net/pending-calls.js';

describe('PendingCalls', () => {
  it('gives each waiting call its own id and its entry back exactly once', () => {
    const calls = new PendingCalls<string>();
    const ids = ['a', 'b', 'c'].map((entry) => calls.add(entry));
    expect(new Set(ids).size).toBe(3);
    expect(calls.take(ids[1]!)).toBe('b');
    expect(calls.take(ids[1]!)).toBeUndefined();
    expect(calls.size).toBe(2);
    expect([calls.take(ids[0]!), calls.take(ids[2]!)]).toEqual(['a', 'c']);
    expect(calls.size).toBe(0);
  });

  it('reuses answered ids, so the table stops growing at the most calls in flight', () => {
    const calls = new PendingCalls<number>();
    const seen = new Set<number>();
    for (let round = 0; round < 1_000; round++) {
      const ids = Array.from({ length: 100 }, (_, i) => calls.add(round * 100 + i));
      ids.forEach((id) => seen.add(id));
      ids.forEach((id, i) => expect(calls.take(id)).toBe(round * 100 + i));
    }
    expect(seen.size).toBe(100);
  });

  it('ignores ids it never gave and returns every waiting entry once on takeAll', () => {
    const calls = new PendingCalls<string>();
    const [x] = [calls.add('x'), calls.add('y')];
    calls.take(x);
    for (const bad of [-1, 2, 1.5, Number.NaN, 99]) expect(calls.take(bad)).toBeUndefined();
    expect(calls.takeAll()).toEqual(['y']);
    expect(calls.takeAll()).toEqual([]);
    expect(calls.add('z')).toBe(0);
  });
});

describe('PendingCalls.abandonAll', () => {
  it('returns the waiting entries once and keeps their ids out of use until their late answers come', () => {
    const calls = new PendingCalls<string>();
    const [a, b, c] = [calls.add('a'), calls.add('b'), calls.add('c')];
    expect(calls.take(b)).toBe('b');
    expect(calls.abandonAll()).toEqual(['a', 'c']);
    expect(calls.abandonAll()).toEqual([]);
    expect(calls.size).toBe(0);
    // New calls get b's freed id or a fresh one, never an abandoned one.
    const fresh = [calls.add('d'), calls.add('e')];
    expect(fresh).not.toContain(a);
    expect(fresh).not.toContain(c);
    // A late answer to an abandoned call finds no one, and frees its id.
    expect(calls.take(a)).toBeUndefined();
    expect(calls.size).toBe(2);
    expect(calls.add('f')).toBe(a);
    expect(fresh.map((id) => calls.take(id))).toEqual(['d', 'e']);
    expect(calls.take(a)).toBe('f');
  });

  it('frees abandoned ids on takeAll, when no late answer can come', () => {
    const calls = new PendingCalls<string>();
    calls.add('a');
    calls.abandonAll();
    expect(calls.add('b')).toBe(1);
    expect(calls.takeAll()).toEqual(['b']);
    expect(calls.size).toBe(0);
    expect(calls.add('c')).toBe(0);
  });
});
