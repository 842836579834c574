/** @module Unit tests: bodies being received get a deadline, and the one arriving longest gives way beyond a cap. */
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { ArrivingBodies, type BodyDropped } from '../../../src/net/arriving-bodies.js';

/** Starts `count` bodies on `bodies`, each from its own holder unless `holder` is given, recording each drop as `index:why`. */
function startMany(bodies: ArrivingBodies, count: number, drops: string[], holder?: string, first = 0): (() => void)[] {
  return Array.from({ length: count }, (_, n) => {
    const i = first + n;
    return bodies.start(holder ?? `h${i}`, (why: BodyDropped) => drops.push(`${i}:${why}`));
  });
}

describe('ArrivingBodies', () => {
  it('drops a body still arriving past its deadline as late, once, and not one whose clock was stopped', async () => {
    const bodies = new ArrivingBodies({ deadlineMs: 40, maxArriving: 10 });
    const drops: string[] = [];
    const [, stopSecond] = startMany(bodies, 2, drops);
    stopSecond!();
    await expect.poll(() => drops, { timeout: 2_000, interval: 10 }).toEqual(['0:late']);
    expect(bodies.size).toBe(0);
    // Nothing is dropped twice, and a body started after the sweeper stopped gets a clock again.
    const later: string[] = [];
    startMany(bodies, 1, later);
    await expect.poll(() => later, { timeout: 2_000, interval: 10 }).toEqual(['0:late']);
    expect(drops).toEqual(['0:late']);
  });

  it('keeps at most maxArriving: each body beyond drops the one arriving longest, in the order they came', () => {
    const bodies = new ArrivingBodies({ deadlineMs: 60_000, maxArriving: 3 });
    const drops: string[] = [];
    const stops = startMany(bodies, 5, drops);
    expect(drops).toEqual(['0:displaced', '1:displaced']);
    expect(bodies.size).toBe(3);
    // A body that is in gives its place back: the next one displaces nobody.
    stops[3]!();
    bodies.start('h5', () => drops.push('5'));
    expect(drops).toEqual(['0:displaced', '1:displaced']);
    // Stopping a dropped body's clock is harmless.
    stops[0]!();
    expect(bodies.size).toBe(3);
    for (const stop of stops) stop();
  });

  it('takes the place of the holder sending the most, not of the oldest body: one sender displaces its own first', () => {
    const bodies = new ArrivingBodies({ deadlineMs: 60_000, maxArriving: 4 });
    const drops: string[] = [];
    // A terminal's upload on a slow link, then another sender filling every place and starting more.
    const [stopSlow] = startMany(bodies, 1, drops, 'terminal');
    startMany(bodies, 6, drops, 'flood', 1);
    expect(drops).toEqual(['1:displaced', '2:displaced', '3:displaced']);
    expect(bodies.size).toBe(4);
    // Another sender: the flood still holds the most, and gives way again.
    startMany(bodies, 1, drops, 'third', 7);
    expect(drops.slice(3)).toEqual(['4:displaced']);
    // Holders with as many (one each, once the flood is down to one): the one whose body came first gives way.
    startMany(bodies, 1, drops, 'fourth', 8);
    startMany(bodies, 1, drops, 'fifth', 9);
    expect(drops.slice(4)).toEqual(['5:displaced', '0:displaced']);
    stopSlow!();
    expect(bodies.size).toBe(4);
  });

  it('refuses a holder with maxPerHolder bodies arriving a new one, before its clock starts; others are not held up', () => {
    const bodies = new ArrivingBodies({ deadlineMs: 60_000, maxArriving: 100, maxPerHolder: 2 });
    const drops: string[] = [];
    const admitted = (holder: string): boolean => {
      try {
        bodies.admit(holder);
        return true;
      } catch (error) {
        expect((error as AppError).code).toBe('rate_limited');
        return false;
      }
    };
    const [first] = startMany(bodies, 2, drops, '192.0.2.1');
    expect(admitted('192.0.2.1')).toBe(false);
    expect(admitted('192.0.2.2')).toBe(true);
    // A body that is in, or was dropped, gives its holder's place back.
    first!();
    expect(admitted('192.0.2.1')).toBe(true);
    // Without the cap (master), a holder may have as many as the places allow.
    const uncapped = new ArrivingBodies({ deadlineMs: 60_000, maxArriving: 100 });
    startMany(uncapped, 50, drops, 'serial');
    expect(() => uncapped.admit('serial')).not.toThrow();
    expect(drops).toEqual([]);
  });
});
