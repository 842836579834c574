/**
 * @module Writes that no reply waits for — replay-window nonces and last-seen times — gathered and committed
 * together every half second, instead of one LMDB transaction (and flush) per terminal call.
 */
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import { grown } from '../typed-arrays.js';
import { NonceBatch } from './nonce-batch.js';

export const WRITE_BEHIND_MS = 500;
/** Puts encoded per turn of the event loop while flushing: about 0.3 ms of work. */
export const FLUSH_CHUNK = 200;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** When the last of a batch's nonces expires, epoch seconds. */
function lastExpiry(nonces: NonceBatch): number {
  let latest = -Infinity;
  for (let i = 0; i < nonces.size; i++) latest = Math.max(latest, nonces.expiresAt(i));
  return latest;
}

/** A refused batch stays open for later refused batches this long (holdFailed). */
const FAILED_BATCH_SPAN_MS = 30_000;

interface FailedBatch {
  batch: Batch;
  /** Epoch seconds by which every nonce in it has expired (-Infinity when it holds none); Infinity for a batch not yet refused. */
  expiresBy: number;
  /** When it was first refused, epoch ms. */
  openedAt: number;
}

interface Batch {
  nonces: NonceBatch;
  seen: SeenBatch;
}

/**
 * One batch's last-seen times, in the order they came. An actor writes its terminal's at most every 10 s, so a serial
 * seldom repeats in a batch, and when it does the later put wins. Arrays reused from batch to batch rather than a new
 * Map each: the Map's growing tables and the boxed times were most of what a front's scavenges still copied.
 */
class SeenBatch {
  size = 0;
  private serials: (string | undefined)[] = [];
  private times = new Float64Array(256);

  add(serial: string, at: number): void {
    if (this.size === this.times.length) this.times = grown(this.times, this.times.length * 2);
    this.serials[this.size] = serial;
    this.times[this.size++] = at;
  }

  serial(i: number): string {
    return this.serials[i]!;
  }

  at(i: number): number {
    return this.times[i]!;
  }

  clear(): void {
    this.serials.fill(undefined, 0, this.size);
    this.size = 0;
  }

  /**
   * Puts `older`'s times before this batch's, one per serial: the last, which writing them all in order would leave.
   * Keeping one per serial bounds what a full disk of hours holds by the fleet, not by how long it lasts. A Map here,
   * unlike add: this runs once per refused batch let go (every FAILED_BATCH_SPAN_MS at most), not per call. Folded
   * FLUSH_CHUNK at a time, as write encodes: 168,000 times in one go held the loop 6-38 ms in a throwaway measurement.
   * This batch MUST stay as it was until the fold is done: a crashing thread writes it meanwhile (flushNow).
   */
  async carry(older: SeenBatch): Promise<void> {
    const latest = new Map<string, number>();
    let folded = 0;
    for (const batch of [older, this]) {
      for (let i = 0; i < batch.size; i++) {
        latest.set(batch.serial(i), batch.at(i));
        if (++folded % FLUSH_CHUNK === 0) await nextTurn();
      }
    }
    this.clear();
    for (const [serial, at] of latest) this.add(serial, at);
  }
}

export class WriteBehind {
  private batch: Batch;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  /** Batches handed to lmdb and not yet on disk, oldest first: a crash before they commit MUST still write them (flushNow). */
  private readonly unconfirmed = new Set<Batch>();
  /**
   * The last batch known to be on disk, still searched for one more interval: a read that began before its commit
   * would not see it in the store.
   */
  private recent: Batch | null = null;
  /** Batches the store could not take, oldest first. */
  private failed: FailedBatch[] = [];
  /** Emptied batches, reused so that their arrays and indexes are not allocated again every half second. */
  private readonly spare: Batch[] = [];

  constructor(private readonly store: Store, private readonly log: Logger, intervalMs = WRITE_BEHIND_MS) {
    this.batch = this.freshBatch();
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  /** A nonce seen for `serial` in a request created at `createdSec`, kept until `expiresAtSec`. A crash loses at most the last interval's nonces. */
  nonce(serial: string, nonce: string, createdSec: number, expiresAtSec: number): void {
    this.batch.nonces.add(serial, nonce, createdSec, expiresAtSec);
  }

  /**
   * The expiry of the newest record of (serial, nonce) not yet known to be in the store, if any. Together with the
   * store this is every nonce this thread admitted: the replay window needs nothing else.
   */
  pendingExpiry(serial: string, nonce: string): number | undefined {
    const newest = this.batch.nonces.expiryOf(serial, nonce);
    if (newest !== undefined) return newest;
    let found: number | undefined;
    // Oldest first, so that the newest record wins.
    for (const batch of this.unconfirmed) found = batch.nonces.expiryOf(serial, nonce) ?? found;
    return found ?? this.recent?.nonces.expiryOf(serial, nonce);
  }

  /** The terminal was seen at `at`; written with the next batch. */
  lastSeen(serial: string, at: number): void {
    this.batch.seen.add(serial, at);
  }

  /**
   * Queues everything gathered so far as plain asynchronous puts: lmdb commits them on its own write thread, so the
   * event loop pays only the encoding (a synchronous transaction here stalled it 50–90 ms a flush at 4,000 calls/s).
   * Resolves when they are on disk, or when the store could not take them (a full disk): such a batch stays in memory,
   * still answering for its nonces, and is offered again first at the next flush.
   */
  flush(): Promise<void> {
    const { batch } = this;
    const empty = batch.nonces.size === 0 && batch.seen.size === 0;
    if (empty && this.failed.length === 0) return this.flushing;
    if (!empty) {
      this.batch = this.freshBatch();
      this.unconfirmed.add(batch);
    }
    // Batches are written one after another, so a last-seen time never overtakes a later one.
    this.flushing = this.flushing
      .then(() => this.writeInOrder(empty ? null : batch))
      .catch((err: unknown) => this.log.error({ err }, 'write-behind flush failed'));
    return this.flushing;
  }

  /**
   * Batches that failed before, oldest first, then `batch`; stops at the first that fails again, so a full disk costs
   * one batch's encoding per flush and not the whole backlog. A failed batch whose every nonce has expired (or that
   * holds none) lets its nonces go: a replay of those requests is refused by their age alone. Its last-seen times
   * are not let go with them: they go first in the batch after it, or, when it is the last, are written alone.
   */
  private async writeInOrder(batch: Batch | null): Promise<void> {
    const queue = this.failed.splice(0);
    if (batch) queue.push({ batch, expiresBy: Infinity, openedAt: Date.now() });
    const nowSec = Date.now() / 1000;
    for (let i = 0; i < queue.length; i++) {
      const entry = queue[i]!;
      if (entry.expiresBy < nowSec) {
        const next = queue[i + 1];
        if (next || entry.batch.seen.size === 0) {
          // Before the later batch's own times: a time carried after them would set a terminal's last-seen back.
          await next?.batch.seen.carry(entry.batch.seen);
          this.unconfirmed.delete(entry.batch);
          this.retire(entry.batch);
          continue;
        }
        // Only its times are left to write; refused again, it is kept as it is (holdFailed) and offered next time.
        entry.batch.nonces.clear();
      }
      if (await this.write(entry.batch)) continue;
      for (const later of queue.slice(i)) this.holdFailed(later);
      return;
    }
  }

  /**
   * Keeps a batch the store refused. A new one goes into the newest refused batch while that is under
   * FAILED_BATCH_SPAN_MS old, so that an outage of minutes leaves a few dozen batches for pendingExpiry to look
   * through on every call, not one per half second, and still lets them go a span at a time as they expire.
   */
  private holdFailed(entry: FailedBatch): void {
    if (entry.expiresBy !== Infinity) {
      this.failed.push(entry);
      return;
    }
    const { batch } = entry;
    const newest = this.failed.at(-1);
    const now = Date.now();
    if (newest === undefined || now - newest.openedAt >= FAILED_BATCH_SPAN_MS) {
      this.failed.push({ batch, expiresBy: lastExpiry(batch.nonces), openedAt: now });
      return;
    }
    const { nonces, seen } = batch;
    for (let i = 0; i < nonces.size; i++) newest.batch.nonces.add(nonces.serial(i), nonces.nonce(i), nonces.createdAt(i), nonces.expiresAt(i));
    for (let i = 0; i < seen.size; i++) newest.batch.seen.add(seen.serial(i), seen.at(i));
    newest.expiresBy = Math.max(newest.expiresBy, lastExpiry(nonces));
    this.unconfirmed.delete(batch);
    this.retire(batch);
  }

  /**
   * Encodes the puts FLUSH_CHUNK at a time and lets the event loop run between chunks: encoding one thread's half
   * second at 2,800 calls/s (1,400 nonces) in one go held the loop 2–2.5 ms at the median and up to 6 ms, and every
   * call arriving meanwhile waited for all of it. True once the batch is on disk.
   */
  private async write(batch: Batch): Promise<boolean> {
    const { store } = this;
    const { nonces } = batch;
    // An almost full disk: kept for a later flush, as if the store had refused it.
    if (store.space?.low) return false;
    // Puts that lmdb commits together share one promise. Each distinct one is waited for: a commit failing unobserved
    // would end the thread (store.ts, causeOf).
    const commits: Promise<unknown>[] = [];
    let last: Promise<unknown> | null = null;
    const put = (write: Promise<unknown>): void => {
      if (write === last) return;
      last = write;
      commits.push(store.settled(write));
    };
    let queued = 0;
    for (let i = 0; i < nonces.size; i++) {
      const write = this.tryPut(() => store.nonces.put(nonces.serial(i), nonces.nonce(i), nonces.createdAt(i), nonces.expiresAt(i)));
      if (write) put(write);
      if (++queued % FLUSH_CHUNK === 0) await nextTurn();
    }
    // Only this serial's actor writes its last-seen time, and its clock only moves forward: no earlier time can overtake
    // it. But the terminal may be gone by now, or deleted and created again (a batch refused on a full disk and offered
    // again after the delete): a time is written only onto the terminal it was seen as, checked at every attempt. The
    // check is a read before an asynchronous put, not one transaction with it: lmdb runs a transaction's callback on the
    // event loop, a batch's all at once (2,500 reads and puts held it 12-59 ms). A delete committed between the read
    // and the put leaves a time of no terminal, which a create of the serial removes (ops.ts). A put that commits after
    // that create as well leaves a time older than the new terminal: lastSeenAt and countRollover ignore it.
    for (let i = 0; i < batch.seen.size; i++) {
      const serial = batch.seen.serial(i);
      const at = batch.seen.at(i);
      if (store.seenAsCreated(serial, at)) put(store.lastSeen.put(serial, at));
      if (++queued % FLUSH_CHUNK === 0) await nextTurn();
    }
    const failures = await Promise.all(commits);
    if (failures.some((failure) => failure !== null)) return false;
    // lmdb commits in order: every commit resolved and flushed means the whole batch is on disk.
    if ((await store.settled(store.flushed())) !== null) return false;
    // A crash may have written it already (flushNow), and then it is no longer ours to keep or reuse.
    if (!this.unconfirmed.delete(batch)) return true;
    if (this.recent) this.retire(this.recent);
    this.recent = batch;
    return true;
  }

  /**
   * Writes what is gathered now; true once it and every earlier batch are on disk. False when some batch is not known
   * to be (a write failed, or a later batch is still being written): only this thread can then answer for its nonces.
   */
  async written(): Promise<boolean> {
    await this.flush();
    return this.unconfirmed.size === 0;
  }

  /**
   * Commits, in one synchronous transaction, what is gathered and every batch not yet known to be on disk (lmdb
   * starts an asynchronous commit on a later event-loop turn, which a thread exiting on a crash never reaches).
   * Writing a batch twice is harmless: the same keys get the same values, oldest batch first.
   */
  flushNow(): void {
    const { store } = this;
    const batches = [...this.unconfirmed, this.batch];
    this.batch = this.freshBatch();
    store.root.transactionSync(() => {
      for (const { nonces, seen } of batches) {
        for (let i = 0; i < nonces.size; i++) this.tryPut(() => store.nonces.putSync(nonces.serial(i), nonces.nonce(i), nonces.createdAt(i), nonces.expiresAt(i)));
        for (let i = 0; i < seen.size; i++) if (store.seenAsCreated(seen.serial(i), seen.at(i))) store.lastSeen.putSync(seen.serial(i), seen.at(i));
      }
    });
    this.unconfirmed.clear();
  }

  /**
   * A put lmdb refuses at once (a key it cannot hold) is logged and left out, so that it cannot take the batch's other
   * nonces with it. Request parsing bounds every part of the key (nonce, serial), so this is a last line of defence.
   */
  private tryPut<T>(put: () => T): T | null {
    try {
      return put();
    } catch (err) {
      this.log.error({ err }, 'write-behind: a nonce the store cannot hold was left out');
      return null;
    }
  }

  /**
   * Writes what is gathered and, whatever the free-space watermark, what the store could not take before: a graceful
   * shutdown that dropped them reopened their replay window at the next start (the watermark keeps room for
   * operators' writes; a shutdown's few nonces do not need it). A disk that is really full refuses them: logged, with
   * how many, as the one loss left.
   */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    if (this.unconfirmed.size === 0) return;
    let nonces = 0;
    for (const batch of this.unconfirmed) nonces += batch.nonces.size;
    try {
      this.flushNow();
      this.log.info({ nonces }, 'write-behind: wrote the nonces held back while the disk was almost full');
    } catch (err) {
      this.log.error({ err, nonces }, 'write-behind: the store refused the last nonces at shutdown; their requests can be replayed after the restart until they expire');
    }
  }

  private freshBatch(): Batch {
    return this.spare.pop() ?? { nonces: new NonceBatch(), seen: new SeenBatch() };
  }

  private retire(batch: Batch): void {
    batch.nonces.clear();
    batch.seen.clear();
    // One spare is enough: batches are written one at a time, so at most one is taken before the next is retired.
    if (this.spare.length === 0) this.spare.push(batch);
  }
}
