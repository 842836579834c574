/** @module Admission control at a service's edge: per-address and global rate limits, and a cap on requests in flight. Cheap, before any parsing or crypto. */
import { AppError } from '../errors.js';
import { RateLimiter, type RateLimit } from './rate-limiter.js';

export interface AdmissionLimits {
  perAddress: RateLimit;
  global: RateLimit;
  maxInFlight: number;
}

export class Admission {
  private readonly byAddress: RateLimiter;
  private readonly global: RateLimiter;
  private inFlight = 0;
  private lastAdmittedAt = 0;

  constructor(private readonly limits: AdmissionLimits) {
    this.byAddress = new RateLimiter(limits.perAddress);
    this.global = new RateLimiter(limits.global, 1);
  }

  /** Throws rate_limited (429 with Retry-After) or overloaded (503); on success the caller MUST call `release` once. */
  enter(remoteAddress: string): void {
    if (this.inFlight >= this.limits.maxInFlight) {
      throw new AppError('overloaded', 'the server is busy; retry shortly', { retryAfter: 1 });
    }
    const own = this.byAddress.take(remoteAddress);
    if (!own.ok) throw new AppError('rate_limited', 'too many requests from this address', { retryAfter: own.retryAfterSec });
    const all = this.global.take('*');
    if (!all.ok) throw new AppError('rate_limited', 'too many requests; retry later', { retryAfter: all.retryAfterSec });
    this.inFlight++;
    this.lastAdmittedAt = Date.now();
  }

  release(): void {
    this.inFlight--;
  }

  get stats(): { inFlight: number; trackedAddresses: number; lastAdmittedAt: number } {
    return { inFlight: this.inFlight, trackedAddresses: this.byAddress.trackedKeys, lastAdmittedAt: this.lastAdmittedAt };
  }
}
