/** @module Rate limiter buckets and the login backoff, on a controlled clock. */
import { describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../../src/admin/login-throttle.js';
import { FORGET_IDLE_MS, RateLimiter } from '../../../src/net/rate-limiter.js';

describe('RateLimiter', () => {
  it('allows the burst, then refills at the sustained rate and says when to retry', () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 2, burst: 3 }, 100, () => now);
    expect([1, 2, 3].map(() => limiter.take('a').ok)).toEqual([true, true, true]);
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterSec: 1 });
    expect(limiter.take('b').ok).toBe(true);
    now += 500;
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a').ok).toBe(false);
  });

  it('tracks at most maxKeys keys, forgetting the oldest when none has refilled', () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, 3, () => 0);
    for (const key of ['a', 'b', 'c', 'd', 'e']) limiter.take(key);
    expect(limiter.trackedKeys).toBe(3);
    // 'e' is tracked and spent; 'a' was forgotten and starts full again.
    expect(limiter.take('e').ok).toBe(false);
    expect(limiter.take('a').ok).toBe(true);
  });

  it('when full, forgets the buckets that have refilled before any that is still spent', () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, 3, () => now);
    limiter.take('idle');
    now = 2_000;
    limiter.take('busy');
    limiter.take('other');
    // Full: 'idle' has refilled since, so forgetting it loses nothing; 'busy', older than 'new', stays spent.
    expect(limiter.take('new').ok).toBe(true);
    expect(limiter.trackedKeys).toBe(3);
    expect(limiter.take('busy')).toEqual({ ok: false, retryAfterSec: 1 });
  });

  it('keeps a flood of new keys bounded, and a spent key stays limited while it is tracked', () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 2 }, 1_000, () => 0);
    limiter.take('terminal');
    limiter.take('terminal');
    for (let i = 0; i < 50; i++) limiter.take(`flood-${i}`);
    expect(limiter.take('terminal').ok).toBe(false);
    for (let i = 0; i < 10_000; i++) limiter.take(`flood2-${i}`);
    expect(limiter.trackedKeys).toBeLessThanOrEqual(1_000);
  });

  it('forgets, one a request, the buckets full again and idle for FORGET_IDLE_MS, so the keys tracked follow the recent callers', () => {
    let now = 0;
    // A bucket takes 100 s to refill.
    const limiter = new RateLimiter({ perSecond: 1 / 100, burst: 1 }, 100_000, () => now);
    for (let i = 0; i < 1_000; i++) limiter.take(`old-${i}`);
    now = 60_000;
    limiter.take('half'); // idle 90 s at 150 s, but only 0.9 refilled
    now = 100_000;
    limiter.take('recent'); // refilled only half at 150 s
    now = 150_000;
    for (let i = 0; i < 1_002; i++) limiter.take(`new-${i}`);
    // The sweep has passed every bucket before the new ones: the 1,000 full and idle ones are gone.
    expect(limiter.trackedKeys).toBe(1_002 + 2);
    // Those still refilling stay spent, however long idle: forgetting them would give tokens back.
    expect(limiter.take('half').ok).toBe(false);
    expect(limiter.take('recent').ok).toBe(false);
  });

  it('keeps a full bucket while it is idle for less than FORGET_IDLE_MS: a key that comes back is not made again at every request', () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 10, burst: 1 }, 100_000, () => now);
    for (let i = 0; i < 100; i++) limiter.take(`a-${i}`);
    now = FORGET_IDLE_MS - 1; // every bucket full again for a long while, but not idle long enough
    for (let i = 0; i < 200; i++) limiter.take(`b-${i}`);
    expect(limiter.trackedKeys).toBe(300);
    now = FORGET_IDLE_MS;
    for (let i = 0; i < 300; i++) limiter.take(`c-${i}`);
    // The a- keys are idle long enough now; the b- keys, 1 ms old, are not.
    expect(limiter.trackedKeys).toBe(200 + 300);
  });
});

describe('LoginThrottle', () => {
  it('locks a user after five failures with a backoff that doubles, and forgives on success', () => {
    let now = 0;
    const throttle = new LoginThrottle(() => now);
    for (let i = 0; i < 4; i++) {
      throttle.checkUser('alice', '10.6.6.6');
      throttle.failed('alice');
    }
    throttle.checkUser('alice', '10.6.6.6');
    throttle.failed('alice');
    expect(() => throttle.checkUser('alice', '10.6.6.6')).toThrow(expect.objectContaining({ code: 'rate_limited' }));
    now += 1_000;
    throttle.checkUser('alice', '10.6.6.6');
    throttle.failed('alice');
    const retry = (() => {
      try {
        throttle.checkUser('alice', '10.6.6.6');
        return 0;
      } catch (error) {
        return (error as { details: { retryAfter: number } }).details.retryAfter;
      }
    })();
    expect(retry).toBe(2);
    now += 2_000;
    throttle.checkUser('alice', '10.6.6.6');
    throttle.succeeded('alice', '10.0.1.5');
    throttle.checkUser('alice', '10.6.6.6');
  });

  it('does not lock a user out of an address they logged in from before, however often others fail', () => {
    let now = 0;
    const throttle = new LoginThrottle(() => now);
    throttle.succeeded('alice', '10.0.1.5');
    for (let i = 0; i < 12; i++) {
      now += 60_000;
      throttle.failed('alice');
    }
    expect(() => throttle.checkUser('alice', '10.6.6.6')).toThrow(expect.objectContaining({ code: 'rate_limited' }));
    expect(() => throttle.checkUser('alice', '10.0.1.5')).not.toThrow();
    // Only for that user: another operator's address is not a way in for alice.
    throttle.succeeded('bob', '10.0.2.7');
    expect(() => throttle.checkUser('alice', '10.0.2.7')).toThrow(expect.objectContaining({ code: 'rate_limited' }));
  });

  it('counts a check in flight at once: of 6 guesses sent together only the free 5 are checked, and one at a time past them', () => {
    let now = 0;
    const throttle = new LoginThrottle(() => now);
    // Six logins arrive before any hash is done: the sixth is refused before its hash.
    for (let i = 0; i < 5; i++) throttle.checkUser('alice', '10.6.6.6');
    expect(() => throttle.checkUser('alice', '10.6.6.6')).toThrow(expect.objectContaining({ code: 'rate_limited' }));
    for (let i = 0; i < 5; i++) throttle.failed('alice');
    expect(() => throttle.checkUser('alice', '10.6.6.6')).toThrow(expect.objectContaining({ code: 'rate_limited' }));
    // The lock ends: of the guesses sent together then, one is checked; the rest wait for its answer (and its lock).
    now += 1_000;
    throttle.checkUser('alice', '10.6.6.6');
    for (let i = 0; i < 5; i++) expect(() => throttle.checkUser('alice', '10.6.6.6')).toThrow(expect.objectContaining({ code: 'rate_limited', details: { retryAfter: 1 } }));
    throttle.failed('alice');
    expect(() => throttle.checkUser('alice', '10.6.6.6')).toThrow(expect.objectContaining({ details: { retryAfter: 2 } }));
    // The operator's own address is not held up by a guesser's check in flight.
    throttle.succeeded('bob', '10.0.1.5');
    now += 2_000;
    throttle.checkUser('alice', '10.6.6.6');
    expect(() => throttle.checkUser('alice', '10.6.6.6')).toThrow(expect.objectContaining({ code: 'rate_limited' }));
  });

  it('does not count a check that was not a guess (a 2FA login\'s first step), nor hold the next one up', () => {
    const throttle = new LoginThrottle(() => 0);
    for (let i = 0; i < 4; i++) {
      throttle.checkUser('alice', '10.6.6.6');
      throttle.failed('alice');
    }
    throttle.checkUser('alice', '10.6.6.6');
    throttle.released('alice');
    throttle.checkUser('alice', '10.6.6.6');
    throttle.succeeded('alice', '10.6.6.6');
  });

  it('keeps a locked user locked through failed logins under 10,000 other names', () => {
    let now = 0;
    const throttle = new LoginThrottle(() => now);
    for (let i = 0; i < 21; i++) {
      now += 15 * 60_000;
      throttle.checkUser('alice', '10.6.6.6');
      throttle.failed('alice');
    }
    expect(() => throttle.checkUser('alice', '10.6.6.6')).toThrow(expect.objectContaining({ code: 'rate_limited', details: { retryAfter: 900 } }));
    for (let i = 0; i < 10_000; i++) {
      throttle.checkUser(`name-${i}`, '10.7.7.7');
      throttle.failed(`name-${i}`);
    }
    expect(() => throttle.checkUser('alice', '10.6.6.6')).toThrow(expect.objectContaining({ code: 'rate_limited' }));
    // Once her lock is over, the next failure locks her again at once: her count was kept.
    now += 15 * 60_000;
    throttle.checkUser('alice', '10.6.6.6');
    throttle.failed('alice');
    expect(() => throttle.checkUser('alice', '10.6.6.6')).toThrow(expect.objectContaining({ details: { retryAfter: 900 } }));
  });

  it('gives each address 20 attempts a minute, refilled over the minute', () => {
    let now = 0;
    const throttle = new LoginThrottle(() => now);
    for (let i = 0; i < 20; i++) expect(throttle.admit('10.9.9.9').ok).toBe(true);
    expect(throttle.admit('10.9.9.9')).toEqual({ ok: false, retryAfterSec: 3 });
    expect(throttle.admit('10.9.9.10').ok).toBe(true);
    now += 3_000;
    expect(throttle.admit('10.9.9.9').ok).toBe(true);
    expect(throttle.admit('10.9.9.9').ok).toBe(false);
  });

  it('remembers the addresses operators logged in from', () => {
    const throttle = new LoginThrottle(() => 0);
    expect(throttle.isKnown('10.1.1.1')).toBe(false);
    throttle.succeeded('alice', '10.1.1.1');
    expect(throttle.isKnown('10.1.1.1')).toBe(true);
  });
});
