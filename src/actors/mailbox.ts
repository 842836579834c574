/** @module A mailbox: runs an actor's messages one at a time, in arrival order, so its state needs no locks. */

const SETTLED: Promise<unknown> = Promise.resolve();

export class Mailbox {
  private tail: Promise<unknown> = SETTLED;
  private queued = 0;
  /** True while a message runs in its sender's turn (see `post`). */
  private inline = false;
  /** Lets the messages posted during an inline run start once it has settled; made only when there are any. */
  private openGate: (() => void) | null = null;

  /** Messages waiting or running; the registry evicts an actor only when this is 0. */
  get depth(): number {
    return this.queued;
  }

  /** Resolves once every message posted so far has settled. */
  async idle(): Promise<void> {
    await this.tail;
  }

  /**
   * Runs `handler` once every message posted before it has settled, whatever their outcome. When none is waiting or
   * running it runs at once, in the sender's turn, and a handler that answers without waiting gives its value (or
   * throws) with no promise made: most of a fleet's calls find their actor idle, and each promise of a call is
   * garbage a scavenge has to sweep. The sender MUST therefore accept a value, a promise, or a throw.
   */
  post<T>(handler: () => T | Promise<T>): T | Promise<T> {
    if (this.queued === 0) return this.runNow(handler);
    this.queued++;
    // Posted by the message running inline, from inside it: wait until that one has settled.
    if (this.inline && this.openGate === null) this.tail = new Promise<void>((open) => (this.openGate = open));
    const run = this.tail.then(handler);
    this.tail = run.then(this.settle, this.settle);
    return run;
  }

  private runNow<T>(handler: () => T | Promise<T>): T | Promise<T> {
    this.queued = 1;
    this.inline = true;
    let result: T | Promise<T>;
    try {
      result = handler();
    } catch (error) {
      this.endInline(null);
      throw error;
    }
    this.endInline(result instanceof Promise ? result : null);
    return result;
  }

  /** `running`: the inline message's promise, when it answered with one; null when it has already settled. */
  private endInline(running: Promise<unknown> | null): void {
    this.inline = false;
    const open = this.openGate;
    this.openGate = null;
    if (running === null) {
      this.settle();
      open?.();
      return;
    }
    const settled = running.then(this.settle, this.settle);
    if (open) void settled.then(open);
    else this.tail = settled;
  }

  /**
   * Once the last message has settled the chain is dropped: an idle actor would otherwise hold its last call's
   * promise until the next call, which in a large fleet is seconds later, so every call's promise outlived a
   * scavenge and was copied to the old generation.
   */
  private readonly settle = (): void => {
    if (--this.queued === 0) this.tail = SETTLED;
  };
}
