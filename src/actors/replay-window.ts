/**
 * @module One terminal's replay window: nonces seen inside the clock-skew window, mirrored to LMDB so a restart
 * does not reopen it. Activation loads nothing: a nonce this activation has not seen is looked up in the store.
 */
import type { Store } from '../store/store.js';
import type { WriteBehind } from './write-behind.js';

export class ReplayWindow {
  private readonly seen = new Map<string, number>();
  /** Prune when the window grows past this; doubled after a prune that freed little, so pruning stays amortised O(1). */
  private pruneAt = 256;

  constructor(private readonly store: Store, private readonly writeBehind: WriteBehind, private readonly serial: string) {}

  /**
   * Records `nonce` of a request created at `createdSec` until `expiresAtSec`; false when it was already seen and
   * has not expired. What this activation admitted is in memory (its writes may still be pending); what earlier
   * activations or the process before a restart admitted is in the store, found by the same signed `created`.
   * MUST be called only after the signature verified, or a forger could burn a terminal's nonces.
   */
  admit(nonce: string, createdSec: number, expiresAtSec: number, nowSec: number): boolean {
    const known = this.seen.get(nonce) ?? this.store.nonces.expiryOf(this.serial, nonce, createdSec);
    if (known !== undefined && known >= nowSec) return false;
    if (this.seen.size >= this.pruneAt) {
      this.prune(nowSec);
      this.pruneAt = Math.max(256, this.seen.size * 2);
    }
    const copy = ownCopy(nonce);
    this.seen.set(copy, expiresAtSec);
    // Written behind: losing the last half second of nonces in a crash is the accepted cost of no write per call.
    this.writeBehind.nonce(this.serial, copy, createdSec, expiresAtSec);
    return true;
  }

  private prune(nowSec: number): void {
    for (const [nonce, expires] of this.seen) {
      if (expires < nowSec) this.seen.delete(nonce);
    }
  }
}

/**
 * A copy of `s` that holds no other string. A nonce read out of a header is a slice of the whole header string,
 * which the window would keep alive for the full skew window: 100,000 remembered nonces took 33 MB of heap as
 * slices and 11 MB as copies (node --expose-gc, a 200-byte Signature-Input).
 */
function ownCopy(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}
