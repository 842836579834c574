/** @module The gate's opening window: the gate listens only while an operator has opened it, and closes itself when the window ends. */
import type { GateControl } from '../admin/op-spec.js';
import type { EventSink } from '../actors/context.js';
import { Mailbox } from '../actors/mailbox.js';
import type { Logger } from '../logger.js';
import type { GateStatus } from '../protocol/types.js';
import type { Store } from '../store/store.js';

/** Whatever actually listens on the gate port (every front-end thread at once). */
export interface GateListener {
  /** Starts listening on `port` (0: any free port) and returns the port. */
  open(port: number): Promise<number>;
  /** Resolves once every thread that answers has stopped listening. */
  close(): Promise<void>;
}

export class GateWindow implements GateControl {
  private listeningPort: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private openUntil: number | null = null;
  /**
   * Opening, closing and restoring take turns: each awaits the threads and the store, and two operators' gate.open and
   * gate.close interleaved left the window stored open while no thread listened (the close's threads were told before
   * the open's, which had not yet recorded its port).
   */
  private readonly turns = new Mailbox();

  constructor(
    private readonly listener: GateListener,
    private readonly opts: { port: number; store: Store; log: Logger; events: EventSink; now(): number },
  ) {}

  /**
   * At start-up: reopen a window that was open when the server stopped and has not ended yet. A gate that cannot
   * listen (its port taken) MUST NOT keep master and the admin channel from starting: it stays closed, and the stored
   * window is kept for the next start or an operator's gate.open.
   */
  restore(): Promise<void> {
    return this.inTurn(() => this.restoreNow());
  }

  private async restoreNow(): Promise<void> {
    const saved = this.opts.store.settings.get('gate')?.openUntil ?? null;
    if (saved === null || saved <= this.opts.now()) return;
    try {
      await this.listenUntil(saved);
      // Anyone may file pairing requests while it is open: a start that opens it says so, as gate.open does.
      this.opts.log.info({ openUntil: new Date(saved).toISOString(), port: this.listeningPort }, 'gate reopened: its window was open when the server stopped and has not ended');
    } catch (err) {
      this.opts.log.error({ err, openUntil: new Date(saved).toISOString() }, 'the gate window could not be reopened; the gate stays closed');
    }
  }

  /**
   * Stops listening without changing the stored window: a start that fails after the restore, or a server that stops,
   * leaves the gate to the next start as it found it, and its timer does not fire into the store then closed.
   */
  release(): Promise<void> {
    // The timer goes now, not in turn: firing while an earlier turn runs, its close would come after this release and
    // clear the stored window, or write into the closed store. (A turn that sets it again is undone by stop.)
    this.clearTimer();
    return this.inTurn(() => this.stop());
  }

  status(): GateStatus {
    return { open: this.listeningPort !== null, openUntil: this.openUntil === null ? null : new Date(this.openUntil).toISOString(), port: this.listeningPort ?? this.opts.port };
  }

  open(minutes: number): Promise<GateStatus> {
    return this.inTurn(() => this.openNow(minutes));
  }

  close(): Promise<GateStatus> {
    return this.inTurn(() => this.closeNow());
  }

  private async openNow(minutes: number): Promise<GateStatus> {
    const until = this.opts.now() + minutes * 60_000;
    // Listening first: a port that is taken fails the op (conflict) and leaves no open window stored behind it.
    await this.listenUntil(until);
    await this.opts.store.durable(this.opts.store.settings.put('gate', { openUntil: until }));
    this.opts.log.info({ openUntil: new Date(until).toISOString(), port: this.listeningPort }, 'gate opened');
    this.opts.events('terminals', 'gate.opened', { ...this.status() });
    return this.status();
  }

  private async closeNow(): Promise<GateStatus> {
    // Closing a closed gate changes nothing: no second gate.closed for operators to puzzle over. A window kept from
    // before a restart that could not reopen it is still cleared, or the next start would open the gate.
    if (this.openUntil === null && (this.opts.store.settings.get('gate')?.openUntil ?? null) === null) {
      // Still told to every thread: one that listens after a gate.open that failed part-way must stop too.
      await this.stop();
      return this.status();
    }
    await this.opts.store.durable(this.opts.store.settings.put('gate', { openUntil: null }));
    // Answered once the threads have stopped listening: an operator told "closed" could otherwise still see the port
    // take a connection for a moment.
    await this.stop();
    this.opts.log.info('gate closed');
    this.opts.events('terminals', 'gate.closed', { ...this.status() });
    return this.status();
  }

  private inTurn<T>(step: () => Promise<T>): Promise<T> {
    return Promise.resolve(this.turns.post(step));
  }

  /** Closes the gate without changing the stored window. */
  private stop(): Promise<void> {
    this.clearTimer();
    this.listeningPort = null;
    this.openUntil = null;
    return this.listener.close();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async listenUntil(until: number): Promise<void> {
    this.listeningPort ??= await this.listener.open(this.opts.port);
    this.openUntil = until;
    if (this.timer) clearTimeout(this.timer);
    // setTimeout caps at ~24.8 days; the window is capped at 7 days by the op's validation.
    this.timer = setTimeout(() => void this.close().catch((err: unknown) => this.opts.log.error({ err }, 'closing the gate failed')), Math.max(0, until - this.opts.now()));
    this.timer.unref();
  }
}
