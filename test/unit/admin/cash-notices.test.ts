/** @module What `cash.recorded` tells each kind of `cash` subscription, from the front threads' tallies added up. */
import { describe, expect, it } from 'vitest';
import { CASH_SERIALS_LISTED, CashNotices } from '../../../src/admin/cash-notices.js';

describe('cash notices', () => {
  it('adds up the tallies of several front threads, per terminal, and starts again after each push', () => {
    const notices = new CashNotices();
    notices.add([['ATM-1', 3], ['ATM-2', 1]]);
    notices.add([['ATM-1', 2]]);
    const recorded = notices.take()!;
    expect(recorded.all()).toEqual({ count: 6, terminals: 2, serials: { 'ATM-1': 5, 'ATM-2': 1 } });
    expect(recorded.of('ATM-2')).toEqual({ count: 1, terminals: 1, serials: { 'ATM-2': 1 }, serial: 'ATM-2' });
    // A one-terminal subscription is not told of the others' events.
    expect(recorded.of('ATM-3')).toBeNull();
    expect(notices.take()).toBeNull();
    notices.add([['ATM-3', 1]]);
    expect(notices.take()!.all()).toEqual({ count: 1, terminals: 1, serials: { 'ATM-3': 1 } });
  });

  it('names each terminal up to the limit, and past it only says how many (a fleet is thousands a second)', () => {
    const notices = new CashNotices();
    const serials = (n: number): [string, number][] => Array.from({ length: n }, (_, i) => [`ATM-${i}`, 2]);
    notices.add(serials(CASH_SERIALS_LISTED));
    expect(Object.keys(notices.take()!.all().serials!)).toHaveLength(CASH_SERIALS_LISTED);
    notices.add(serials(CASH_SERIALS_LISTED + 1));
    const recorded = notices.take()!;
    expect(recorded.all()).toEqual({ count: 2 * (CASH_SERIALS_LISTED + 1), terminals: CASH_SERIALS_LISTED + 1, serials: null });
    // Its own terminal's count still reaches a one-terminal subscription.
    expect(recorded.of(`ATM-${CASH_SERIALS_LISTED}`)).toMatchObject({ count: 2 });
  });
});
