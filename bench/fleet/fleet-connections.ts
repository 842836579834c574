/** @module The active terminals' keep-alive connections to one server (one each, from its own address) and their pre-signed requests. */
// The server closes a connection idle for 10 s (uWebSockets.js' fixed HTTP idle timeout, checked every 4 s): a fleet whose
// terminals call less often than that is held open with heartbeats, and the reports count them.
import { KeepAliveConnection, loopbackAddress } from './keep-alive-connection.js';

const REQUEST_TIMEOUT_MS = 10_000;
/** An unauthenticated request the server answers 404 without parsing or crypto: the cheapest way to reset its idle timer. */
const HEARTBEAT = Buffer.from('GET /keepalive HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 'latin1');

export class FleetConnections {
  readonly conns: (KeepAliveConnection | null)[];
  reconnects = 0;
  heartbeats = 0;
  /** A heartbeat in flight on terminal i's connection: its next call waits for it. */
  private readonly beats: (Promise<void> | null)[];

  constructor(readonly requests: Buffer[][], private readonly target: { host: string; port: number }) {
    this.conns = requests.map(() => null);
    this.beats = requests.map(() => null);
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

  /** Keeps connections open that would otherwise pass the server's idle timeout; answers (404) are not counted as calls. */
  heartbeat(nowMs: number, idleForMs: number): void {
    this.conns.forEach((conn, i) => {
      if (!conn?.isOpen || conn.busy || nowMs - conn.lastActivityAt < idleForMs) return;
      this.heartbeats++;
      this.beats[i] = conn.request(HEARTBEAT).then(() => undefined, () => undefined).finally(() => {
        this.beats[i] = null;
      });
    });
  }

  /** Closes connections stuck longer than the timeout: their calls count as failures. */
  sweep(nowMs: number): void {
    for (const conn of this.conns) if (conn && conn.sentAt > 0 && nowMs - conn.sentAt > REQUEST_TIMEOUT_MS) conn.close();
  }

  closeAll(): void {
    for (const conn of this.conns) conn?.close();
    this.conns.fill(null);
  }
}
