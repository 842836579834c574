/**
 * @module Operator sessions: random bearer tokens, stored only as their SHA-256, expiring after idle time and at the
 * latest a fixed time after login; logout kills a token everywhere.
 */
import crypto from 'node:crypto';
import { AppError } from '../errors.js';
import type { OperatorRecord, SessionRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { isDisabled, stillAsChecked } from './operators.js';

export interface Session {
  user: string;
  tokenHash: string;
  expiresAt: number;
}

const hashOf = (token: string): string => crypto.createHash('sha256').update(token).digest('hex');

export interface SessionLifetime {
  /** Without an op for this long, a session ends. */
  idleMs: number;
  /**
   * However busy, a session ends this long after its login. The token alone carries every right, 2FA ones included
   * (approving, payout addresses): one copied from a session file or a browser would otherwise live as long as its
   * taker kept using it.
   */
  maxAgeMs: number;
}

export class Sessions {
  private readonly idleMs: number;
  private readonly maxAgeMs: number;

  constructor(private readonly store: Store, lifetime: SessionLifetime, private readonly now: () => number = Date.now) {
    this.idleMs = lifetime.idleMs;
    this.maxAgeMs = lifetime.maxAgeMs;
  }

  /** When a session last seen at `seenAt` ends: after the idle time, and never past its maximum age. */
  private endOf(createdAt: number, seenAt: number): number {
    return Math.min(seenAt + this.idleMs, createdAt + this.maxAgeMs);
  }

  /** The maximum age is checked here too: a record written by a build without it may have slid past it. */
  private ended(record: SessionRecord, now: number): boolean {
    return record.expiresAt <= now || record.createdAt + this.maxAgeMs <= now;
  }

  /**
   * A session for the operator whose account `checked` is, as the login read and checked it. Written in one transaction
   * with a last look at the account: a `users passwd`, `reset-2fa` or `disable` that committed after the login's
   * checks (and ended the sessions there were) must not leave this one alive; the login fails instead.
   */
  async create(checked: OperatorRecord): Promise<{ token: string; session: Session }> {
    const token = crypto.randomBytes(32).toString('base64url');
    const now = this.now();
    const user = checked.name;
    const record: SessionRecord = { user, createdAt: now, lastSeenAt: now, expiresAt: this.endOf(now, now) };
    const tokenHash = hashOf(token);
    await this.store.atomically(() => {
      if (!stillAsChecked(this.store.operators.get(user), checked)) throw new AppError('login_failed', 'wrong user or password');
      this.store.sessions.putSync(tokenHash, record);
    });
    return { token, session: { user, tokenHash, expiresAt: record.expiresAt } };
  }

  /** The live session for a token presented by a client (resume). */
  resume(token: unknown, slide = true): Session {
    if (typeof token !== 'string' || token.length > 128) throw new AppError('session_expired', 'the session is unknown or expired: log in again');
    return this.check(hashOf(token), slide);
  }

  /**
   * Re-checks a connection's session on every operation: logout or expiry elsewhere takes effect at once. `slide`:
   * the operation counts as activity and extends the session; a page refreshing itself does not.
   */
  check(tokenHash: string, slide = true): Session {
    const record = this.store.sessions.get(tokenHash);
    const now = this.now();
    if (!this.live(record, now)) throw new AppError('session_expired', 'the session is unknown or expired: log in again');
    let expiresAt = record.expiresAt;
    if (slide && now - record.lastSeenAt > 60_000) {
      // Sliding expiry, written at most once a minute per session.
      expiresAt = this.endOf(record.createdAt, now);
      // Nobody waits for it; a failure (a full disk) only shortens the session, and the store reports it. It extends
      // the record only if it still exists when the write runs, never writes the one read above: a logout here or a
      // `users passwd|reset-2fa` in another process may have removed it meanwhile, and it must stay removed.
      void this.store.settled(this.store.root.transaction(() => {
        const current = this.store.sessions.get(tokenHash);
        if (current) this.store.sessions.putSync(tokenHash, { ...current, lastSeenAt: Math.max(current.lastSeenAt, now), expiresAt: Math.max(current.expiresAt, expiresAt) });
      }));
    }
    return { user: record.user, tokenHash, expiresAt };
  }

  isLive(tokenHash: string): boolean {
    return this.live(this.store.sessions.get(tokenHash), this.now());
  }

  /**
   * `users disable` removes the operator's sessions; a session counts only while its operator exists and is enabled
   * too, so that one written by a login racing the disable (or left by an operator removed from the store) is dead.
   */
  private live(record: SessionRecord | undefined, now: number): record is SessionRecord {
    if (!record || this.ended(record, now)) return false;
    const operator = this.store.operators.get(record.user);
    return operator !== undefined && !isDisabled(operator);
  }

  /**
   * Removes the records of sessions that expired without a logout (a page closed, a laptop asleep); returns how many.
   * They could never be resumed, but the table, which `users disable` reads whole, grew with every such login.
   */
  async forgetExpired(): Promise<number> {
    const now = this.now();
    const expired = [...this.store.sessions.getRange().filter(({ value }) => this.ended(value, now)).map(({ key }) => key)];
    if (expired.length === 0) return 0;
    await this.store.atomically(() => {
      for (const tokenHash of expired) this.store.sessions.removeSync(tokenHash);
    });
    return expired.length;
  }

  async destroy(tokenHash: string): Promise<void> {
    await this.store.durable(this.store.sessions.remove(tokenHash));
  }
}
