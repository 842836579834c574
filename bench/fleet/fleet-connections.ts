/** @module The active terminals' keep-alive connections to one server (one each, from its own address) and their pre-signed requests. */
// The server closes a connection idle for 10 s (uWebSockets.js' fixed HTTP idle timeout, checked every 4 s): a fleet whose
// terminals call less often than that is held open with heartbeats, and the reports count them.
import { KeepAliveConnection, loopbackAddress } from './keep-alive-connection.js';

/** Heartbeat a connection to a uWebSockets.js server idle this long: its 10 s idle timeout is checked every 4 s, so it may fire after 8 s. */
export const UWS_HEARTBEAT_AFTER_MS = 6_500;
/** Connection upkeep runs this often, each time on a share of the fleet, covering all of it every second (see `maintain`). */
const MAINTAIN_EVERY_MS = 100;
const MAINTAIN_ROUND_MS = 1_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** An unauthenticated request the server answers 404 without parsing or crypto: the cheapest way to reset its idle timer. */
const HEARTBEAT = Buffer.from('GET /keepalive HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 'latin1');

export class FleetConnections {
  readonly conns: (KeepAliveConnection | null)[];
  reconnects = 0;
  heartbeats = 0;
  /** A heartbeat in flight on terminal i's connection: its next call waits for it. */
  private readonly beats: (Promise<void> | null)[];
  /** Where the next `maintain` share starts, and when the last one ran. */
  private maintainAt = 0;
  private maintainedAt = 0;
  private readonly upkeep: NodeJS.Timeout;

  /**
   * Keeps the connections open and unstuck from now until `closeAll`, between phases too: while another generator
   * drives another target, this fleet waits idle and must still be there for its next phase.
   */
  constructor(readonly requests: Buffer[][], private readonly target: { host: string; port: number; heartbeatAfterMs: number }) {
    this.conns = requests.map(() => null);
    this.beats = requests.map(() => null);
    this.upkeep = setInterval(() => this.maintain(performance.now(), target.heartbeatAfterMs, MAINTAIN_ROUND_MS), MAINTAIN_EVERY_MS);
  }

  get size(): number {
    return this.requests.length;
  }

  get openCount(): number {
    let n = 0;
    for (const c of this.conns) if (c?.isOpen) n++;
    return n;
  }

  get busyCount(): number {
    let n = 0;
    for (const c of this.conns) if (c?.busy) n++;
    return n;
  }

  /** Terminal i's own connection, from its own loopback address. */
  connect(i: number): Promise<KeepAliveConnection> {
    return KeepAliveConnection.connect({ host: this.target.host, port: this.target.port, localAddress: loopbackAddress(i) }).then((c) => (this.conns[i] = c));
  }

  /** Terminal i's connection, free for a call; reopened (and counted) when the server closed it. */
  async ready(i: number): Promise<KeepAliveConnection> {
    const beat = this.beats[i];
    if (beat) await beat;
    const conn = this.conns[i];
    if (conn?.isOpen) return conn;
    this.reconnects++;
    return this.connect(i);
  }

  /**
   * Heartbeats and request timeouts for the share of the connections that `roundMs` gives the time since the last
   * call, taking turns: every connection is looked at once per `roundMs`, however often this runs, and a late timer
   * only makes the next share larger. One pass over 10,000 connections takes a few milliseconds; done at once every
   * second it held every call due meanwhile, and the stall showed in the latency percentiles.
   */
  maintain(nowMs: number, heartbeatAfterMs: number, roundMs: number): void {
    const n = this.conns.length;
    const elapsed = this.maintainedAt === 0 ? roundMs : nowMs - this.maintainedAt;
    this.maintainedAt = nowMs;
    const count = Math.min(n, Math.ceil((n * elapsed) / roundMs));
    for (let k = 0; k < count; k++) {
      const i = this.maintainAt;
      this.maintainAt = (i + 1) % n;
      const conn = this.conns[i];
      if (!conn?.isOpen) continue;
      // Closes a connection stuck longer than the timeout: its call counts as a failure.
      if (conn.sentAt > 0 && nowMs - conn.sentAt > REQUEST_TIMEOUT_MS) {
        conn.close();
        continue;
      }
      // Answers (404) are not counted as calls.
      if (conn.busy || nowMs - conn.lastActivityAt < heartbeatAfterMs) continue;
      this.heartbeats++;
      this.beats[i] = conn.request(HEARTBEAT).then(() => undefined, () => undefined).finally(() => {
        this.beats[i] = null;
      });
    }
  }

  closeAll(): void {
    clearInterval(this.upkeep);
    for (const conn of this.conns) conn?.close();
    this.conns.fill(null);
  }
}
