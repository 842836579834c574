/**
 * @module Runs a flush at most once per interval: at once (the next timer turn, so a whole event-loop turn shares it)
 * when the last one is older than the interval, else when it is that old. For notices whose count matters and whose
 * every occurrence does not: the cash events a fleet records thousands a second.
 */
export class ThrottledFlush {
  private timer: NodeJS.Timeout | null = null;
  private last = Number.NEGATIVE_INFINITY;

  constructor(private readonly intervalMs: number, private readonly flush: () => void) {}

  /** Something waits to be flushed. Cheap when a flush is already due: the hot path calls it every time. */
  due(): void {
    if (this.timer !== null) return;
    const wait = Math.max(0, this.last + this.intervalMs - performance.now());
    this.timer = setTimeout(this.run, wait);
    // A notice, not work: it must not keep a thread or a test's process alive.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private readonly run = (): void => {
    this.timer = null;
    this.last = performance.now();
    this.flush();
  };
}
