/** @module A mailbox: runs an actor's messages one at a time, in arrival order, so its state needs no locks. */

const SETTLED: Promise<unknown> = Promise.resolve();

export class Mailbox {
  private tail: Promise<unknown> = SETTLED;
  private queued = 0;

  /** Messages waiting or running; the registry evicts an actor only when this is 0. */
  get depth(): number {
    return this.queued;
  }

  /** Resolves once every message posted so far has settled. */
  async idle(): Promise<void> {
    await this.tail;
  }

  /** Enqueues `handler`; it starts after every earlier message has settled, whatever their outcome. */
  post<T>(handler: () => Promise<T> | T): Promise<T> {
    this.queued++;
    const run = this.tail.then(handler);
    this.tail = run.then(this.settle, this.settle);
    return run;
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
