/**
 * @module Where used nonces are kept: a ring of sub-databases by expiry time, so forgetting expired nonces
 * empties whole databases on lmdb's writer thread instead of scanning and deleting key by key on ours.
 *
 * Scanning was O(every stored nonce) a minute: at 5,000 calls/s and the default skew about 1.8 million keys,
 * to remove the 300,000 that expired (100,000 scanned and removed took 0.35 s and 0.6 CPU-seconds). Emptying
 * a database is one instruction to the writer, whatever it holds.
 */
import type { Database, RootDatabase } from 'lmdb';

/** Each slot holds the nonces whose expiry falls in one window of this many seconds. */
export const NONCE_BUCKET_SEC = 120;
/** Slots in the ring; they are reused round-robin, so the ring spans this many buckets (64 minutes). */
export const NONCE_RING_SLOTS = 32;
/**
 * The largest accepted clock skew. A nonce expires at most 2 × skew + 1 s after it is admitted (created up to
 * skew ahead, kept until created + skew + 1), and every slot that may hold such a nonce must be protected from
 * emptying whatever skew the server runs with now, or ran with before a restart: hence a fixed bound.
 */
export const MAX_CLOCK_SKEW_SEC = 1_200;
/** Buckets ahead of now that may hold a live nonce, plus one for a writer whose clock runs a bucket ahead. */
const BUCKETS_AHEAD = Math.ceil((2 * MAX_CLOCK_SKEW_SEC + 1) / NONCE_BUCKET_SEC) + 1;
/** One bucket behind now is kept too: a thread whose clock lags may still count its nonces as live. */
const BUCKETS_BEHIND = 1;

const SEP = '\u0000';
const AFTER_SEP = '\u0001';

const bucketOf = (sec: number): number => Math.floor(sec / NONCE_BUCKET_SEC);
const slotOf = (bucket: number): number => ((bucket % NONCE_RING_SLOTS) + NONCE_RING_SLOTS) % NONCE_RING_SLOTS;

export class NonceRing {
  /** slot → (serial, nonce) → expiry, epoch seconds. */
  private readonly slots: Database<number, string>[];

  constructor(root: RootDatabase) {
    if (BUCKETS_BEHIND + 1 + BUCKETS_AHEAD >= NONCE_RING_SLOTS) throw new Error('the nonce ring is too small for the largest skew');
    this.slots = Array.from({ length: NONCE_RING_SLOTS }, (_, i) => root.openDB<number, string>({ name: `nonces-${i}` }));
  }

  /** Queues the write; lmdb commits it with the other writes of this event-loop turn. */
  put(serial: string, nonce: string, expiresAtSec: number): Promise<boolean> {
    return this.slotFor(expiresAtSec).put(serial + SEP + nonce, expiresAtSec);
  }

  /** For use inside a synchronous transaction. */
  putSync(serial: string, nonce: string, expiresAtSec: number): void {
    this.slotFor(expiresAtSec).putSync(serial + SEP + nonce, expiresAtSec);
  }

  /** The expiry recorded for this nonce, if any (expired or not). */
  get(serial: string, nonce: string, expiresAtSec: number): number | undefined {
    return this.slotFor(expiresAtSec).get(serial + SEP + nonce);
  }

  /** `serial`'s nonces that have not expired at `nowSec`: only the slots that can hold one are read. */
  *live(serial: string, nowSec: number): IterableIterator<{ nonce: string; expiresAtSec: number }> {
    const now = bucketOf(nowSec);
    for (let bucket = now; bucket <= now + BUCKETS_AHEAD; bucket++) {
      const range = this.slots[slotOf(bucket)]!.getRange({ start: serial + SEP, end: serial + AFTER_SEP });
      for (const { key, value } of range) {
        if (value >= nowSec) yield { nonce: key.slice(serial.length + 1), expiresAtSec: value };
      }
    }
  }

  /**
   * Empties every slot that can hold only expired nonces at `nowSec`; resolves with how many it emptied once
   * they are committed. A slot is reused 64 minutes after its last bucket, and only the buckets from one behind
   * now to the furthest a live nonce may reach are kept, so a write racing the emptying lands in a kept slot.
   */
  async forgetExpired(nowSec: number): Promise<number> {
    const now = bucketOf(nowSec);
    const kept = new Set<number>();
    for (let bucket = now - BUCKETS_BEHIND; bucket <= now + BUCKETS_AHEAD; bucket++) kept.add(slotOf(bucket));
    const emptied: Promise<unknown>[] = [];
    for (let slot = 0; slot < NONCE_RING_SLOTS; slot++) {
      // Reading first keeps an empty slot from costing a write transaction every minute.
      if (!kept.has(slot) && this.slots[slot]!.getKeysCount({ limit: 1 }) > 0) emptied.push(this.slots[slot]!.clearAsync());
    }
    await Promise.all(emptied);
    return emptied.length;
  }

  private slotFor(expiresAtSec: number): Database<number, string> {
    return this.slots[slotOf(bucketOf(expiresAtSec))]!;
  }

  /** Every stored nonce, in no useful order: for tests and for counting. */
  count(): number {
    return this.slots.reduce((sum, slot) => sum + slot.getKeysCount(), 0);
  }
}
