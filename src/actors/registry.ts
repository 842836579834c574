/** @module Virtual actors: one per key, activated on its first message and evicted when idle, so memory follows activity, not fleet size. */
import { Mailbox } from './mailbox.js';

export interface Actor<C, R> {
  /** May answer at once: see `Mailbox.post`. */
  handle(command: C): R | Promise<R>;
}

/** Told when an actor comes into memory and when it leaves it (not when the registry closes). */
export interface ActivationHooks {
  activated(key: string): void;
  evicted(key: string): void;
}

const NO_HOOKS: ActivationHooks = { activated: () => undefined, evicted: () => undefined };

interface Activation<C, R> {
  actor: Actor<C, R>;
  mailbox: Mailbox;
  lastUsed: number;
}

export class ActorRegistry<C, R> {
  private readonly active = new Map<string, Activation<C, R>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly factory: (key: string) => Actor<C, R>,
    private readonly idleMs: number,
    private readonly now: () => number = Date.now,
    private readonly hooks: ActivationHooks = NO_HOOKS,
  ) {
    // The sweep is cheap (a map walk) and must not keep the process alive on shutdown.
    this.sweeper = setInterval(() => this.evictIdle(), Math.max(1_000, Math.floor(idleMs / 2)));
    this.sweeper.unref();
  }

  /**
   * Delivers `command` to the actor for `key`; messages for one key run in order, different keys interleave. Like
   * `Mailbox.post`, an idle actor's answer may come at once: a value, a promise, or a throw.
   */
  ask(key: string, command: C): R | Promise<R> {
    let activation = this.active.get(key);
    if (!activation) {
      activation = { actor: this.factory(key), mailbox: new Mailbox(), lastUsed: this.now() };
      this.active.set(key, activation);
      this.hooks.activated(key);
    }
    activation.lastUsed = this.now();
    const { actor } = activation;
    return activation.mailbox.post(() => actor.handle(command));
  }

  get size(): number {
    return this.active.size;
  }

  evictIdle(): number {
    const cutoff = this.now() - this.idleMs;
    let evicted = 0;
    for (const [key, activation] of this.active) {
      if (activation.mailbox.depth === 0 && activation.lastUsed <= cutoff) {
        this.active.delete(key);
        this.hooks.evicted(key);
        evicted++;
      }
    }
    return evicted;
  }

  /** Evicts `key`'s actor now if it has no message waiting or running; true when it did. */
  evictIfIdle(key: string): boolean {
    const activation = this.active.get(key);
    if (!activation || activation.mailbox.depth !== 0) return false;
    this.active.delete(key);
    this.hooks.evicted(key);
    return true;
  }

  /** Waits for the messages already delivered (graceful shutdown: in-flight work finishes before the store closes). */
  async drain(): Promise<void> {
    await Promise.all([...this.active.values()].map((a) => a.mailbox.idle()));
  }

  close(): void {
    clearInterval(this.sweeper);
    this.active.clear();
  }
}
