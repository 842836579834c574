/** @module Slows password guessing: after a few failed logins a user is locked out with a backoff that doubles, and each address gets a login budget. */
import { AppError } from '../errors.js';
import { RateLimiter } from '../net/rate-limiter.js';

const FREE_FAILURES = 5;
const MAX_LOCK_MS = 15 * 60_000;

interface Failures {
  count: number;
  lockedUntil: number;
}

export class LoginThrottle {
  private readonly failures = new Map<string, Failures>();
  /** Spraying many user names from one address is limited too: 20 attempts a minute. */
  private readonly perAddress = new RateLimiter({ perSecond: 20 / 60, burst: 20 }, 10_000);

  constructor(private readonly now: () => number = Date.now) {}

  /** Throws rate_limited (with retryAfter) when `user` is locked out or `address` used its budget. */
  check(user: string, address: string): void {
    const own = this.perAddress.take(address);
    if (!own.ok) throw new AppError('rate_limited', 'too many login attempts from this address', { retryAfter: own.retryAfterSec });
    const entry = this.failures.get(user);
    const wait = entry ? entry.lockedUntil - this.now() : 0;
    if (wait > 0) {
      throw new AppError('rate_limited', `too many failed logins for this user; try again in ${Math.ceil(wait / 1000)} s`, { retryAfter: Math.ceil(wait / 1000) });
    }
  }

  failed(user: string): void {
    const entry = this.failures.get(user) ?? { count: 0, lockedUntil: 0 };
    entry.count++;
    if (entry.count >= FREE_FAILURES) {
      entry.lockedUntil = this.now() + Math.min(MAX_LOCK_MS, 1000 * 2 ** (entry.count - FREE_FAILURES));
    }
    // Bounded: names that do not exist still get entries, so cap the map like the rate limiter does.
    if (!this.failures.has(user) && this.failures.size >= 10_000) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    this.failures.set(user, entry);
  }

  succeeded(user: string): void {
    this.failures.delete(user);
  }
}
