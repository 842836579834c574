/** @module The pre-signed calls' `created` times: a terminal's later calls carry later times, all inside the server's ±300 s window for the whole run. */
import { describe, expect, it } from 'vitest';
import { CREATED_SPAN_SEC, createdTimes } from '../../../bench/fleet/fleet.js';

const NOW = 1_800_000_000;

describe('createdTimes', () => {
  it('puts the calls of a default run a second apart, the last 280 s ahead', () => {
    expect(createdTimes(12, NOW)).toEqual(Array.from({ length: 12 }, (_, k) => NOW + 269 + k));
  });

  it.each([1, 2, 201, 5_000])('keeps %i calls in time order and inside the window from pre-signing on', (calls) => {
    const times = createdTimes(calls, NOW);
    expect(times).toHaveLength(calls);
    for (let k = 1; k < calls; k++) expect(times[k]).toBeGreaterThanOrEqual(times[k - 1]!);
    expect(times.at(-1)).toBe(NOW + 280);
    // Fresh from the moment they are signed (not more than 300 s ahead) until at least 380 s later.
    expect(times[0]).toBeGreaterThanOrEqual(NOW + 280 - CREATED_SPAN_SEC);
    for (const t of times) expect(t - NOW).toBeLessThanOrEqual(300);
  });
});
