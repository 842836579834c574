/** @module The operator side of the admin channel: a pinned WSS client that sends requests, matches replies by id and relays pushes. */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import { AppError, isErrorCode } from '../errors.js';
import type { AdminPush, AdminReply, AdminTopic } from '../protocol/types.js';
import { fingerprint, formatFingerprint, normalizeFingerprint } from '../crypto/fingerprint.js';

export interface AdminClientOptions {
  /** Pinned Server Certificate Fingerprint: 64 hex digits or the `AB:CD:…` form. */
  fingerprint?: string;
  /** Skip pinning (tests, or a trusted loopback); never the default. */
  insecure?: boolean;
  /** Connect timeout and per-request timeout, ms. */
  timeoutMs?: number;
  /** The local address to connect from (a host with several; tests use other loopback addresses). */
  localAddress?: string;
}

/** What `login` and `resume` answer. */
export interface SessionInfo {
  token: string;
  expiresAt: string;
  user: string;
  has2fa: boolean;
  /** `viewer`: a read-only account, refused (`forbidden`) every op that changes something. Absent from older servers. */
  role?: 'operator' | 'viewer';
}

type PushListener = (push: AdminPush) => void;
type CloseListener = (info: { code: number; reason: string }) => void;

const DEFAULT_TIMEOUT_MS = 10_000;
const HOW_TO_GET_SFP =
  'pass the Server Certificate Fingerprint (print it on the server with `npx pairing-server fingerprint --data-dir DIR`)';

interface Pending {
  op: string;
  resolve: (value: unknown) => void;
  reject: (err: AppError) => void;
  timer: NodeJS.Timeout;
}

export class AdminClient {
  private readonly ws: WebSocket;
  private readonly timeoutMs: number;
  private readonly pending = new Map<number, Pending>();
  private readonly pushListeners = new Set<PushListener>();
  private readonly closeListeners = new Set<CloseListener>();
  private nextId = 1;
  private sessionToken: string | null = null;
  private closed = false;

  private constructor(ws: WebSocket, timeoutMs: number) {
    this.ws = ws;
    this.timeoutMs = timeoutMs;
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', (code, reason) => this.onClose(code, reason.toString('utf8')));
    // After open, errors always end in 'close', which rejects what is pending.
    ws.on('error', () => undefined);
  }

  /**
   * Opens the channel and checks the server certificate against the pin before anything
   * is sent on it. Rejects with `server_pin_mismatch`, `server_unreachable` or `bad_request`.
   */
  static connect(url: string, opts: AdminClientOptions = {}): Promise<AdminClient> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return Promise.reject(new AppError('bad_request', `not a URL: ${url}`));
    }
    if (parsed.protocol !== 'wss:' && parsed.protocol !== 'ws:') {
      return Promise.reject(new AppError('bad_request', `the admin URL must start with wss:// (got ${parsed.protocol}//)`));
    }
    let pin: string | null = null;
    if (opts.fingerprint !== undefined) {
      pin = normalizeFingerprint(opts.fingerprint);
      if (pin === null) {
        return Promise.reject(new AppError('invalid_field', 'the fingerprint must be 64 hex digits, colons allowed'));
      }
      if (parsed.protocol !== 'wss:') {
        return Promise.reject(new AppError('bad_request', 'a pinned fingerprint needs a wss:// URL'));
      }
    } else if (opts.insecure !== true) {
      return Promise.reject(new AppError('bad_request', `refusing to connect without pinning: ${HOW_TO_GET_SFP}, or pass --insecure`));
    }

    return new Promise<AdminClient>((resolve, reject) => {
      let failure: AppError | null = null;
      const ws = new WebSocket(parsed, {
        // The server certificate is self-signed: trust comes from the pin, checked below.
        rejectUnauthorized: false,
        handshakeTimeout: timeoutMs,
        perMessageDeflate: false,
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      });
      const timer = setTimeout(() => {
        failure ??= new AppError('server_unreachable', `no answer from ${parsed.host} within ${timeoutMs} ms`);
        ws.terminate();
      }, timeoutMs);

      ws.on('upgrade', (res: IncomingMessage) => {
        if (pin === null) return;
        const seen = peerFingerprint(res);
        // MUST run before 'open': nothing (no login) may go out to a server that is not the pinned one.
        if (seen === null || seen !== pin) {
          // Fingerprints are public; both in openssl's form let the operator compare with the server's printout.
          failure = new AppError(
            'server_pin_mismatch',
            `the server presented SFP ${seen === null ? '(none)' : formatFingerprint(seen)}, not the pinned ${formatFingerprint(pin)}; nothing was sent. `
              + 'Compare both with `pairing-server fingerprint --colons` on the server, read out by its administrator over a channel you trust: '
              + 'a wrong URL, another machine at that address, or someone in the middle. Only if the server\'s certificate really changed, '
              + 'pin the new SFP (--fingerprint or CAS_FINGERPRINT)',
          );
          res.socket.destroy();
          ws.terminate();
        }
      });
      ws.on('unexpected-response', (_req, res) => {
        // The admin channel is at /admin; the same port serves the web page everywhere else.
        const hint = parsed.pathname === '/admin' ? '' : ` (is the URL's path /admin? e.g. wss://${parsed.host}/admin)`;
        failure ??= new AppError('server_unreachable', `${parsed.host} answered HTTP ${res.statusCode ?? '?'} instead of a WebSocket${hint}`);
        res.socket.destroy();
        ws.terminate();
      });
      ws.once('open', () => {
        clearTimeout(timer);
        ws.removeAllListeners('error');
        resolve(new AdminClient(ws, timeoutMs));
      });
      ws.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(failure ?? new AppError('server_unreachable', `cannot reach ${parsed.host}: ${err.code ?? err.message}`));
      });
    });
  }

  /** The session token after `login` or `resume`; null when logged out. */
  get token(): string | null {
    return this.sessionToken;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Sends one op and resolves its `result`; rejects with the server's error code. */
  request<T = unknown>(op: string, args?: object): Promise<T> {
    if (this.closed) return Promise.reject(new AppError('server_unreachable', 'the admin connection is closed'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new AppError('server_unreachable', `no answer to ${op} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { op, resolve: resolve as (value: unknown) => void, reject, timer });
      const frame = args === undefined ? { id, op } : { id, op, args };
      this.ws.send(JSON.stringify(frame), (err) => {
        if (err) this.settle(id, new AppError('server_unreachable', `could not send ${op}: ${err.message}`));
      });
    });
  }

  async login(user: string, password: string, totp?: string): Promise<SessionInfo> {
    const args = totp === undefined ? { user, password } : { user, password, totp };
    const session = await this.request<SessionInfo>('login', args);
    this.sessionToken = session.token;
    return session;
  }

  async resume(token: string): Promise<SessionInfo> {
    const session = await this.request<SessionInfo>('resume', { token });
    this.sessionToken = session.token ?? token;
    return session;
  }

  async logout(): Promise<void> {
    await this.request('logout');
    this.sessionToken = null;
  }

  /** `serial`: the `cash` topic about that terminal only. */
  subscribe(topics: readonly AdminTopic[], serial?: string): Promise<unknown> {
    return this.request('subscribe', serial === undefined ? { topics } : { topics, serial });
  }

  /** Answers what stays subscribed: `{topics, serial?}`. */
  unsubscribe(topics: readonly AdminTopic[]): Promise<unknown> {
    return this.request('unsubscribe', { topics });
  }

  on(event: 'event', listener: PushListener): this;
  on(event: 'close', listener: CloseListener): this;
  on(event: 'event' | 'close', listener: PushListener | CloseListener): this {
    if (event === 'event') this.pushListeners.add(listener as PushListener);
    else this.closeListeners.add(listener as CloseListener);
    return this;
  }

  off(event: 'event' | 'close', listener: PushListener | CloseListener): this {
    if (event === 'event') this.pushListeners.delete(listener as PushListener);
    else this.closeListeners.delete(listener as CloseListener);
    return this;
  }

  /** Closes the socket; resolves once it is closed. Pending requests are rejected. */
  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      if (this.ws.readyState !== WebSocket.CLOSING) this.ws.close(1000);
      // A server that never answers the close frame must not keep us waiting.
      setTimeout(() => this.ws.terminate(), 2_000).unref();
    });
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (isBinary) return;
    let frame: unknown;
    try {
      frame = JSON.parse(rawToString(data));
    } catch {
      return;
    }
    if (typeof frame !== 'object' || frame === null) return;
    const f = frame as Record<string, unknown>;
    if (typeof f.event === 'string') {
      const push: AdminPush = { event: f.event, data: isRecord(f.data) ? f.data : {} };
      for (const listener of this.pushListeners) listener(push);
      return;
    }
    if (typeof f.id !== 'number') return;
    const reply = f as unknown as AdminReply;
    if (reply.ok === true) {
      this.settle(reply.id, null, reply.result);
    } else {
      const code = isErrorCode(reply.error) ? reply.error : 'bad_request';
      const details: Record<string, unknown> = code === reply.error ? {} : { serverCode: String(reply.error) };
      for (const key of ['retryAfter', 'attemptsLeft'] as const) if (typeof reply[key] === 'number') details[key] = reply[key];
      this.settle(reply.id, new AppError(code, typeof reply.message === 'string' ? reply.message : String(reply.error), Object.keys(details).length > 0 ? details : undefined));
    }
  }

  private settle(id: number, err: AppError | null, result?: unknown): void {
    const entry = this.pending.get(id);
    if (entry === undefined) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    if (err) entry.reject(err);
    else entry.resolve(result);
  }

  private onClose(code: number, reason: string): void {
    this.closed = true;
    this.sessionToken = null;
    for (const id of [...this.pending.keys()]) {
      const op = this.pending.get(id)?.op ?? '?';
      this.settle(id, new AppError('server_unreachable', `the admin connection closed before ${op} was answered`));
    }
    for (const listener of this.closeListeners) listener({ code, reason });
  }
}

/** SHA-256 hex of the DER certificate the TLS peer presented, or null when there is none. */
function peerFingerprint(res: IncomingMessage): string | null {
  const socket = res.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function') return null;
  const raw = socket.getPeerCertificate(true)?.raw;
  if (!raw || raw.length === 0) return null;
  return fingerprint(raw);
}

function rawToString(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
