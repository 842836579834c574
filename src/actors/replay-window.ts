/**
 * @module One terminal's replay window: nonces seen inside the clock-skew window, in the thread's write-behind until
 * they are in LMDB, so neither an actor's eviction nor a restart reopens it. Activation loads nothing.
 */
import type { Store } from '../store/store.js';
import type { WriteBehind } from './write-behind.js';

export class ReplayWindow {
  constructor(private readonly store: Store, private readonly writeBehind: WriteBehind, private readonly serial: string) {}

  /**
   * Records `nonce` of a request created at `createdSec` until `expiresAtSec`; false when it was already seen and
   * has not expired. What this thread admitted and has not yet written is in the write-behind; the rest is in the
   * store, found by the same signed `created`. The actor keeps no nonces of its own: a map per actor, growing with
   * every call, was most of what the front threads promoted and threw away.
   * MUST be called only after the signature verified, or a forger could burn a terminal's nonces.
   */
  admit(nonce: string, createdSec: number, expiresAtSec: number, nowSec: number): boolean {
    const known = this.writeBehind.pendingExpiry(this.serial, nonce) ?? this.store.nonces.expiryOf(this.serial, nonce, createdSec);
    if (known !== undefined && known >= nowSec) return false;
    // Written behind: losing the last half second of nonces in a crash is the accepted cost of no write per call.
    this.writeBehind.nonce(this.serial, nonce, createdSec, expiresAtSec);
    return true;
  }
}

