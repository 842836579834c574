/** @module Token-bucket rate limits by key (remote address, user), with a hard cap on tracked keys so a flood cannot grow memory. */

/**
 * A bucket full again and untouched this long is forgotten as later requests come (`take`): forgetting a full bucket
 * changes nothing (a new key starts full), and the wait keeps a key that comes back within it from being re-created,
 * with its garbage, at every request.
 */
export const FORGET_IDLE_MS = 60_000;
/**
 * Buckets the sweep looks at a request. More than the one key a request can add: a sweep that went one a request behind
 * a flow of new keys walked only those, never coming round to the old ones.
 */
const SWEPT_PER_REQUEST = 2;
/** Fewer buckets than this are not swept: they cost nothing, and a sweep of one (the global limit's) would start over at every other request. */
const SWEPT_FROM_KEYS = 64;

export interface RateLimit {
  /** Sustained requests per second. */
  perSecond: number;
  /** Requests allowed at once after a quiet period. */
  burst: number;
}

export type RateVerdict = { ok: true } | { ok: false; retryAfterSec: number };

interface Bucket {
  /** Its key in the map, for the sweep, which walks the values: an entries() walk makes an array a step, on every request. */
  readonly key: string;
  tokens: number;
  updatedAt: number;
}

export class RateLimiter {
  /** In creation order. A request does not reorder it: a delete and re-insert per request churned the map's table. */
  private readonly buckets = new Map<string, Bucket>();
  /**
   * Where the sweep is in `buckets`: a bucket or two a request, so the keys tracked follow the addresses that called within
   * FORGET_IDLE_MS and a sweep's turn is spread over the requests. Before, every key stayed until `maxKeys` was
   * reached: each front thread held a bucket for each of the 100,000 addresses of a fleet that had ever called it.
   */
  private sweep: IterableIterator<Bucket> = this.buckets.values();

  constructor(
    private readonly limit: RateLimit,
    /** Beyond this many tracked keys some are forgotten (see `makeRoom`); a forgotten key restarts with a full bucket, which errs towards serving. */
    private readonly maxKeys = 100_000,
    /** Monotonic by default: a wall clock stepped back would take tokens from every bucket for as long as the step. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** `now`: the caller's reading of the same clock, when it has one (one reading per request for its two limiters). */
  take(key: string, now = this.now()): RateVerdict {
    for (let i = 0; i < SWEPT_PER_REQUEST; i++) this.forgetOneIdle(now);
    let bucket = this.buckets.get(key);
    if (bucket) {
      bucket.tokens = this.refilled(bucket, now);
      bucket.updatedAt = now;
    } else {
      if (this.buckets.size >= this.maxKeys) this.makeRoom(now);
      bucket = { key, tokens: this.limit.burst, updatedAt: now };
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

  /** Looks at the sweep's next bucket, starting over at the end, and forgets it when it is full and idle. */
  private forgetOneIdle(now: number): void {
    if (this.buckets.size < SWEPT_FROM_KEYS) return;
    let next = this.sweep.next();
    if (next.done === true) {
      this.sweep = this.buckets.values();
      next = this.sweep.next() as IteratorYieldResult<Bucket>;
    }
    const bucket = next.value;
    if (now - bucket.updatedAt >= FORGET_IDLE_MS && this.refilled(bucket, now) >= this.limit.burst) this.buckets.delete(bucket.key);
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
