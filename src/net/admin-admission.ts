/**
 * @module Who may hold an admin connection: at most a few per address, a bounded number without a session (the one
 * waiting longest makes room), and none without a session for longer than the login deadline.
 *
 * Why: connections that never log in used to stay open for good (uWS's automatic pings keep an answering client
 * alive): 3,000 of them from a dozen addresses held ~16 MB for as long as the client liked. Logged-in connections
 * need a password to make, so only those without a session are bounded in all. When that bound is reached the oldest
 * of them is closed rather than the new one refused: refusing would let a few addresses holding idle connections keep
 * every operator from connecting, while closing the oldest costs an operator a reconnect only if a flood outpaces
 * the second or so between their connecting and their login.
 */
import type { Logger } from '../logger.js';
import { THROTTLE_WINDOW_MS, ThrottledAttempts } from '../admin/throttled-attempts.js';

/** Close codes (4000–4999 are the application's). The page reconnects by itself only after a shutdown or an eviction. */
export const CLOSE_CODES = Object.freeze({ shuttingDown: 1001, loginDeadline: 4408, tooManyQueued: 4429, tooManyWaiting: 4503 });

/**
 * Requests a connection may have sent that have not started yet (a connection's ops run one at a time, in order). The
 * bytes they hold are the bound that matters (`queuedBytes`); this one bounds the small ones. cas keeps 32 in flight
 * when it imports terminals, and the page sends a few reads behind its resume.
 */
export const MAX_QUEUED_REQUESTS = 1024;
/** Bytes of such requests a connection with a session may hold, by default: 16 requests of the largest size (64 KiB). */
export const DEFAULT_QUEUED_BYTES = 1024 * 1024;

export interface AdminConnectionLimits {
  /** A connection without a session is closed this long after it opened or lost its session (4408). */
  loginDeadlineMs: number;
  /** Open connections per remote address; beyond, the upgrade is answered 429. */
  perAddress: number;
  /** Connections without a session, from all addresses; beyond, the one waiting longest is closed (4503). */
  waiting: number;
  /**
   * Bytes of requests not yet started a connection with a session may hold (DEFAULT_QUEUED_BYTES); one without a session
   * a sixteenth (a login or resume and the page's first reads are a few KiB). Beyond, or past MAX_QUEUED_REQUESTS, it is
   * closed (4429).
   */
  queuedBytes?: number;
}

/** What admission needs of a connection. */
export interface AdmittedConnection {
  readonly remoteAddress: string;
  /** Holds a session it has not been told is over. */
  readonly authenticated: boolean;
  end(code: number, reason: string): void;
}

/** A connection as `mayQueue` sees it: what it has sent that has not started yet. */
export interface QueuingConnection extends AdmittedConnection {
  readonly queued: number;
  readonly queuedBytes: number;
}

export class AdminAdmission {
  private readonly perAddress = new Map<string, number>();
  /** Connections without a session, in the order they lost it (or opened): the first is the one waiting longest. */
  private readonly waiting = new Map<AdmittedConnection, number>();
  /** Refused upgrades: the first per address and window is logged, the rest summed up at the window's end. */
  private readonly refusals = new ThrottledAttempts();
  private evicted = 0;
  private readonly timers: NodeJS.Timeout[];

  constructor(private readonly limits: AdminConnectionLimits, private readonly log: Logger, private readonly now: () => number = Date.now) {
    // Checked often enough that a connection outlives its deadline by at most a quarter of it (and 15 s).
    const sweep = setInterval(() => this.closeOverdue(), Math.max(250, Math.min(15_000, limits.loginDeadlineMs / 4)));
    const summary = setInterval(() => this.endWindow(), THROTTLE_WINDOW_MS);
    this.timers = [sweep, summary];
    for (const timer of this.timers) timer.unref();
  }

  /** Why an upgrade from `address` is refused (the HTTP status line), or null to let it in. */
  refuse(address: string): string | null {
    if ((this.perAddress.get(address) ?? 0) < this.limits.perAddress) return null;
    if (this.refusals.note(address, 'connection')) {
      this.log.warn({ remoteAddress: address, limit: this.limits.perAddress }, 'admin connection refused: too many from this address');
    }
    return '429 Too Many Requests';
  }

  /**
   * Why an upgrade is refused for the web page that asked for it (403), or null. A browser sends `Origin` with every
   * WebSocket upgrade, and it must be this server's own page (`https://` + the Host of the same request): a page of
   * another site open in an operator's browser could otherwise talk to the admin channel from the operator's address
   * (which the user lockout exempts, and which may reach a port the site's owner cannot). Clients outside a browser
   * (`cas`, AdminClient, `ws`) send no Origin and are let in. Logged as the 429s are: the first per address and window.
   */
  refuseOrigin(address: string, origin: string, host: string): string | null {
    if (origin === '' || isOwnOrigin(origin, host)) return null;
    if (this.refusals.note(address, 'foreign origin')) {
      this.log.warn({ remoteAddress: address, origin: origin.slice(0, 256), host: host.slice(0, 256) }, 'admin connection refused: a web page of another origin');
    }
    return '403 Forbidden';
  }

  /**
   * Whether `conn` may queue one more request of `bytes`; if not, it is closed (4429) and its queued requests are dropped.
   * Before, a connection could queue without bound: each request waits with its frame (up to 64 KiB) until the ones
   * before it have run, and one without a session flooding logins (past its budget, each refused) grew the server by
   * 270 MB in 6 s; a viewer's flooding server.status, by 900 MB in 8 s. The whole process (master and gate too) shares
   * that memory. A client that waits for its answers never comes near the bounds.
   */
  mayQueue(conn: QueuingConnection, bytes: number): boolean {
    const withSession = this.limits.queuedBytes ?? DEFAULT_QUEUED_BYTES;
    const limit = conn.authenticated ? withSession : Math.floor(withSession / 16);
    // One request is always let wait, whatever its size: the frame size is bounded by the channel (maxPayloadLength).
    if (conn.queued === 0 || (conn.queued < MAX_QUEUED_REQUESTS && conn.queuedBytes + bytes <= limit)) return true;
    if (this.refusals.note(conn.remoteAddress, 'queued requests')) {
      this.log.warn({ remoteAddress: conn.remoteAddress, queued: conn.queued, queuedBytes: conn.queuedBytes, authenticated: conn.authenticated }, 'admin connection closed: it sent requests much faster than they are answered');
    }
    conn.end(CLOSE_CODES.tooManyQueued, 'too many requests waiting on this connection');
    return false;
  }

  opened(conn: AdmittedConnection): void {
    this.perAddress.set(conn.remoteAddress, (this.perAddress.get(conn.remoteAddress) ?? 0) + 1);
    this.sessionChanged(conn);
  }

  closed(conn: AdmittedConnection): void {
    this.waiting.delete(conn);
    const left = (this.perAddress.get(conn.remoteAddress) ?? 1) - 1;
    if (left > 0) this.perAddress.set(conn.remoteAddress, left);
    else this.perAddress.delete(conn.remoteAddress);
  }

  /** After every op and session end: a connection that lost its session starts waiting now; one that has one stops. */
  sessionChanged(conn: AdmittedConnection): void {
    if (conn.authenticated) {
      this.waiting.delete(conn);
      return;
    }
    if (this.waiting.has(conn)) return;
    if (this.waiting.size >= this.limits.waiting) this.evictOldest();
    this.waiting.set(conn, this.now());
  }

  private evictOldest(): void {
    const oldest = this.waiting.keys().next().value;
    if (oldest === undefined) return;
    this.waiting.delete(oldest);
    if (this.evicted++ === 0) {
      this.log.warn({ limit: this.limits.waiting, remoteAddress: oldest.remoteAddress }, 'admin connections without a session reached their limit: the one waiting longest is closed');
    }
    oldest.end(CLOSE_CODES.tooManyWaiting, 'too many connections waiting for a login');
  }

  /** Closes the connections that have waited past the deadline (the map is in waiting order: stops at the first that has not). */
  closeOverdue(): void {
    const cutoff = this.now() - this.limits.loginDeadlineMs;
    for (const [conn, since] of this.waiting) {
      if (since > cutoff) break;
      this.waiting.delete(conn);
      this.log.debug({ remoteAddress: conn.remoteAddress, deadlineSec: this.limits.loginDeadlineMs / 1000 }, 'admin connection closed: no login within the deadline');
      conn.end(CLOSE_CODES.loginDeadline, 'no login within the deadline');
    }
  }

  /** Sums up the window's refused upgrades and evictions past their first line. */
  endWindow(): void {
    const refused = this.refusals.drain();
    if (refused) this.log.warn({ windowSec: THROTTLE_WINDOW_MS / 1000, ...refused }, 'admin connections refused beyond the log budget');
    if (this.evicted > 1) this.log.warn({ windowSec: THROTTLE_WINDOW_MS / 1000, evicted: this.evicted }, 'admin connections without a session closed to make room');
    this.evicted = 0;
  }

  close(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.endWindow();
  }
}

/** The origin of an https URL as browsers write it (lower case, no default port), or null for anything else. */
function httpsOrigin(text: string): string | null {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' && url.username === '' && url.password === '' ? url.origin : null;
  } catch {
    return null;
  }
}

/** Whether a browser's `Origin` is the page this server serves at `host` (the request's Host header). */
function isOwnOrigin(origin: string, host: string): boolean {
  const own = host === '' ? null : httpsOrigin(`https://${host}`);
  return own !== null && httpsOrigin(origin) === own;
}
