/**
 * @module Who hears what on the admin channel: each connection's session and subscriptions, the pushes to a topic's
 * subscribers (every push re-checks the session), and `cash.recorded` coalesced from the front threads' tallies.
 */
import type { WebSocket } from 'uWebSockets.js';
import { Mailbox } from '../actors/mailbox.js';
import { CASH_NOTICE_MS, CashNotices, type CashRecorded } from '../admin/cash-notices.js';
import type { Connection, Subscriptions } from '../admin/op-spec.js';
import { ADMIN_TOPICS, type AdminTopic } from '../protocol/types.js';
import type { CashCounts } from './cash-tally.js';
import { ThrottledFlush } from './throttled-flush.js';

export interface SocketData {
  conn: AdminConnection;
}

export class AdminConnection implements Connection {
  session: Connection['session'] = null;
  /** The token this connection was told is dead (`session.ended`); its next op still gets `session_expired`, and is audited as such. */
  endedToken: string | null = null;
  closed = false;
  readonly mailbox = new Mailbox();
  /** Messages received and not yet started: dropped when the connection closes (nobody is left to answer). */
  queued = 0;
  /** Their bytes: bounded with their number (AdminAdmission.mayQueue). */
  queuedBytes = 0;
  /** The one terminal whose cash events this connection's `cash` subscription is about; null: every terminal's. */
  cashSerial: string | null = null;
  private socket: WebSocket<SocketData> | null = null;

  constructor(readonly remoteAddress: string, private readonly hub: AdminHub, readonly openedAt: number) {}

  /** uWS hands out the socket only in `open`; nothing can be sent before. */
  attach(socket: WebSocket<SocketData>): void {
    this.socket = socket;
  }

  subscribe(topics: readonly AdminTopic[], cashSerial: string | null = null): void {
    // Replaces an earlier cash subscription: a page follows the one terminal it shows.
    if (topics.includes('cash')) this.cashSerial = cashSerial;
    for (const topic of topics) this.hub.join(topic, this);
  }

  unsubscribe(topics: readonly AdminTopic[]): Subscriptions {
    if (topics.includes('cash')) this.cashSerial = null;
    for (const topic of topics) this.hub.leaveTopic(topic, this);
    const held = this.hub.topicsOf(this);
    return { topics: held, cashSerial: held.includes('cash') ? this.cashSerial : null };
  }

  unsubscribeAll(): void {
    this.hub.leave(this);
  }

  endDeadSessions(): void {
    this.hub.endDeadSessions();
  }

  send(text: string): void {
    // MUST NOT touch a closed uWS socket: that throws.
    if (!this.closed && this.socket) this.socket.send(text, false);
  }

  /** Closes with a WebSocket close code the page can tell apart (CLOSE_CODES); `close` runs before this returns. */
  end(code: number, reason: string): void {
    if (!this.closed && this.socket) this.socket.end(code, reason);
  }

  /** Holds a session it has not been told is over. */
  get authenticated(): boolean {
    return this.session !== null && this.endedToken !== this.session.tokenHash;
  }
}

const SESSION_ENDED = JSON.stringify({
  event: 'session.ended',
  data: { error: 'session_expired', message: 'the session was logged out or expired: log in again' },
});

/** How often connections are checked for a session that expired while they were quiet. */
const SESSION_SWEEP_MS = 15_000;

/**
 * Subscriptions are kept here, not in uWS topics, so that every push re-checks the session behind a socket. A
 * connection whose session ends (logout on another connection with the same token, idle expiry) is told so with
 * `session.ended` and unsubscribed: a page left open must not go on showing a live view that no longer receives pushes.
 */
export class AdminHub {
  private readonly topics = new Map<AdminTopic, Set<AdminConnection>>();
  private readonly connections = new Set<AdminConnection>();
  private readonly sweep: NodeJS.Timeout;
  private readonly cash = new CashNotices();
  /** Once for every session subscribed to `cash`: each is told at most once per CASH_NOTICE_MS. */
  private readonly cashFlush = new ThrottledFlush(CASH_NOTICE_MS, () => this.pushCash());

  constructor(private readonly isLive: (tokenHash: string) => boolean, private readonly ended: (conn: AdminConnection) => void) {
    this.sweep = setInterval(() => this.endDeadSessions(), SESSION_SWEEP_MS);
    this.sweep.unref();
  }

  /** Every connection still holding a session that is no longer live (logged out, or idle past its expiry). */
  endDeadSessions(): void {
    for (const conn of this.connections) {
      if (conn.authenticated && !this.isLive(conn.session!.tokenHash)) this.end(conn);
    }
  }

  close(): void {
    clearInterval(this.sweep);
    this.cashFlush.stop();
  }

  private end(conn: AdminConnection): void {
    conn.endedToken = conn.session?.tokenHash ?? null;
    this.leave(conn);
    conn.send(SESSION_ENDED);
    this.ended(conn);
  }

  join(topic: AdminTopic, conn: AdminConnection): void {
    let members = this.topics.get(topic);
    if (!members) this.topics.set(topic, (members = new Set()));
    members.add(conn);
  }

  leave(conn: AdminConnection): void {
    for (const members of this.topics.values()) members.delete(conn);
  }

  leaveTopic(topic: AdminTopic, conn: AdminConnection): void {
    this.topics.get(topic)?.delete(conn);
  }

  /** The topics `conn` is subscribed to, in ADMIN_TOPICS' order. */
  topicsOf(conn: AdminConnection): AdminTopic[] {
    return ADMIN_TOPICS.filter((topic) => this.topics.get(topic)?.has(conn) === true);
  }

  opened(conn: AdminConnection): void {
    this.connections.add(conn);
  }

  /** Every open connection, for shutdown. */
  all(): AdminConnection[] {
    return [...this.connections];
  }

  closed(conn: AdminConnection): void {
    this.leave(conn);
    this.connections.delete(conn);
  }

  /** To every logged-in operator, subscribed or not (security alerts such as a new operator account). */
  broadcast(event: string, data: Record<string, unknown>): void {
    const frame = JSON.stringify({ event, data });
    for (const conn of this.connections) {
      if (conn.session && this.isLive(conn.session.tokenHash)) conn.send(frame);
    }
  }

  publish(topic: AdminTopic, event: string, data: Record<string, unknown>): void {
    let frame: string | undefined;
    // Made once, and only when someone is subscribed.
    this.deliver(topic, () => (frame ??= JSON.stringify({ event, data })));
  }

  /**
   * A front thread's tally: kept for the next `cash.recorded` only while a session listens. One subscribing later hears
   * of what comes after (and of what the current second already counted); its own cash.list covers what came before.
   */
  cashRecorded(counts: CashCounts): void {
    if (!this.topics.get('cash')?.size) return;
    this.cash.add(counts);
    this.cashFlush.due();
  }

  private pushCash(): void {
    const recorded = this.cash.take();
    if (!recorded) return;
    const all = JSON.stringify({ event: 'cash.recorded', data: recorded.all() });
    this.deliver('cash', (conn) => (conn.cashSerial === null ? all : cashFrame(recorded, conn.cashSerial)));
  }

  /** `frameFor` null: this member is not told. */
  private deliver(topic: AdminTopic, frameFor: (conn: AdminConnection) => string | null): void {
    const members = this.topics.get(topic);
    if (!members || members.size === 0) return;
    for (const conn of members) {
      if (conn.session && this.isLive(conn.session.tokenHash)) {
        const frame = frameFor(conn);
        if (frame !== null) conn.send(frame);
      } else if (conn.authenticated) this.end(conn);
      else members.delete(conn);
    }
  }
}

function cashFrame(recorded: CashRecorded, serial: string): string | null {
  const data = recorded.of(serial);
  return data && JSON.stringify({ event: 'cash.recorded', data });
}
