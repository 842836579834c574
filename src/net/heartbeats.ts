/**
 * @module When each front thread's event loop last turned, in memory every thread shares. A thread whose loop is
 * blocked cannot answer a message saying so; its silence here is how the others and the main thread tell, at once
 * and without asking it.
 */

/**
 * Milliseconds on the monotonic clock, the same in every thread of the process. Not Date.now(): a wall clock stepped
 * by NTP would make every thread look silent at once (forward) or none for as long as the step (back).
 */
export const monotonicMs = (): number => Number(process.hrtime.bigint() / 1_000_000n);

/** How often a front thread stamps its slot. */
export const HEARTBEAT_MS = 250;
/**
 * A thread silent this long is not responding: calls for its terminals are refused instead of queued behind it. No
 * work a front does holds its loop anywhere near this long; a major GC of a front's heap takes milliseconds.
 */
export const SILENT_AFTER_MS = 2_000;

/** One slot per thread, shared (a SharedArrayBuffer) by the main thread and every front. */
export class Heartbeats {
  private readonly stamps: BigInt64Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.stamps = new BigInt64Array(buffer);
  }

  static create(threads: number): Heartbeats {
    return new Heartbeats(new SharedArrayBuffer(threads * BigInt64Array.BYTES_PER_ELEMENT));
  }

  /** Thread `index` is alive at `now`. */
  beat(index: number, now = monotonicMs()): void {
    Atomics.store(this.stamps, index, BigInt(now));
  }

  /** Milliseconds since thread `index` last beat. */
  silentFor(index: number, now = monotonicMs()): number {
    return now - Number(Atomics.load(this.stamps, index));
  }

  isSilent(index: number, now = monotonicMs()): boolean {
    return this.silentFor(index, now) > SILENT_AFTER_MS;
  }

  /** Run by thread `index` itself: stamps its slot every HEARTBEAT_MS while its event loop turns, until the thread ends. */
  keepBeating(index: number): void {
    this.beat(index);
    setInterval(() => this.beat(index), HEARTBEAT_MS).unref();
  }
}
