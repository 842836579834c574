/** @module The gate's opening window: the gate listens only while an operator has opened it, and closes itself when the window ends. */
import type { TemplatedApp } from 'uWebSockets.js';
import type { GateControl } from '../admin/ops.js';
import type { EventSink } from '../actors/context.js';
import type { Logger } from '../logger.js';
import type { GateStatus } from '../protocol/types.js';
import type { Store } from '../store/store.js';
import { listen, type Listening } from './listen.js';

export class GateWindow implements GateControl {
  private listening: Listening | null = null;
  private timer: NodeJS.Timeout | null = null;
  private openUntil: number | null = null;

  constructor(
    private readonly app: TemplatedApp,
    private readonly opts: { host: string; port: number; store: Store; log: Logger; events: EventSink; now(): number },
  ) {}

  /** At start-up: reopen a window that was open when the server stopped and has not ended yet. */
  async restore(): Promise<void> {
    const saved = this.opts.store.settings.get('gate')?.openUntil ?? null;
    if (saved !== null && saved > this.opts.now()) await this.listenUntil(saved);
  }

  status(): GateStatus {
    return { open: this.listening !== null, openUntil: this.openUntil === null ? null : new Date(this.openUntil).toISOString(), port: this.listening?.port ?? this.opts.port };
  }

  async open(minutes: number): Promise<GateStatus> {
    const until = this.opts.now() + minutes * 60_000;
    await this.opts.store.durable(this.opts.store.settings.put('gate', { openUntil: until }));
    await this.listenUntil(until);
    this.opts.log.info({ openUntil: new Date(until).toISOString(), port: this.listening?.port }, 'gate opened');
    this.opts.events('terminals', 'gate.opened', { ...this.status() });
    return this.status();
  }

  async close(): Promise<GateStatus> {
    await this.opts.store.durable(this.opts.store.settings.put('gate', { openUntil: null }));
    this.stop();
    this.opts.log.info('gate closed');
    this.opts.events('terminals', 'gate.closed', { ...this.status() });
    return this.status();
  }

  /** Closes the listen socket without changing the stored window (shutdown). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.listening?.close();
    this.listening = null;
    this.openUntil = null;
  }

  private async listenUntil(until: number): Promise<void> {
    this.listening ??= await listen(this.app, this.opts.host, this.opts.port, 'gate');
    this.openUntil = until;
    if (this.timer) clearTimeout(this.timer);
    // setTimeout caps at ~24.8 days; the window is capped at 7 days by the op's validation.
    this.timer = setTimeout(() => void this.close().catch((err: unknown) => this.opts.log.error({ err }, 'closing the gate failed')), Math.max(0, until - this.opts.now()));
    this.timer.unref();
  }
}
