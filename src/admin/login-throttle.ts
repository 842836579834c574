/**
 * @module Slows password guessing and anonymous floods: after a few failed logins a user is locked out with a backoff that
 * doubles; each address gets a budget of attempts; at most a few password checks (scrypt) run or wait at once.
 */
import { AppError } from '../errors.js';
import { RateLimiter, type Admission } from '../net/rate-limiter.js';
import { PasswordChecks } from './password-checks.js';
import { ThrottledAttempts } from './throttled-attempts.js';

const FREE_FAILURES = 5;
const MAX_LOCK_MS = 15 * 60_000;
/** Attempts per address and minute (burst and refill): logins, and anonymous attempts that would be audited. */
export const ATTEMPTS_PER_ADDRESS_MINUTE = 20;
/** Addresses remembered as ones an operator logged in from (see `isKnown`), and (user, address) pairs (see `checkUser`). */
const KNOWN_ADDRESSES = 1_000;
const KNOWN_PAIRS = 10_000;
const pairOf = (user: string, address: string): string => `${user}\u0000${address}`;

interface Failures {
  count: number;
  lockedUntil: number;
}

export class LoginThrottle {
  private readonly failures = new Map<string, Failures>();
  private readonly perAddress: RateLimiter;
  /** Addresses an operator logged in from since start-up, oldest first: they keep a share of the password checks in a flood. */
  private readonly known = new Set<string>();
  /** (user, address) pairs of successful logins since start-up, oldest first: a user's lockout does not reach them. */
  private readonly knownPairs = new Set<string>();
  readonly passwordChecks: PasswordChecks;
  /** What is written about attempts refused past their address's budget. */
  readonly throttled = new ThrottledAttempts();

  constructor(private readonly now: () => number = Date.now, passwordChecks = new PasswordChecks()) {
    this.perAddress = new RateLimiter({ perSecond: ATTEMPTS_PER_ADDRESS_MINUTE / 60, burst: ATTEMPTS_PER_ADDRESS_MINUTE }, 10_000, now);
    this.passwordChecks = passwordChecks;
  }

  /**
   * Spends one attempt of `address`'s budget (20 a minute). Every login spends one, whatever its arguments, and so does
   * every anonymous attempt that would be written to the audit log (a dead resume token, an audited op before login):
   * the budget bounds what one address can make the server hash and write.
   */
  admit(address: string): Admission {
    return this.perAddress.take(address);
  }

  /**
   * Throws rate_limited (with retryAfter) when `user` is locked out after failed logins, except from an address `user`
   * logged in from before: otherwise anyone who knows an operator's name could keep them out for good, with one wrong
   * password each time the lock ends (the lock doubles to 15 minutes, then one guess a quarter hour keeps it).
   */
  checkUser(user: string, address: string): void {
    const entry = this.failures.get(user);
    const wait = entry ? entry.lockedUntil - this.now() : 0;
    if (wait > 0 && !this.knownPairs.has(pairOf(user, address))) {
      throw new AppError('rate_limited', `too many failed logins for this user; try again in ${Math.ceil(wait / 1000)} s`, { retryAfter: Math.ceil(wait / 1000) });
    }
  }

  /** Runs a password check in its turn (PasswordChecks), or throws rate_limited when too many are running or waiting. */
  checkPassword<T>(address: string, check: () => Promise<T>): Promise<T> {
    return this.passwordChecks.run(this.known.has(address), check);
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

  succeeded(user: string, address: string): void {
    this.failures.delete(user);
    const pair = pairOf(user, address);
    this.knownPairs.delete(pair);
    this.knownPairs.add(pair);
    if (this.knownPairs.size > KNOWN_PAIRS) this.knownPairs.delete(this.knownPairs.values().next().value!);
    this.known.delete(address);
    this.known.add(address);
    if (this.known.size > KNOWN_ADDRESSES) this.known.delete(this.known.values().next().value!);
  }

  /** An operator logged in from this address since start-up (an attacker cannot get an address onto this list without a password). */
  isKnown(address: string): boolean {
    return this.known.has(address);
  }
}
