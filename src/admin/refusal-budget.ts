/**
 * @module What is written about the refused ops of logged-in operators. A session sends ops as fast as its socket
 * carries them, and each refusal (an unpair of a serial that does not exist, say) was an audit entry and a warn line:
 * a review's password-only account wrote 3,800 entries in 5 s from one connection, burying the real ones and filling
 * the disk towards `--min-free-disk`. So each operator gets 30 refusals a minute written one by one; past that they are
 * only counted, and one entry per operator sums them up at the window's end (`refusals.throttled`). The op is refused
 * as before: only its entry waits. Ops that succeed are not limited: a script creating thousands of terminals is work.
 */
import { RateLimiter } from '../net/rate-limiter.js';

export const REFUSALS_PER_USER_MINUTE = 30;
/** Operators counted per window; past it, a newcomer's refusals are written one by one (there are not this many). */
const MAX_USERS = 1_000;

export interface RefusalSummary {
  user: string;
  /** Refusals counted but not written one by one. */
  notWritten: number;
  /** By op name. */
  ops: Record<string, number>;
}

export class RefusalBudget {
  private readonly limiter: RateLimiter;
  private counted = new Map<string, { notWritten: number; ops: Record<string, number> }>();

  constructor(now?: () => number) {
    this.limiter = new RateLimiter({ perSecond: REFUSALS_PER_USER_MINUTE / 60, burst: REFUSALS_PER_USER_MINUTE }, MAX_USERS, now);
  }

  /** True: write this refusal of `user`'s `op`. False: it is counted for the user's summary. */
  admit(user: string, op: string): boolean {
    if (this.limiter.take(user).ok) return true;
    let entry = this.counted.get(user);
    if (!entry) {
      if (this.counted.size >= MAX_USERS) return true;
      entry = { notWritten: 0, ops: {} };
      this.counted.set(user, entry);
    }
    entry.notWritten++;
    entry.ops[op] = (entry.ops[op] ?? 0) + 1;
    return false;
  }

  /** The window's summaries, one per operator with refusals not written; starts a new window. */
  drain(): RefusalSummary[] {
    const counted = this.counted;
    this.counted = new Map();
    return [...counted].map(([user, { notWritten, ops }]) => ({ user, notWritten, ops }));
  }
}
