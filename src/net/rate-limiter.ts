/** @module Token-bucket rate limits by key (remote address, user), with a hard cap on tracked keys so a flood cannot grow memory. */

export interface RateLimit {
  /** Sustained requests per second. */
  perSecond: number;
  /** Requests allowed at once after a quiet period. */
  burst: number;
}

export type RateVerdict = { ok: true } | { ok: false; retryAfterSec: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class RateLimiter {
  /** In creation order. A request does not reorder it: a delete and re-insert per request churned the map's table. */
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    /** Beyond this many tracked keys some are forgotten (see `makeRoom`); a forgotten key restarts with a full bucket, which errs towards serving. */
    private readonly maxKeys = 100_000,
    /** Monotonic by default: a wall clock stepped back would take tokens from every bucket for as long as the step. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** `now`: the caller's reading of the same clock, when it has one (one reading per request for its two limiters). */
  take(key: string, now = this.now()): RateVerdict {
    let bucket = this.buckets.get(key);
    if (bucket) {
      bucket.tokens = this.refilled(bucket, now);
      bucket.updatedAt = now;
    } else {
      if (this.buckets.size >= this.maxKeys) this.makeRoom(now);
      bucket = { tokens: this.limit.burst, updatedAt: now };
      this.buckets.set(key, bucket);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSec: Math.max(1, Math.ceil((1 - bucket.tokens) / this.limit.perSecond)) };
  }

  get trackedKeys(): number {
    return this.buckets.size;
  }

  private refilled(bucket: Bucket, now: number): number {
    return Math.min(this.limit.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.limit.perSecond);
  }

  /**
   * Forgets every bucket that has refilled, which changes nothing (a new key starts full). If that leaves less than
   * a tenth of the room free, the oldest keys go too. Either way the next call is a tenth of `maxKeys` new keys
   * away, so a flood of new addresses costs O(1) per request, amortised.
   */
  private makeRoom(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (this.refilled(bucket, now) >= this.limit.burst) this.buckets.delete(key);
    }
    const target = this.maxKeys - Math.max(1, Math.floor(this.maxKeys / 10));
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= target) break;
      this.buckets.delete(key);
    }
  }
}
