/** @module Admission control at the terminal services' edge (gate and master): per-address and global rate limits, and a cap on requests in flight. Cheap, before any parsing or crypto. */
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
    const now = performance.now();
    const own = this.byAddress.take(rateKeyOf(remoteAddress), now);
    if (!own.ok) throw new AppError('rate_limited', 'too many requests from this address', { retryAfter: own.retryAfterSec });
    const all = this.global.take('*', now);
    if (!all.ok) throw new AppError('rate_limited', 'too many requests; retry later', { retryAfter: all.retryAfterSec });
    this.inFlight++;
    this.lastAdmittedAt = now;
  }

  release(): void {
    this.inFlight--;
  }

  get stats(): { inFlight: number; trackedAddresses: number; lastAdmittedAt: number } {
    return { inFlight: this.inFlight, trackedAddresses: this.byAddress.trackedKeys, lastAdmittedAt: this.lastAdmittedAt };
  }
}

/**
 * Whose budget a request spends: an IPv4 address, or the /64 of an IPv6 one. A single IPv6 customer is routinely given a
 * whole /64, so per address a host could take a fresh budget from each of its 2^64 addresses (a reviewer sent 40 from
 * one /64 past a limit of 2 a second). IPv4-mapped addresses (a dual-stack listener) count as their IPv4 address.
 */
export function rateKeyOf(address: string): string {
  if (!address.includes(':')) return address;
  const groups = ipv6Groups(address);
  if (groups === null) return address;
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address in any of its text forms (:: and a dotted IPv4 tail included); null if it is none. */
function ipv6Groups(text: string): number[] | null {
  let address = text.split('%')[0]!.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    address = `${address.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = address.split('::');
  if (halves.length > 2) return null;
  const part = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  const groups = all.map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN));
  return groups.some(Number.isNaN) ? null : groups;
}
