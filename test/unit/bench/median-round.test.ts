/** @module The open-loop round the p99 target is judged on. */
import { describe, expect, it } from 'vitest';
import { medianRound } from '../../../bench/fleet/fleet.js';

const round = (name: string, p99Ms: number) => ({ name, latency: { p99Ms } });

describe('medianRound', () => {
  it('takes the middle p99 of an odd number of rounds, whatever order they ran in', () => {
    expect(medianRound([round('a', 9.1), round('b', 3.2), round('c', 4.7)]).name).toBe('c');
    expect(medianRound([round('a', 4.0), round('b', 40), round('c', 2), round('d', 3), round('e', 5)]).name).toBe('a');
  });

  it('takes the slower of the middle two of an even number, and the only one of one', () => {
    expect(medianRound([round('a', 3), round('b', 6), round('c', 4), round('d', 1)]).name).toBe('c');
    expect(medianRound([round('a', 7)]).name).toBe('a');
  });

  it('refuses no rounds at all rather than judging nothing', () => {
    expect(() => medianRound([])).toThrow(/no open-loop round/);
  });
});
