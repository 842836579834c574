/** @module The cap on password checks: a few run, a few wait, the rest are refused at once; addresses operators logged in from keep a share. */
import { describe, expect, it } from 'vitest';
import { PasswordChecks } from '../../../src/admin/password-checks.js';

/** A check that runs until released, recording that it started. */
function held(started: string[], name: string): { check: () => Promise<boolean>; release: () => void } {
  let release = (): void => undefined;
  const done = new Promise<boolean>((resolve) => (release = () => resolve(true)));
  return { check: () => (started.push(name), done), release };
}

describe('PasswordChecks', () => {
  it('runs two at once, queues the next, refuses past running + waiting without running the check', async () => {
    const checks = new PasswordChecks({ running: 2, waiting: 2, reserved: 0 });
    const started: string[] = [];
    const items = ['a', 'b', 'c', 'd'].map((name) => held(started, name));
    const runs = items.map((item) => checks.run(false, item.check));
    await Promise.resolve();
    expect(started).toEqual(['a', 'b']);
    let ran = false;
    await expect(checks.run(false, async () => (ran = true))).rejects.toMatchObject({ code: 'rate_limited', details: { retryAfter: 1 } });
    expect(ran).toBe(false);
    expect(checks.refused).toBe(1);
    items[0]!.release();
    await runs[0];
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['a', 'b', 'c']);
    for (const item of items) item.release();
    await Promise.all(runs);
    expect(checks.inUse).toBe(0);
  });

  it('keeps the reserved places for known addresses, and lets them go first', async () => {
    const checks = new PasswordChecks({ running: 1, waiting: 3, reserved: 2 });
    const started: string[] = [];
    const first = held(started, 'stranger-1');
    const second = held(started, 'stranger-2');
    const runs = [checks.run(false, first.check), checks.run(false, second.check)];
    // Two of four places taken: the rest are reserved.
    await expect(checks.run(false, async () => true)).rejects.toMatchObject({ code: 'rate_limited' });
    const operator = held(started, 'operator');
    runs.push(checks.run(true, operator.check));
    first.release();
    await runs[0];
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['stranger-1', 'operator']);
    operator.release();
    second.release();
    await Promise.all(runs);
    expect(started).toEqual(['stranger-1', 'operator', 'stranger-2']);
  });

  it('frees the place of a check that throws', async () => {
    const checks = new PasswordChecks({ running: 1, waiting: 0, reserved: 0 });
    await expect(checks.run(false, async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    await expect(checks.run(false, async () => 'ok')).resolves.toBe('ok');
  });
});
