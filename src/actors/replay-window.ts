/** @module One terminal's replay window: nonces seen inside the clock-skew window, mirrored to LMDB so a restart does not reopen it. */
import type { Store } from '../store/store.js';
import type { WriteBehind } from './write-behind.js';

export class ReplayWindow {
  private readonly seen = new Map<string, number>();
  /** Prune when the window grows past this; doubled after a prune that freed little, so pruning stays amortised O(1). */
  private pruneAt = 256;

  /** Activation loads what earlier activations (or the process before a restart) recorded. */
  constructor(store: Store, private readonly writeBehind: WriteBehind, private readonly serial: string) {
    for (const { key, value } of store.withPrefix(store.nonces, serial)) {
      this.seen.set(key.slice(serial.length + 1), value);
    }
  }

  /**
   * Records `nonce` until `expiresAtSec`; false when it was already seen and has not expired.
   * MUST be called only after the signature verified, or a forger could burn a terminal's nonces.
   */
  admit(nonce: string, expiresAtSec: number, nowSec: number): boolean {
    const known = this.seen.get(nonce);
    if (known !== undefined && known >= nowSec) return false;
    if (this.seen.size >= this.pruneAt) {
      this.prune(nowSec);
      this.pruneAt = Math.max(256, this.seen.size * 2);
    }
    this.seen.set(ownCopy(nonce), expiresAtSec);
    // Written behind: losing the last half second of nonces in a crash is the accepted cost of no write per call.
    this.writeBehind.nonce(this.serial, nonce, expiresAtSec);
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

const PRUNE_CHUNK = 1_000;
/**
 * The pause after each chunk. Pruning scans every stored nonce; at fleet load that is hundreds of thousands of keys
 * a minute, and done at full speed (100,000 scanned and removed: 0.35 s and 0.6 CPU-seconds with lmdb's writer) it
 * took a core from the front threads at once. Paused, it takes a quarter of one core for longer.
 */
export const PRUNE_PAUSE_MS = 10;

/**
 * Removes expired nonces from the store; the server runs it periodically. It reads in chunks and pauses between
 * them, and removes with asynchronous writes: one synchronous transaction over every nonce of a large fleet
 * would hold the event loop (and every terminal's answer) for as long as the scan takes.
 */
export async function pruneNonces(
  store: Store,
  nowSec: number,
  { pauseMs = PRUNE_PAUSE_MS, signal }: { pauseMs?: number; signal?: AbortSignal } = {},
): Promise<{ scanned: number; removed: number }> {
  let scanned = 0;
  let removed = 0;
  let after: string | undefined;
  let last: Promise<unknown> = Promise.resolve();
  for (;;) {
    let fresh = 0;
    // `start` is inclusive: the chunk begins with the key the previous chunk ended on (unless it is already removed).
    for (const { key, value } of store.nonces.getRange({ start: after, limit: PRUNE_CHUNK + 1 })) {
      if (key === after) continue;
      fresh++;
      after = key;
      if (value < nowSec) {
        last = store.nonces.remove(key);
        removed++;
      }
    }
    scanned += fresh;
    // Stopped (the server is closing its store): what is left is pruned by the next run.
    if (fresh === 0 || signal?.aborted) break;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  await last;
  return { scanned, removed };
}
