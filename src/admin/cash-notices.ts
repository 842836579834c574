/**
 * @module What the `cash` topic's push says (`cash.recorded`, PROTOCOL.md): the cash events recorded since the last
 * push, from the front threads' tallies (net/cash-tally.ts) added up on the admin thread. One push a second at most
 * tells a session of thousands of events: how many, on how many terminals, and which when they are few.
 */
import type { CashCounts } from '../net/cash-tally.js';

/** At most one `cash.recorded` a second to a session: enough for a page to follow, however busy the fleet. */
export const CASH_NOTICE_MS = 1_000;
/** A push names each terminal's count up to this many terminals; past it, `serials` is null (a page of 20 shows fewer). */
export const CASH_SERIALS_LISTED = 20;

export interface CashRecordedData {
  /** Cash events recorded since the last push (of the subscribed serial's, when the subscription names one). */
  count: number;
  /** How many terminals they came from. */
  terminals: number;
  /** Serial → its count; null when more than CASH_SERIALS_LISTED terminals sent some. */
  serials: Record<string, number> | null;
  /** The subscription's serial, when it names one. */
  serial?: string;
}

/** The events of one interval, as each kind of subscription is told of them. */
export class CashRecorded {
  constructor(private readonly counts: ReadonlyMap<string, number>, private readonly total: number) {}

  /** For a session subscribed to every terminal's events. */
  all(): CashRecordedData {
    const listed = this.counts.size <= CASH_SERIALS_LISTED;
    return { count: this.total, terminals: this.counts.size, serials: listed ? Object.fromEntries(this.counts) : null };
  }

  /** For a session subscribed to one terminal's; null when it recorded none (that session is not told). */
  of(serial: string): CashRecordedData | null {
    const count = this.counts.get(serial);
    return count === undefined ? null : { count, terminals: 1, serials: { [serial]: count }, serial };
  }
}

/** The counts added since the last `take`. */
export class CashNotices {
  private counts = new Map<string, number>();
  private total = 0;

  add(counts: CashCounts): void {
    for (const [serial, count] of counts) {
      this.counts.set(serial, (this.counts.get(serial) ?? 0) + count);
      this.total += count;
    }
  }

  /** What was added since the last take (null: nothing), and a fresh start. */
  take(): CashRecorded | null {
    if (this.total === 0) return null;
    const recorded = new CashRecorded(this.counts, this.total);
    this.counts = new Map();
    this.total = 0;
    return recorded;
  }
}
