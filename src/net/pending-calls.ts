/**
 * @module Calls sent to another thread and not yet answered, by id. An id is a slot, reused once its call is
 * answered, so the table reaches the most calls ever in flight and then allocates nothing.
 *
 * Why not a Map keyed by an ever-growing id: V8 rebuilds a Map's hash table as deleted entries pile up, and at
 * half peak those tables were more than a quarter of what each front thread's scavenges copied and promoted
 * (HEAP_SAMPLE_KEEP=survivors, bench/JOURNAL.md).
 */
import { grown } from '../typed-arrays.js';

/** Marks the slot of a call given up on: its id stays taken until its late answer comes (abandonAll). */
const ABANDONED = Symbol('abandoned');

export class PendingCalls<T> {
  private slots: (T | typeof ABANDONED | undefined)[] = [];
  /** Free slot ids, a stack of `freeCount` in an Int32Array: an array popped and pushed may be trimmed and regrown. */
  private free = new Int32Array(64);
  private freeCount = 0;
  private abandoned = 0;

  /** Calls waiting: every slot is holding one, abandoned, or on the free stack. */
  get size(): number {
    return this.slots.length - this.freeCount - this.abandoned;
  }

  /** Keeps `entry` until `take(id)`; the id is free again after that. */
  add(entry: T): number {
    if (this.freeCount > 0) {
      const id = this.free[--this.freeCount]!;
      this.slots[id] = entry;
      return id;
    }
    this.slots.push(entry);
    return this.slots.length - 1;
  }

  /** The entry of `id`, removed; undefined for an id not waiting (already answered, abandoned, or never given). */
  take(id: number): T | undefined {
    if (!Number.isInteger(id) || id < 0 || id >= this.slots.length) return undefined;
    const entry = this.slots[id];
    if (entry === undefined) return undefined;
    this.slots[id] = undefined;
    if (this.freeCount === this.free.length) this.free = grown(this.free, this.free.length * 2);
    this.free[this.freeCount++] = id;
    if (entry !== ABANDONED) return entry;
    this.abandoned--;
    return undefined;
  }

  /**
   * Every entry still waiting, removed, for callers that give up on their answers while they may still come (the
   * other thread is alive but stuck). Their ids are not reused until each late answer has been taken: a new call
   * with one of them would otherwise receive an answer meant for another.
   */
  abandonAll(): T[] {
    const waiting: T[] = [];
    for (let id = 0; id < this.slots.length; id++) {
      const entry = this.slots[id];
      if (entry === undefined || entry === ABANDONED) continue;
      waiting.push(entry);
      this.slots[id] = ABANDONED;
      this.abandoned++;
    }
    return waiting;
  }

  /** Every entry still waiting, removed, and every id free again: for when no answer can come any more (the port is closed). */
  takeAll(): T[] {
    const all = this.slots.filter((entry): entry is T => entry !== undefined && entry !== ABANDONED);
    this.slots = [];
    this.freeCount = 0;
    this.abandoned = 0;
    return all;
  }
}
