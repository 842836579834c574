/** @module A budget per second for pushes anyone can cause (unknown serials tried at the open gate): beyond it they are counted, not pushed. */

/**
 * Up to `perSecond` alerts a second pass; the rest are counted and handed to `onDropped` when the next second's first
 * alert comes. A flood of random serials (200 a second at the gate's default budget) would otherwise redraw every
 * operator's page 200 times a second; the alerts dropped are still in the unknown serials' list and in the log.
 */
export class AlertBudget {
  private windowStart = -Infinity;
  private used = 0;
  private dropped = 0;

  constructor(private readonly perSecond: number, private readonly onDropped: (count: number) => void) {}

  take(now: number): boolean {
    if (now - this.windowStart >= 1000) {
      if (this.dropped > 0) this.onDropped(this.dropped);
      this.windowStart = now;
      this.used = 0;
      this.dropped = 0;
    }
    if (this.used < this.perSecond) {
      this.used++;
      return true;
    }
    this.dropped++;
    return false;
  }
}
