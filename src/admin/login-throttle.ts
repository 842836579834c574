/**
 * @module Slows password guessing and anonymous floods: after a few failed logins a user is locked out with a backoff that
 * doubles; each address gets a budget of attempts; at most a few password checks (scrypt) run or wait at once.
 */
import { AppError } from '../errors.js';
import { RateLimiter, type RateVerdict } from '../net/rate-limiter.js';
import { PasswordChecks } from './password-checks.js';
import { RefusalBudget } from './refusal-budget.js';
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
  /** Password checks let through by checkUser and not settled yet (failed, succeeded or released). */
  pending: number;
}

/** Users whose failures are remembered; past it, one whose lock is over and who has no check in flight is forgotten. */
const MAX_USERS = 10_000;

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
  /** What is written about logged-in operators' refused ops (refusal-budget.ts). */
  readonly refusals: RefusalBudget;

  constructor(private readonly now: () => number = Date.now, passwordChecks = new PasswordChecks()) {
    this.perAddress = new RateLimiter({ perSecond: ATTEMPTS_PER_ADDRESS_MINUTE / 60, burst: ATTEMPTS_PER_ADDRESS_MINUTE }, 10_000, now);
    this.passwordChecks = passwordChecks;
    this.refusals = new RefusalBudget(now);
  }

  /**
   * Spends one attempt of `address`'s budget (20 a minute). Every login spends one, whatever its arguments, and so does
   * every anonymous attempt that would be written to the audit log (a dead resume token, an audited op before login):
   * the budget bounds what one address can make the server hash and write.
   */
  admit(address: string): RateVerdict {
    return this.perAddress.take(address);
  }

  /**
   * Throws rate_limited (with retryAfter) when `user` is locked out after failed logins, except from an address `user`
   * logged in from before: otherwise anyone who knows an operator's name could keep them out for good, with one wrong
   * password each time the lock ends (the lock doubles to 15 minutes, then one guess a quarter hour keeps it).
   *
   * A check let through is counted as in flight until `failed`, `succeeded` or `released` settles it, and counts against
   * the free failures at once: guesses sent together are not all hashed and answered before the first failure counts.
   * Past the free failures, one check at a time: so 6 guesses sent when a lock ends get one answer, not 6.
   */
  checkUser(user: string, address: string): void {
    const entry = this.failures.get(user);
    if (!this.knownPairs.has(pairOf(user, address)) && entry) {
      const wait = entry.lockedUntil - this.now();
      if (wait > 0) {
        throw new AppError('rate_limited', `too many failed logins for this user; try again in ${Math.ceil(wait / 1000)} s`, { retryAfter: Math.ceil(wait / 1000) });
      }
      if (entry.pending > 0 && entry.count + entry.pending >= FREE_FAILURES) {
        throw new AppError('rate_limited', 'too many failed logins for this user, and a login for them is being checked; try again in 1 s', { retryAfter: 1 });
      }
    }
    this.entryOf(user).pending++;
  }

  /** Runs a password check in its turn (PasswordChecks), or throws rate_limited when too many are running or waiting. */
  checkPassword<T>(address: string, check: () => Promise<T>): Promise<T> {
    return this.passwordChecks.run(this.known.has(address), check);
  }

  failed(user: string): void {
    const entry = this.entryOf(user);
    entry.pending = Math.max(0, entry.pending - 1);
    entry.count++;
    if (entry.count >= FREE_FAILURES) {
      entry.lockedUntil = this.now() + Math.min(MAX_LOCK_MS, 1000 * 2 ** (entry.count - FREE_FAILURES));
    }
    // Last in the map's order: the user who failed longest ago is the first to be forgotten.
    this.failures.delete(user);
    this.failures.set(user, entry);
  }

  /** A check let through by checkUser that was not a guess (a 2FA login's first step without its code, a busy server). */
  released(user: string): void {
    const entry = this.failures.get(user);
    if (!entry) return;
    entry.pending = Math.max(0, entry.pending - 1);
    if (entry.pending === 0 && entry.count === 0) this.failures.delete(user);
  }

  /**
   * The user's entry, made when missing. Bounded, since names that do not exist get entries too: past MAX_USERS the user
   * who failed longest ago is forgotten, but never one locked out now or with a check in flight (10,000 failures under
   * other names must not lift a lock). Locks end within 15 minutes and failures need password checks, of which few run
   * at once, so locked users cannot pile up without end.
   */
  private entryOf(user: string): Failures {
    let entry = this.failures.get(user);
    if (entry) return entry;
    if (this.failures.size >= MAX_USERS) {
      const now = this.now();
      for (const [name, other] of this.failures) {
        if (other.lockedUntil <= now && other.pending === 0) {
          this.failures.delete(name);
          break;
        }
      }
    }
    entry = { count: 0, lockedUntil: 0, pending: 0 };
    this.failures.set(user, entry);
    return entry;
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
