/**
 * @module Writes that no reply waits for — replay-window nonces and last-seen times — gathered and committed
 * together every half second, instead of one LMDB transaction (and flush) per terminal call.
 */
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';

export const WRITE_BEHIND_MS = 500;
/** Puts encoded per turn of the event loop while flushing: about 0.3 ms of work. */
export const FLUSH_CHUNK = 200;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

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
   * Queues everything gathered so far as plain asynchronous puts: lmdb commits them on its own write thread, so the
   * event loop pays only the encoding (a synchronous transaction here stalled it 50–90 ms a flush at 4,000 calls/s).
   * Resolves when they are on disk.
   */
  flush(): Promise<void> {
    const { batch } = this;
    if (batch.nonces.length === 0 && batch.seen.size === 0) return this.flushing;
    this.batch = emptyBatch();
    this.unconfirmed.add(batch);
    // Batches are written one after another, so a last-seen time never overtakes a later one.
    this.flushing = this.flushing
      .then(() => this.write(batch))
      .catch((err: unknown) => this.log.error({ err }, 'write-behind flush failed'));
    return this.flushing;
  }

  /**
   * Encodes the puts FLUSH_CHUNK at a time and lets the event loop run between chunks: encoding one thread's half
   * second at 2,800 calls/s (1,400 nonces) in one go held the loop 2–2.5 ms at the median and up to 6 ms, and every
   * call arriving meanwhile waited for all of it.
   */
  private async write(batch: Batch): Promise<void> {
    const { store } = this;
    let last: Promise<unknown> = Promise.resolve();
    let queued = 0;
    for (let i = 0; i < batch.nonces.length; i++) {
      last = store.nonces.put(batch.serials[i]!, batch.nonces[i]!, batch.created[i]!, batch.expiries[i]!);
      if (++queued % FLUSH_CHUNK === 0) await nextTurn();
    }
    // Only this serial's actor writes its last-seen time, and its clock only moves forward: no read is needed.
    for (const [serial, at] of batch.seen) {
      last = store.lastSeen.put(serial, at);
      if (++queued % FLUSH_CHUNK === 0) await nextTurn();
    }
    // lmdb commits in order: the last put on disk means the whole batch is.
    await store.durable(last);
    this.unconfirmed.delete(batch);
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
