/**
 * @module What is written about attempts refused past an address's budget: the first refusal per address and window gets
 * its audit entry and log line, the rest of the window is counted, and one summary is written at the window's end.
 *
 * Why: each anonymous attempt (a login, a dead resume token, an op before login) used to be audited, and past the
 * budget each `rate_limited` still was, so one connection wrote 3,000 hash-chained entries in 3 s and pushed the
 * operators' own entries out of `audit.list`'s window. As `net/refusal-log.ts` does for terminals, individual entries
 * stay for the usual case, and a flood costs at most one entry per address and window plus the summary.
 */

/** The window: the address budget's own (20 attempts a minute). */
export const THROTTLE_WINDOW_MS = 60_000;
/** Addresses told apart per window; past it, refusals from new addresses are only counted (`fromAddressesNotCounted`). */
export const MAX_ADDRESSES = 10_000;
const TOP_ADDRESSES = 5;

export interface ThrottleSummary {
  /** Refusals counted but not written one by one. */
  notWritten: number;
  /** By op name. */
  ops: Record<string, number>;
  distinctAddresses: number;
  topAddresses: Array<{ address: string; count: number }>;
  fromAddressesNotCounted?: number;
}

export class ThrottledAttempts {
  /** Per address seen this window: refusals after its first. */
  private counts = new Map<string, number>();
  private ops: Record<string, number> = {};
  private notWritten = 0;
  private others = 0;

  /** True: write this refusal (the address's first in the window). False: it is counted for the summary. */
  note(address: string, op: string): boolean {
    const seen = this.counts.get(address);
    if (seen === undefined && this.counts.size < MAX_ADDRESSES) {
      this.counts.set(address, 0);
      return true;
    }
    if (seen === undefined) this.others++;
    else this.counts.set(address, seen + 1);
    this.notWritten++;
    this.ops[op] = (this.ops[op] ?? 0) + 1;
    return false;
  }

  /** The window's summary, or null when every refusal was written; starts a new window. */
  drain(): ThrottleSummary | null {
    const { counts, ops, notWritten, others } = this;
    this.counts = new Map();
    this.ops = {};
    this.notWritten = 0;
    this.others = 0;
    if (notWritten === 0) return null;
    const busiest = [...counts].filter(([, count]) => count > 0).sort((a, b) => b[1] - a[1]);
    return {
      notWritten, ops, distinctAddresses: busiest.length,
      topAddresses: busiest.slice(0, TOP_ADDRESSES).map(([address, count]) => ({ address, count })),
      ...(others > 0 ? { fromAddressesNotCounted: others } : {}),
    };
  }
}
