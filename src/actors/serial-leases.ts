/**
 * @module Which front thread runs each serial's actor. An actor lives on one thread at a time, so a terminal's calls
 * run in order and its replay window has one writer; a lease in a table that every thread shares says which thread.
 * A thread takes a free lease for the calls that reach it on its own sockets, so a terminal's keep-alive connection
 * and its actor end up on the same thread and its calls do not hop. Leases cover buckets of serials (a hash), so the
 * table has a fixed size that shared memory can hold; serials that share a bucket share a thread.
 */
import { serialHash } from './shard.js';

/**
 * 2^18 buckets: 1 MiB shared, and 4 MiB of counts and times per thread. With 100,000 terminals about one in three shares its
 * bucket; with 10,000, about one in twenty-five.
 */
export const LEASE_BUCKETS = 1 << 18;
/** A bucket no thread holds. */
export const FREE = -1;
/**
 * A holder hands a bucket over when the calls for it have come from another thread only, for this long. Shorter
 * than a terminal's usual call interval would move an actor back and forth between two terminals sharing a bucket.
 */
export const HANDOFF_AFTER_MS = 1_000;

export const bucketOf = (serial: string): number => serialHash(serial) & (LEASE_BUCKETS - 1);

/** A table with every bucket free; pass it to every thread (a SharedArrayBuffer is shared, not copied). */
export function createLeaseTable(): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(LEASE_BUCKETS * Int32Array.BYTES_PER_ELEMENT);
  new Int32Array(buffer).fill(FREE);
  return buffer;
}

/** The table as the supervising thread sees it: who holds a serial, and freeing the leases of a thread that died. */
export class LeaseTable {
  protected readonly slots: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.slots = new Int32Array(buffer);
  }

  /** The thread holding `serial`'s bucket, or FREE. */
  holder(serial: string): number {
    return Atomics.load(this.slots, bucketOf(serial));
  }

  /**
   * How many buckets each of threads 0..threads-1 holds. A snapshot for people: leases taken or freed during the scan
   * may or may not be counted, so plain reads are enough.
   */
  countByHolder(threads: number): number[] {
    const counts = new Array<number>(threads).fill(0);
    for (let bucket = 0; bucket < LEASE_BUCKETS; bucket++) {
      const holder = this.slots[bucket]!;
      if (holder >= 0 && holder < threads) counts[holder]!++;
    }
    return counts;
  }

  /**
   * Frees every bucket thread `index` holds; returns how many. MUST be called only once that thread has exited: what
   * it wrote is then on disk (or, for the last half second of nonces of a thread that could not flush, lost with it).
   */
  releaseAll(index: number): number {
    let freed = 0;
    for (let bucket = 0; bucket < LEASE_BUCKETS; bucket++) {
      if (Atomics.compareExchange(this.slots, bucket, index, FREE) === index) freed++;
    }
    return freed;
  }
}

export interface LeaseHooks {
  /**
   * This thread just took `serial`'s bucket. The thread that held it before wrote to the store; this thread's read
   * snapshot may predate that and MUST be renewed before the actor reads.
   */
  claimed(serial: string): void;
  /** True once everything this thread's actors wrote so far is on disk; false when that cannot be said (a write failed). */
  durable(): Promise<boolean>;
  released(bucket: number): void;
}

/**
 * One front thread's leases: it takes free buckets, counts its live actors per bucket, and frees a bucket once the
 * last of them is evicted and everything they wrote is on disk, so the next holder reads what they admitted.
 */
export class ThreadLeases extends LeaseTable {
  private readonly live = new Int32Array(LEASE_BUCKETS);
  /** Bumped whenever a bucket's last actor goes: a release started before a later activation MUST NOT complete. */
  private readonly epoch = new Int32Array(LEASE_BUCKETS);
  /** When a call for the bucket last came in on this thread's own sockets. */
  private readonly lastLocal = new Float64Array(LEASE_BUCKETS);

  constructor(buffer: SharedArrayBuffer, readonly self: number, private readonly hooks: LeaseHooks, private readonly now: () => number = Date.now) {
    super(buffer);
  }

  /**
   * The thread that runs `serial`'s actor: this one when it holds the bucket or has just taken it free, else the
   * holder. `local`: the call came in on this thread's own sockets (not from another thread or an operator).
   */
  route(serial: string, local: boolean): number {
    const bucket = bucketOf(serial);
    let holder = Atomics.load(this.slots, bucket);
    if (holder === FREE) {
      holder = Atomics.compareExchange(this.slots, bucket, FREE, this.self);
      if (holder === FREE) {
        holder = this.self;
        this.hooks.claimed(serial);
      }
    }
    if (local && holder === this.self) this.lastLocal[bucket] = this.now();
    return holder;
  }

  /** For a call another thread forwarded here: true when no call for the bucket came in here lately, so its actors should move. */
  shouldHandOff(serial: string): boolean {
    return this.now() - this.lastLocal[bucketOf(serial)]! >= HANDOFF_AFTER_MS;
  }

  activated(serial: string): void {
    const bucket = bucketOf(serial);
    this.live[bucket] = this.live[bucket]! + 1;
  }

  evicted(serial: string): void {
    const bucket = bucketOf(serial);
    this.live[bucket] = this.live[bucket]! - 1;
    if (this.live[bucket]! > 0) return;
    const epoch = this.epoch[bucket]! + 1;
    this.epoch[bucket] = epoch;
    void this.hooks.durable().then((onDisk) => {
      // Not on disk: the bucket stays here, where the write-behind still answers for those nonces.
      if (!onDisk || this.live[bucket] !== 0 || this.epoch[bucket] !== epoch) return;
      if (Atomics.compareExchange(this.slots, bucket, this.self, FREE) === this.self) this.hooks.released(bucket);
    });
  }
}
