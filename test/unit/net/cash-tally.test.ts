/**
 * @module A front thread's cash tally: the events of a burst cross to the main thread as one message, counted per serial,
 * and later ones no sooner than the interval after it (net/cash-tally.ts, net/throttled-flush.ts).
 */
import { describe, expect, it } from 'vitest';
import { CashTally, type CashCounts } from '../../../src/net/cash-tally.js';

const INTERVAL_MS = 100;

function tally(): { tally: CashTally; sent: { at: number; counts: CashCounts }[]; next(): Promise<CashCounts> } {
  const sent: { at: number; counts: CashCounts }[] = [];
  const waiting: ((counts: CashCounts) => void)[] = [];
  const t = new CashTally((counts) => {
    sent.push({ at: performance.now(), counts });
    waiting.shift()?.(counts);
  }, INTERVAL_MS);
  return { tally: t, sent, next: () => new Promise((resolve) => waiting.push(resolve)) };
}

describe('cash tally', () => {
  it('sends a burst as one message of counts per serial, at once when nothing was sent for an interval', async () => {
    const { tally: t, sent, next } = tally();
    const start = performance.now();
    const first = next();
    for (let i = 0; i < 1000; i++) t.recorded(i % 3 === 0 ? 'ATM-1' : 'ATM-2');
    expect(sent).toEqual([]);
    expect(new Map(await first)).toEqual(new Map([['ATM-1', 334], ['ATM-2', 666]]));
    expect(sent[0]!.at - start).toBeLessThan(INTERVAL_MS / 2);
    t.stop();
  });

  it('sends what comes after a message no sooner than the interval after it, and nothing when nothing came', async () => {
    const { tally: t, sent, next } = tally();
    const first = next();
    t.recorded('ATM-1');
    await first;
    const second = next();
    t.recorded('ATM-1');
    t.recorded('ATM-9');
    expect(await second).toEqual([['ATM-1', 1], ['ATM-9', 1]]);
    expect(sent[1]!.at - sent[0]!.at).toBeGreaterThanOrEqual(INTERVAL_MS - 2);
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS * 2));
    expect(sent).toHaveLength(2);
    t.stop();
  });
});
