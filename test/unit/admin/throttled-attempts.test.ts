/** @module Refusals past an address's budget: the first per address and window is written, the rest summed up once. */
import { describe, expect, it } from 'vitest';
import { MAX_ADDRESSES, ThrottledAttempts } from '../../../src/admin/throttled-attempts.js';

describe('ThrottledAttempts', () => {
  it('writes the first refusal per address and window, counts the rest, and sums them up at the window end', () => {
    const throttled = new ThrottledAttempts();
    expect(throttled.note('10.0.0.1', 'login')).toBe(true);
    for (let i = 0; i < 5; i++) expect(throttled.note('10.0.0.1', i % 2 ? 'resume' : 'login')).toBe(false);
    expect(throttled.note('10.0.0.2', 'resume')).toBe(true);
    expect(throttled.drain()).toEqual({ notWritten: 5, ops: { login: 3, resume: 2 }, distinctAddresses: 1, topAddresses: [{ address: '10.0.0.1', count: 5 }] });
    // A new window: the first is written again; nothing counted, no summary.
    expect(throttled.note('10.0.0.1', 'login')).toBe(true);
    expect(throttled.drain()).toBeNull();
  });

  it('tells at most MAX_ADDRESSES addresses apart per window; refusals from more are counted together', () => {
    const throttled = new ThrottledAttempts();
    let written = 0;
    for (let i = 0; i < MAX_ADDRESSES + 50; i++) if (throttled.note(`a${i}`, 'login')) written++;
    expect(written).toBe(MAX_ADDRESSES);
    expect(throttled.drain()).toMatchObject({ notWritten: 50, fromAddressesNotCounted: 50 });
  });
});
