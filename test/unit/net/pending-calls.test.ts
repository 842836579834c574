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
