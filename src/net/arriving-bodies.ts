/**
 * @module The bodies a service is receiving: each gets a deadline once its head is in, there are at most so many at
 * once, a new one taking the place of the one arriving longest of whoever is sending the most, and a sender may be
 * capped at so many of its own. uWS closes a connection only after 10 s without a byte, so a client sending a byte
 * every few seconds held its place in admission for as long as it liked; and the gate lets any self-signed key upload,
 * so 32 addresses × 8 slow bodies held all 512 of its places. A terminal's body arrives with its head or in the next
 * packets: a body that has been arriving longest is the one least likely to be a terminal's. But the oldest of all is
 * not enough: one paired terminal (one stolen key) starting a quarter of master's places of slow bodies displaced every
 * other terminal's upload still arriving, those on a slow link first. Whoever holds the most places gives one back, so
 * a sender displaces its own bodies before anyone else's.
 */
import { AppError } from '../errors.js';

export interface BodyLimits {
  /** How long a body may take to arrive, once its head is in. */
  deadlineMs: number;
  /** Bodies arriving at once; the one arriving longest is dropped for a new one beyond. */
  maxArriving: number;
  /**
   * Bodies one holder may have arriving at once, a new one refused beyond (`admit`); none: no cap of its own. The gate
   * sets it: any self-signed key authenticates there, so a slow upload is the cheapest way to hold a place.
   */
  maxPerHolder?: number;
}

/** Why a body was dropped before it was in. */
export type BodyDropped = 'late' | 'displaced';

interface Arriving {
  /** Who sends it: a paired terminal's serial on master, the address on the gate (terminal-service.ts). */
  holder: string;
  since: number;
}

export class ArrivingBodies {
  /** What to call when a body is dropped, with who sends it and since when. A Map keeps insertion order: the first is the oldest. */
  private readonly arriving = new Map<(why: BodyDropped) => void, Arriving>();
  /** How many bodies each holder has arriving: a count, not a set of them, so a body costs no allocation of its own. */
  private readonly held = new Map<string, number>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly limits: BodyLimits) {}

  /**
   * Throws rate_limited when `holder` already has maxPerHolder bodies arriving: called before a body's first byte is
   * read, so the refusal is answered at once and the connection closed without reading the upload.
   */
  admit(holder: string): void {
    const max = this.limits.maxPerHolder;
    if (max !== undefined && (this.held.get(holder) ?? 0) >= max) {
      throw new AppError('rate_limited', `${max} request bodies from this sender are arriving already; send one once another is in`, { retryAfter: 1 });
    }
  }

  /**
   * Starts the clock for one body sent by `holder`. `drop` is called once if the body is still arriving `deadlineMs`
   * after this (give or take the sweep's period), or when a new body needs its place and `holder` has the most arriving.
   * The returned function stops the clock once the body is in or the request has failed; after `drop` it does nothing.
   */
  start(holder: string, drop: (why: BodyDropped) => void): () => void {
    if (this.arriving.size >= this.limits.maxArriving) this.displaceOne();
    this.arriving.set(drop, { holder, since: performance.now() });
    this.held.set(holder, (this.held.get(holder) ?? 0) + 1);
    // One timer for all bodies, not one per request: a timer per call would cost every cash event its setup and
    // teardown. It runs while bodies arrive, and stops at the first sweep that finds none.
    this.sweeper ??= setInterval(() => this.sweep(), Math.min(1_000, Math.max(10, this.limits.deadlineMs / 4))).unref();
    return () => this.forget(drop);
  }

  get size(): number {
    return this.arriving.size;
  }

  private forget(drop: (why: BodyDropped) => void): void {
    const body = this.arriving.get(drop);
    if (body === undefined) return;
    this.arriving.delete(drop);
    const left = this.held.get(body.holder)! - 1;
    if (left > 0) this.held.set(body.holder, left);
    else this.held.delete(body.holder);
  }

  /**
   * Drops the oldest body of the holder with the most arriving; among holders with as many, the one whose oldest has
   * been arriving longest (the first of theirs in start order). Two scans, at most maxArriving each, and only when
   * every place is taken.
   */
  private displaceOne(): void {
    let most = 0;
    for (const count of this.held.values()) most = Math.max(most, count);
    for (const [drop, { holder }] of this.arriving) {
      if (this.held.get(holder) !== most) continue;
      this.forget(drop);
      drop('displaced');
      return;
    }
  }

  private sweep(): void {
    const startedBy = performance.now() - this.limits.deadlineMs;
    for (const [drop, { since }] of this.arriving) {
      if (since > startedBy) break;
      this.forget(drop);
      drop('late');
    }
    if (this.arriving.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }
}
