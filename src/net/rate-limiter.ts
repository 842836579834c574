/** @module Token-bucket rate limits by key (remote address, user), with a hard cap on tracked keys so a flood cannot grow memory. */

export interface RateLimit {
  /** Sustained requests per second. */
  perSecond: number;
  /** Requests allowed at once after a quiet period. */
  burst: number;
}

export type Admission = { ok: true } | { ok: false; retryAfterSec: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    /** Beyond this many tracked keys the oldest are forgotten: a forgotten key restarts with a full bucket, which errs towards serving. */
    private readonly maxKeys = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  take(key: string): Admission {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket) {
      bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.limit.perSecond);
      bucket.updatedAt = now;
      // Re-insert so Map order stays least-recently-used first.
      this.buckets.delete(key);
    } else {
      bucket = { tokens: this.limit.burst, updatedAt: now };
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
    }
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSec: Math.max(1, Math.ceil((1 - bucket.tokens) / this.limit.perSecond)) };
  }

  get trackedKeys(): number {
    return this.buckets.size;
  }
}
