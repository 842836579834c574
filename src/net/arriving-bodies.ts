/**
 * @module The bodies a service is receiving: each gets a deadline once its head is in, and there are at most so many at
 * once, the one arriving longest giving way to a new one. uWS closes a connection only after 10 s without a byte, so
 * a client sending a byte every few seconds held its place in admission for as long as it liked; and the gate lets any
 * self-signed key upload, so 32 addresses × 8 slow bodies held all 512 of its places. A terminal's body arrives with
 * its head or in the next packets: a body that has been arriving longest is the one least likely to be a terminal's.
 */

export interface BodyLimits {
  /** How long a body may take to arrive, once its head is in. */
  deadlineMs: number;
  /** Bodies arriving at once; the one arriving longest is dropped for a new one beyond. */
  maxArriving: number;
}

/** Why a body was dropped before it was in. */
export type BodyDropped = 'late' | 'displaced';

export class ArrivingBodies {
  /** What to call when a body is dropped, by when it started. A Map keeps insertion order: the first is the oldest. */
  private readonly arriving = new Map<(why: BodyDropped) => void, number>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly limits: BodyLimits) {}

  /**
   * Starts the clock for one body. `drop` is called once if the body is still arriving `deadlineMs` after this (give or
   * take the sweep's period), or when a new body needs its place. The returned function stops the clock once the body
   * is in or the request has failed; after `drop` it does nothing.
   */
  start(drop: (why: BodyDropped) => void): () => void {
    if (this.arriving.size >= this.limits.maxArriving) this.dropOldest('displaced');
    this.arriving.set(drop, performance.now());
    // One timer for all bodies, not one per request: a timer per call would cost every cash event its setup and
    // teardown. It runs while bodies arrive, and stops at the first sweep that finds none.
    this.sweeper ??= setInterval(() => this.sweep(), Math.min(1_000, Math.max(10, this.limits.deadlineMs / 4))).unref();
    return () => void this.arriving.delete(drop);
  }

  get size(): number {
    return this.arriving.size;
  }

  private dropOldest(why: BodyDropped): void {
    const oldest = this.arriving.keys().next();
    if (oldest.done) return;
    this.arriving.delete(oldest.value);
    oldest.value(why);
  }

  private sweep(): void {
    const startedBy = performance.now() - this.limits.deadlineMs;
    for (const [drop, since] of this.arriving) {
      if (since > startedBy) break;
      this.arriving.delete(drop);
      drop('late');
    }
    if (this.arriving.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }
}
