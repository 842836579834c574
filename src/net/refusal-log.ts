/**
 * @module The server log's lines for refused terminal requests, with a budget. Each refusal is logged on its own
 * until one kind (service and error code) passes REFUSALS_LOGGED_PER_WINDOW in a window on this thread; the rest
 * of that window is counted, and one warning at its end gives the count and who sent the most.
 *
 * Why: every refused request used to get its own line. Forged or stale signatures from a few hundred addresses,
 * or a batch of terminals with a wrong clock, then write lines as fast as the server refuses (tens of thousands a
 * second), which fills disks and log pipelines, and the operators who need to see the attack get a flood instead.
 * Individual lines stay for the usual case (a few attempts, each worth reading), as the kernel's printk ratelimit does.
 */
import type { Logger } from '../logger.js';

/** Refusals of one kind logged one by one per thread and window; beyond it they are counted. */
export const REFUSALS_LOGGED_PER_WINDOW = 100;
/** The default window (--refusal-log-window). */
export const REFUSAL_WINDOW_MS = 10_000;
/** Distinct addresses and serials counted per kind and window; beyond it they are counted together as "others". */
export const MAX_SENDERS_COUNTED = 1_000;
/** Senders named in a summary, the most frequent first. */
export const TOP_SENDERS = 5;
/** A serial header is the sender's text, any length up to the header limit: it is counted by its first characters. */
const SERIAL_CHARS = 64;

export interface Refusal {
  service: 'gate' | 'master';
  path: string;
  status: number;
  error: string;
  /** The `x-terminal-serial` header as sent, if any: not a verified identity. */
  serial: string | undefined;
  remoteAddress: string;
  /** Which check failed, where the answer does not say (master's 401s): for the operator reading the log. */
  reason?: string | undefined;
}

/** Counts per sender, bounded: a flood from many addresses costs at most MAX_SENDERS_COUNTED entries. */
class SenderCounts {
  private readonly counts = new Map<string, number>();
  others = 0;

  add(sender: string): void {
    const count = this.counts.get(sender);
    if (count !== undefined) this.counts.set(sender, count + 1);
    else if (this.counts.size < MAX_SENDERS_COUNTED) this.counts.set(sender, 1);
    else this.others++;
  }

  /** The most frequent senders, as [sender, count], most first. */
  top(): [string, number][] {
    return [...this.counts].sort((a, b) => b[1] - a[1]).slice(0, TOP_SENDERS);
  }

  get distinct(): number {
    return this.counts.size;
  }
}

/** One kind's window: how many were logged, and what was counted past the budget. */
interface KindWindow {
  service: Refusal['service'];
  status: number;
  error: string;
  logged: number;
  suppressed: number;
  addresses: SenderCounts;
  serials: SenderCounts;
}

/**
 * The serial header as a line shows it: no longer than a serial can be. Header values are kept up to 16 KiB, and
 * 300 unsigned requests with a 15,000-character serial grew the log by 3.8 MB within the budget of lines.
 */
function shownSerial(serial: string | undefined): string | undefined {
  return serial === undefined || serial.length <= SERIAL_CHARS ? serial : `${serial.slice(0, SERIAL_CHARS)}… (${serial.length} characters)`;
}

export class RefusalLog {
  private kinds = new Map<string, KindWindow>();
  private readonly timer: NodeJS.Timeout | null = null;
  private readonly perWindow: number;

  /** `windowMs` 0: no budget, every refusal is logged on its own. */
  constructor(private readonly log: Logger, private readonly windowMs = REFUSAL_WINDOW_MS, perWindow = REFUSALS_LOGGED_PER_WINDOW) {
    this.perWindow = windowMs > 0 ? perWindow : Number.POSITIVE_INFINITY;
    if (windowMs === 0) return;
    this.timer = setInterval(() => this.endWindow(), windowMs);
    this.timer.unref();
  }

  record(refusal: Refusal): void {
    const key = `${refusal.service} ${refusal.error}`;
    let kind = this.kinds.get(key);
    if (!kind) {
      kind = { service: refusal.service, status: refusal.status, error: refusal.error, logged: 0, suppressed: 0, addresses: new SenderCounts(), serials: new SenderCounts() };
      this.kinds.set(key, kind);
    }
    if (kind.logged < this.perWindow) {
      kind.logged++;
      this.log.info({ service: refusal.service, path: refusal.path, status: refusal.status, error: refusal.error, reason: refusal.reason, serial: shownSerial(refusal.serial), remoteAddress: refusal.remoteAddress }, 'terminal request refused');
      return;
    }
    kind.suppressed++;
    kind.addresses.add(refusal.remoteAddress);
    kind.serials.add(refusal.serial === undefined ? '(none)' : refusal.serial.slice(0, SERIAL_CHARS));
  }

  /** Logs a summary for each kind that went past its budget, and starts a new window. */
  endWindow(): void {
    const { kinds } = this;
    this.kinds = new Map();
    for (const kind of kinds.values()) {
      if (kind.suppressed === 0) continue;
      this.log.warn({
        service: kind.service, status: kind.status, error: kind.error, windowSec: this.windowMs / 1000, logged: kind.logged, suppressed: kind.suppressed,
        topAddresses: kind.addresses.top().map(([address, count]) => ({ address, count })),
        distinctAddresses: kind.addresses.distinct,
        topSerials: kind.serials.top().map(([serial, count]) => ({ serial, count })),
        // Past MAX_SENDERS_COUNTED distinct addresses the rest are not told apart: this many refusals came from them.
        ...(kind.addresses.others > 0 ? { fromAddressesNotCounted: kind.addresses.others } : {}),
      }, 'terminal requests refused beyond the log budget');
    }
  }

  /** Logs what the current window counted: at shutdown, so that the last window's flood is not lost. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.endWindow();
  }
}
