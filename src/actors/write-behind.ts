/**
 * @module Writes that no reply waits for — replay-window nonces and last-seen times — gathered and committed
 * together every half second, instead of one LMDB transaction (and flush) per terminal call.
 */
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';

export const WRITE_BEHIND_MS = 500;

/** Nonces as parallel arrays: no object or key string per nonce until lmdb encodes it. */
interface Batch {
  serials: string[];
  nonces: string[];
  created: number[];
  expiries: number[];
  seen: Map<string, number>;
}

const emptyBatch = (): Batch => ({ serials: [], nonces: [], created: [], expiries: [], seen: new Map() });

export class WriteBehind {
  private batch = emptyBatch();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  /** Batches handed to lmdb and not yet on disk: a crash before they commit MUST still write them (flushNow). */
  private readonly unconfirmed = new Set<Batch>();

  constructor(private readonly store: Store, private readonly log: Logger, intervalMs = WRITE_BEHIND_MS) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  /** A nonce seen for `serial` in a request created at `createdSec`, kept until `expiresAtSec`. A crash loses at most the last interval's nonces. */
  nonce(serial: string, nonce: string, createdSec: number, expiresAtSec: number): void {
    const { batch } = this;
    batch.serials.push(serial);
    batch.nonces.push(nonce);
    batch.created.push(createdSec);
    batch.expiries.push(expiresAtSec);
  }

  /** The terminal was seen at `at`; written with the next batch. */
  lastSeen(serial: string, at: number): void {
    this.batch.seen.set(serial, at);
  }

  /**
   * Queues everything gathered so far as plain asynchronous puts: lmdb commits them in one transaction on its own
   * write thread, so the event loop pays only the encoding (a synchronous transaction here stalled it 50–90 ms a
   * flush at 4,000 calls/s). Resolves when they are on disk.
   */
  flush(): Promise<void> {
    const { store, batch } = this;
    if (batch.nonces.length === 0 && batch.seen.size === 0) return this.flushing;
    this.batch = emptyBatch();
    let last: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < batch.nonces.length; i++) last = store.nonces.put(batch.serials[i]!, batch.nonces[i]!, batch.created[i]!, batch.expiries[i]!);
    // Only this serial's actor writes its last-seen time, and its clock only moves forward: no read is needed.
    for (const [serial, at] of batch.seen) last = store.lastSeen.put(serial, at);
    this.unconfirmed.add(batch);
    this.flushing = Promise.all([this.flushing, store.durable(last).then(() => this.unconfirmed.delete(batch))])
      .then(() => undefined)
      .catch((err: unknown) => this.log.error({ err }, 'write-behind flush failed'));
    return this.flushing;
  }

  /**
   * Commits, in one synchronous transaction, what is gathered and every batch not yet known to be on disk (lmdb
   * starts an asynchronous commit on a later event-loop turn, which a thread exiting on a crash never reaches).
   * Writing a batch twice is harmless: the same keys get the same values, oldest batch first.
   */
  flushNow(): void {
    const { store } = this;
    const batches = [...this.unconfirmed, this.batch];
    this.batch = emptyBatch();
    store.root.transactionSync(() => {
      for (const batch of batches) {
        for (let i = 0; i < batch.nonces.length; i++) store.nonces.putSync(batch.serials[i]!, batch.nonces[i]!, batch.created[i]!, batch.expiries[i]!);
        for (const [serial, at] of batch.seen) store.lastSeen.putSync(serial, at);
      }
    });
    this.unconfirmed.clear();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
