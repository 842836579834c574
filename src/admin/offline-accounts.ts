/**
 * @module Operator accounts changed offline (`pairing-server users …` writes the store directly, server/users-cli.ts's
 * commands): logged-in operators are told at once, and every change gets its 'operator action' line in the server's
 * log, also those made while the server was stopped, at its next start. An unexpected account is an alarm.
 */
import type { Logger } from '../logger.js';
import type { AuditRecord } from '../store/records.js';
import type { Store } from '../store/store.js';

/** Audit actions of `pairing-server users …` → the push every logged-in operator gets for them. */
export const OFFLINE_ACCOUNT_EVENTS: Readonly<Record<string, 'operator.created' | 'operator.changed' | undefined>> = {
  'users.add': 'operator.created',
  'users.disable': 'operator.changed',
  'users.enable': 'operator.changed',
  'users.reset_2fa': 'operator.changed',
  'users.passwd': 'operator.changed',
  'users.role': 'operator.changed',
};

/**
 * Audit actions of the other offline commands that change the server (`pairing-server identity prepare|promote`, run
 * with the server stopped): logged as operator actions at the next start, told to nobody.
 */
export const OFFLINE_LOGGED_ACTIONS: readonly string[] = ['server.identity_prepare', 'server.identity_promote'];

/** What the watch needs of the admin service. */
export interface OperatorPushes {
  broadcast(event: string, data: Record<string, unknown>): void;
  endDeadSessions(): void;
}

export class OfflineAccountWatch {
  /** The audit log's last entry this watch has been through. */
  private seen: number;

  /**
   * Logs the account changes made since the last run went through the audit log (those made while the server was
   * stopped, and any of the last second before a crash), marked `whileStopped`. A store from before the mark has them
   * all in the past: it starts at its head. Before the admin service takes connections: nobody is told but the log.
   */
  constructor(private readonly store: Store, private readonly log: Logger, private readonly pushes: OperatorPushes) {
    const head = store.lastAuditSeq();
    const mark = store.settings.get('audit-watched');
    this.seen = mark === undefined ? head : Math.min(mark.seq, head);
    for (const entry of this.entriesSince(head)) this.logAction(entry, true);
    this.markSeen(head);
  }

  /** Every second: new account changes are pushed to logged-in operators and logged. */
  poll(): void {
    const head = this.store.lastAuditSeq();
    if (head === this.seen) return;
    for (const entry of this.entriesSince(head)) {
      const event = OFFLINE_ACCOUNT_EVENTS[entry.action];
      if (event !== undefined) {
        const { result = 'ok' } = entry.detail ?? {};
        // The command removed the operator's sessions: tell their connections now rather than at the next sweep.
        if (result === 'ok' && event === 'operator.changed') this.pushes.endDeadSessions();
        const data = { user: entry.target, by: entry.user, at: new Date(entry.at).toISOString(), result };
        this.pushes.broadcast(event, event === 'operator.created' ? data : { ...data, action: entry.action });
      }
      this.logAction(entry, false);
    }
    this.markSeen(head);
  }

  /** The account changes (and OFFLINE_LOGGED_ACTIONS) after the last entry seen, up to `head`. */
  private *entriesSince(head: number): IterableIterator<AuditRecord> {
    if (head <= this.seen) return;
    for (const { value } of this.store.audit.getRange({ start: this.seen + 1, end: head + 1 })) {
      if (OFFLINE_ACCOUNT_EVENTS[value.action] || OFFLINE_LOGGED_ACTIONS.includes(value.action)) yield value;
    }
  }

  /** As every audited admin op, the change is logged, where log-based monitoring sees it: warn when it was refused. */
  private logAction(entry: AuditRecord, whileStopped: boolean): void {
    const { result = 'ok', ...detail } = entry.detail ?? {};
    this.log[result === 'ok' ? 'info' : 'warn']({
      user: entry.user, action: entry.action, target: entry.target, result, remoteAddress: null,
      ...(Object.keys(detail).length > 0 ? { detail } : {}), ...(whileStopped ? { whileStopped, at: new Date(entry.at).toISOString() } : {}),
    }, 'operator action');
  }

  /**
   * Remembers the head across restarts. Written behind: a run that ends before the write logs the same changes again
   * at the next start, which is better than not at all.
   */
  private markSeen(head: number): void {
    this.seen = head;
    void this.store.settled(this.store.settings.put('audit-watched', { seq: head }));
  }
}
