/**
 * @module Where used nonces are kept: a ring of sub-databases by the time the signed request was created, so
 * forgetting expired nonces empties whole databases on lmdb's writer thread instead of scanning and deleting key
 * by key on ours, and a replay is found with one read: it carries the same signed `created`, hence the same slot
 * and the same key.
 *
 * Scanning was O(every stored nonce) a minute: at 5,000 calls/s and the default skew about 1.8 million keys,
 * to remove the 300,000 that expired (100,000 scanned and removed took 0.35 s and 0.6 CPU-seconds). Emptying
 * a database is one instruction to the writer, whatever it holds.
 *
 * Within a slot a key begins with `created`, not the serial: a flush of half a second's nonces then lands in the few
 * leaf pages at the end of the B-tree instead of one page per terminal, each copied and written whole. With 10,000
 * terminals and 3 million stored, a put cost lmdb 3.3 µs of CPU instead of 16.8 (docs/DECISIONS.md).
 */
import type { Database, RootDatabase } from 'lmdb';
import { SEP, compositeKey } from './composite-key.js';
import { entryCount, holdsKeyFrom } from './entry-count.js';

/** Each slot holds the nonces of requests created in one window of this many seconds. */
export const NONCE_BUCKET_SEC = 120;
/** Slots in the ring; they are reused round-robin, so the ring spans this many buckets (64 minutes). */
export const NONCE_RING_SLOTS = 32;
/**
 * The largest accepted clock skew. A request is created at most skew away from now, and its nonce is kept until
 * created + skew + 1 s: every slot that may hold a live nonce must be kept whatever skew the server runs with now,
 * or ran with before a restart, hence a fixed bound.
 */
export const MAX_CLOCK_SKEW_SEC = 1_200;
/**
 * Buckets kept ahead of now: up to the newest `created` any run of the server may have accepted, and one more
 * for a thread whose clock runs ahead of the pruner's. Behind now, see `forgetExpired`.
 */
const BUCKETS_AHEAD = Math.ceil(MAX_CLOCK_SKEW_SEC / NONCE_BUCKET_SEC) + 1;
const bucketsBehind = (clockSkewSec: number): number => Math.ceil((clockSkewSec + 1) / NONCE_BUCKET_SEC) + 1;

/**
 * Keys begin with this, then `created`, the serial and the nonce. Stores written before kept (serial, nonce) keys,
 * which begin with a serial's letter or digit, so every such key sorts at or after FIRST_SERIAL_KEY.
 */
const TIME_KEY = '\u0001';
const FIRST_SERIAL_KEY = '\u0002';
const timeKey = (serial: string, nonce: string, createdSec: number): string => TIME_KEY + createdSec + SEP + serial + SEP + nonce;
/** The key before time-first keys: (serial, nonce). */
const serialKey = (serial: string, nonce: string): string => compositeKey(serial, nonce);

const bucketOf = (sec: number): number => Math.floor(sec / NONCE_BUCKET_SEC);
const slotOf = (bucket: number): number => ((bucket % NONCE_RING_SLOTS) + NONCE_RING_SLOTS) % NONCE_RING_SLOTS;
/** The slot holding the nonces of requests created at `createdSec`. */
export const slotIndex = (createdSec: number): number => slotOf(bucketOf(createdSec));
/** The sub-database of slot `index`. */
export const slotName = (index: number): string => `nonces-${index}`;

export class NonceRing {
  /** slot → (created, serial, nonce) → expiry, epoch seconds. */
  private readonly slots: Database<number, string>[];
  /**
   * Requests created up to this second are also looked up by (serial, nonce), when the store held such keys at open.
   * Only a server that ran before this open wrote them (or `migrateNonces`, for requests as old), and it admitted
   * requests created at most MAX_CLOCK_SKEW_SEC after it ran: a later request cannot replay one of them, so after an
   * upgrade the second read stops within the largest skew, and the pruner empties their slots as usual.
   */
  private serialKeysUntilSec = -Infinity;

  constructor(root: RootDatabase) {
    if (bucketsBehind(MAX_CLOCK_SKEW_SEC) + 1 + BUCKETS_AHEAD >= NONCE_RING_SLOTS) throw new Error('the nonce ring is too small for the largest skew');
    this.slots = Array.from({ length: NONCE_RING_SLOTS }, (_, i) => root.openDB<number, string>({ name: slotName(i) }));
    if (this.slots.some((slot) => holdsKeyFrom(slot, FIRST_SERIAL_KEY))) this.readSerialKeys();
  }

  /** Queues the write; lmdb commits it with the other writes of this event-loop turn. */
  put(serial: string, nonce: string, createdSec: number, expiresAtSec: number): Promise<boolean> {
    return this.slotFor(createdSec).put(timeKey(serial, nonce, createdSec), expiresAtSec);
  }

  /** For use inside a synchronous transaction. */
  putSync(serial: string, nonce: string, createdSec: number, expiresAtSec: number): void {
    this.slotFor(createdSec).putSync(timeKey(serial, nonce, createdSec), expiresAtSec);
  }

  /**
   * For `migrateNonces` only, inside a synchronous transaction: a nonce kept before the ring, whose `created` is known
   * only to within the skew, under its (serial, nonce) key as the ring first kept them, found by the second read.
   */
  putSerialKeyedSync(serial: string, nonce: string, createdSec: number, expiresAtSec: number): void {
    this.slotFor(createdSec).putSync(serialKey(serial, nonce), expiresAtSec);
    this.readSerialKeys();
  }

  /**
   * The expiry recorded for this nonce of a request created at `createdSec`, if any. It may be long past: a slot
   * not yet emptied can hold an older turn of the ring, so callers compare it with now.
   */
  expiryOf(serial: string, nonce: string, createdSec: number): number | undefined {
    const slot = this.slotFor(createdSec);
    const expiry = slot.get(timeKey(serial, nonce, createdSec));
    return expiry === undefined && createdSec <= this.serialKeysUntilSec ? slot.get(serialKey(serial, nonce)) : expiry;
  }

  /**
   * Empties every slot that no fresh request can be looked up in at `nowSec`; resolves with how many it emptied
   * once they are committed. Behind now, a request created more than `clockSkewSec` ago fails the freshness check
   * before its nonce is looked up, so only those buckets (and one more, for clocks that differ) are kept, whatever
   * skew wrote them; ahead, every bucket up to the largest skew is. A slot is reused 64 minutes after its last
   * bucket, so a write racing the emptying lands in a kept slot.
   */
  async forgetExpired(nowSec: number, clockSkewSec: number): Promise<number> {
    const now = bucketOf(nowSec);
    const kept = new Set<number>();
    for (let bucket = now - bucketsBehind(Math.min(clockSkewSec, MAX_CLOCK_SKEW_SEC)); bucket <= now + BUCKETS_AHEAD; bucket++) kept.add(slotOf(bucket));
    const emptied: Promise<unknown>[] = [];
    for (let slot = 0; slot < NONCE_RING_SLOTS; slot++) {
      // Asking first keeps an empty slot from costing a write transaction every minute; the B-tree's count, not a scan.
      if (!kept.has(slot) && entryCount(this.slots[slot]!) > 0) emptied.push(this.slots[slot]!.clearAsync());
    }
    await Promise.all(emptied);
    return emptied.length;
  }

  /** Every stored nonce, expired or not: for tests and for counting. */
  count(): number {
    return this.slots.reduce((sum, slot) => sum + entryCount(slot), 0);
  }

  private readSerialKeys(): void {
    this.serialKeysUntilSec = Math.floor(Date.now() / 1000) + MAX_CLOCK_SKEW_SEC;
  }

  private slotFor(createdSec: number): Database<number, string> {
    return this.slots[slotIndex(createdSec)]!;
  }
}
