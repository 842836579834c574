/**
 * @module At most a few operator password checks (scrypt) run at once and a few more wait; past that a login is
 * answered `rate_limited` at once, without hashing. A share is kept for addresses operators logged in from.
 *
 * Why: node's scrypt runs on libuv's thread pool (4 threads by default), and so do lmdb-js's write transactions
 * (napi async work). Every login used to hand its hash to that pool at once: 40 addresses × 20 logins (each address
 * inside its budget) queued 800 hashes of ~70–120 ms ahead of every commit, so audit writes and session creation
 * waited behind them, one operator's login took 6.3 s and most of the flood was still unanswered after 10 s. With
 * two hashes running the pool always has threads left for the store; a short queue smooths bursts of real logins.
 */
import { AppError } from '../errors.js';

export interface PasswordCheckLimits {
  /** Hashes running at once: below libuv's pool size (UV_THREADPOOL_SIZE, 4 by default), which lmdb's commits share. */
  running: number;
  /** Checks waiting for a turn; beyond running + waiting, logins are refused. */
  waiting: number;
  /** Of running + waiting, places only addresses with a successful login may take: a flood from new addresses leaves them free. */
  reserved: number;
}

export const PASSWORD_CHECK_LIMITS: Readonly<PasswordCheckLimits> = Object.freeze({ running: 2, waiting: 6, reserved: 2 });

export class PasswordChecks {
  private running = 0;
  /** Known addresses' checks go first: they are few, and they are the operators locked out if a flood holds the queue. */
  private readonly queues: { known: Array<() => void>; other: Array<() => void> } = { known: [], other: [] };
  /** Refused since start-up (for tests and the log). */
  refused = 0;

  constructor(private readonly limits: PasswordCheckLimits = PASSWORD_CHECK_LIMITS) {}

  get inUse(): number {
    return this.running + this.queues.known.length + this.queues.other.length;
  }

  /** Runs `check` in its turn; throws rate_limited at once when every place it may take is in use. */
  async run<T>(known: boolean, check: () => Promise<T>): Promise<T> {
    const places = this.limits.running + this.limits.waiting - (known ? 0 : this.limits.reserved);
    if (this.inUse >= places) {
      this.refused++;
      throw new AppError('rate_limited', 'the server is busy checking other logins: try again in a moment', { retryAfter: 1 });
    }
    if (this.running >= this.limits.running) await new Promise<void>((start) => (known ? this.queues.known : this.queues.other).push(start));
    else this.running++;
    try {
      return await check();
    } finally {
      // The place passes to the next waiter as it is: running stays counted, so nobody arriving now can overtake.
      const next = this.queues.known.shift() ?? this.queues.other.shift();
      if (next) next();
      else this.running--;
    }
  }
}
