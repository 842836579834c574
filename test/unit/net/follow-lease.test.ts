/** @module An operator's decision follows the serial's lease from thread to thread, a bounded number of times. */
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import type { DecisionAnswer } from '../../../src/net/front-protocol.js';
import { MAX_DECISION_ATTEMPTS, followLease } from '../../../src/net/front-pool.js';

/** Threads that answer from a script: thread i's answer is answers[i]; `asked` records the order. */
function threads(answers: (DecisionAnswer<string> | null)[]) {
  const asked: number[] = [];
  const ask = (index: number): Promise<DecisionAnswer<string>> | null => {
    asked.push(index);
    const answer = answers[index] ?? null;
    return answer === null ? null : Promise.resolve(answer);
  };
  return { asked, ask };
}

describe('followLease', () => {
  it('returns what the first thread answers when it holds the serial', async () => {
    const { asked, ask } = threads([{ ok: true, value: 'approved' }]);
    await expect(followLease(0, ask)).resolves.toBe('approved');
    expect(asked).toEqual([0]);
  });

  it('goes on to the thread the one asked names', async () => {
    const { asked, ask } = threads([{ ok: false, movedTo: 2 }, { ok: true, value: 'wrong thread' }, { ok: true, value: 'approved' }]);
    await expect(followLease(0, ask)).resolves.toBe('approved');
    expect(asked).toEqual([0, 2]);
  });

  it("throws the holder's domain error with its code", async () => {
    const { ask } = threads([{ ok: false, movedTo: 1 }, { ok: false, code: 'code_mismatch', message: 'the code does not match' }]);
    const error = await followLease(0, ask).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'code_mismatch', message: 'the code does not match' });
  });

  it(`asks the operator to retry after ${MAX_DECISION_ATTEMPTS} moves, instead of chasing a lease for ever`, async () => {
    const { asked, ask } = threads([{ ok: false, movedTo: 1 }, { ok: false, movedTo: 0 }]);
    await expect(followLease(0, ask)).rejects.toMatchObject({ code: 'overloaded', details: { retryAfter: 1 } });
    expect(asked).toHaveLength(MAX_DECISION_ATTEMPTS);
  });

  it('asks the operator to retry when the holder is not running', async () => {
    const { asked, ask } = threads([{ ok: false, movedTo: 1 }, null]);
    await expect(followLease(0, ask)).rejects.toMatchObject({ code: 'overloaded' });
    expect(asked).toEqual([0, 1]);
  });
});
