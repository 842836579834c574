/** @module Unit tests: each operator's refusals are written 30 a minute one by one, the rest counted into one summary per operator. */
import { describe, expect, it } from 'vitest';
import { RefusalBudget, REFUSALS_PER_USER_MINUTE } from '../../../src/admin/refusal-budget.js';

describe('RefusalBudget', () => {
  it('writes 30 a minute per operator, counts the rest by op, and starts a new window on drain', () => {
    let clock = 0;
    const budget = new RefusalBudget(() => clock);
    const written = Array.from({ length: 40 }, (_, i) => budget.admit('carol', i % 4 === 0 ? 'terminals.update' : 'terminals.unpair'));
    expect(written.filter(Boolean)).toHaveLength(REFUSALS_PER_USER_MINUTE);
    expect(written.slice(0, 30).every(Boolean)).toBe(true);
    // Another operator's budget is untouched.
    expect(budget.admit('alice', 'terminals.unpair')).toBe(true);
    expect(budget.drain()).toEqual([{ user: 'carol', notWritten: 10, ops: { 'terminals.unpair': 8, 'terminals.update': 2 } }]);
    expect(budget.drain()).toEqual([]);
    // Refilled as time passes: one every 2 s.
    clock += 4_000;
    expect([budget.admit('carol', 'x'), budget.admit('carol', 'x'), budget.admit('carol', 'x')]).toEqual([true, true, false]);
  });
});
