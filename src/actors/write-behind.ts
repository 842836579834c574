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

  /**
   * Queues everything gathered so far as plain asynchronous puts: lmdb commits them in one transaction on its own
   * write thread, so the event loop pays only the encoding (a synchronous transaction here stalled it 50–90 ms a
   * flush at 4,000 calls/s). Resolves when they are on disk.
   */
  flush(): Promise<void> {
    if (this.nonces.size === 0 && this.seen.size === 0) return this.flushing;
    const { store } = this;
    let last: Promise<unknown> = Promise.resolve();
    for (const [key, expires] of this.nonces) last = store.nonces.put(key, expires);
    // Only this serial's actor writes its last-seen time, and its clock only moves forward: no read is needed.
    for (const [serial, at] of this.seen) last = store.lastSeen.put(serial, at);
    this.nonces = new Map();
    this.seen = new Map();
    this.flushing = Promise.all([this.flushing, store.durable(last)])
      .then(() => undefined)
      .catch((err: unknown) => this.log.error({ err }, 'write-behind flush failed'));
    return this.flushing;
  }

  /** Commits what is gathered in one synchronous transaction: for a thread that is about to exit on a crash. */
  flushNow(): void {
    const { store, nonces, seen } = this;
    this.nonces = new Map();
    this.seen = new Map();
    store.root.transactionSync(() => {
      for (const [key, expires] of nonces) store.nonces.putSync(key, expires);
      for (const [serial, at] of seen) store.lastSeen.putSync(serial, at);
    });
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
