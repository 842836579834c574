/** @module A mailbox: runs an actor's messages one at a time, in arrival order, so its state needs no locks. */

export class Mailbox {
  private tail: Promise<unknown> = Promise.resolve();
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
    this.tail = run.then(
      () => this.queued--,
      () => this.queued--,
    );
    return run;
  }
}
