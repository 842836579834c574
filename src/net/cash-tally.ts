/**
 * @module A front thread's count of the cash events its actors recorded, per serial, handed to the main thread (which
 * tells subscribed operators: admin/cash-notices.ts) as one message at most every CASH_TALLY_MS. A fleet records ~9,000
 * a second: a message each would cost master's hot path a postMessage and the admin thread a wake-up per event.
 */
import { ThrottledFlush } from './throttled-flush.js';

/** Serial → cash events recorded since the last tally; an array, as it crosses threads by structured clone. */
export type CashCounts = [serial: string, count: number][];

/** Long enough that a busy thread sends a few messages a second, short beside the once a second operators are told. */
export const CASH_TALLY_MS = 200;

export class CashTally {
  private counts = new Map<string, number>();
  private readonly flusher: ThrottledFlush;

  constructor(send: (counts: CashCounts) => void, intervalMs = CASH_TALLY_MS) {
    this.flusher = new ThrottledFlush(intervalMs, () => {
      const counts = this.counts;
      this.counts = new Map();
      if (counts.size > 0) send([...counts]);
    });
  }

  /** On master's hot path, after the event is durable: a map update, the message comes later. */
  recorded(serial: string): void {
    this.counts.set(serial, (this.counts.get(serial) ?? 0) + 1);
    this.flusher.due();
  }

  stop(): void {
    this.flusher.stop();
  }
}
