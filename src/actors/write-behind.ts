/**
 * @module Writes that no reply waits for — replay-window nonces and last-seen times — gathered and committed
 * together every half second, instead of one LMDB transaction (and flush) per terminal call.
 */
import type { Logger } from '../logger.js';
import { compositeKey, type Store } from '../store/store.js';

export const WRITE_BEHIND_MS = 500;

export class WriteBehind {
  private nonces = new Map<string, number>();
  private seen = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly store: Store, private readonly log: Logger, intervalMs = WRITE_BEHIND_MS) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  /** A nonce seen for `serial`, kept until `expiresAtSec`. A crash loses at most the last interval's nonces. */
  nonce(serial: string, nonce: string, expiresAtSec: number): void {
    this.nonces.set(compositeKey(serial, nonce), expiresAtSec);
  }

  /** The terminal was seen at `at`; written with the next batch. */
  lastSeen(serial: string, at: number): void {
    this.seen.set(serial, at);
  }

  /** Commits everything gathered so far in one transaction; resolves when it is on disk. */
  flush(): Promise<void> {
    if (this.nonces.size === 0 && this.seen.size === 0) return this.flushing;
    const nonces = this.nonces;
    const seen = this.seen;
    this.nonces = new Map();
    this.seen = new Map();
    const { store } = this;
    this.flushing = this.flushing
      .then(() => store.atomically(() => {
        for (const [key, expires] of nonces) store.nonces.putSync(key, expires);
        for (const [serial, at] of seen) {
          // Re-read inside the transaction: never undo an unpair or approval committed meanwhile.
          const latest = store.terminals.get(serial);
          if (latest && (latest.lastSeenAt ?? 0) < at) store.terminals.putSync(serial, { ...latest, lastSeenAt: at });
        }
      }))
      .catch((err: unknown) => this.log.error({ err }, 'write-behind flush failed'));
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
