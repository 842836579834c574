/** @module A minimal keep-alive HTTP/1.1 client over one TLS socket: writes pre-built request bytes, parses just the status and body, so the load generator stays cheap. */
import tls from 'node:tls';

export interface Reply {
  status: number;
  body: Buffer;
}

export interface ConnectOptions {
  host: string;
  port: number;
  /** Source address: each terminal connects from its own loopback address, as a fleet would from its own IPs. */
  localAddress?: string;
  timeoutMs?: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');
/**
 * What a connection holds between replies: one shared empty buffer rather than a new one per reply. A connection lives
 * for the whole run and calls again only 10,000 calls later, so a fresh buffer it held outlived scavenges for nothing.
 */
const EMPTY = Buffer.alloc(0);
/**
 * One TLS context for every connection: tls.connect builds a new one per call otherwise (loading the default CA
 * store each time), which was a quarter of the generator's CPU while 10,000 terminals connected.
 */
let sharedContext: tls.SecureContext | null = null;
/**
 * What every connection of this thread reads into (tls.connect's `onread`): a reply is parsed, or copied when it is
 * incomplete, before the next read. Node otherwise gives each read a Buffer of its own, with its own ArrayBuffer,
 * through a Readable stream: that path and sweeping those ArrayBuffers in the generator's scavenges were generator
 * CPU and pauses that a measured server's latency then included (bench/JOURNAL.md, session 15).
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Loopback source address number `i` (0-based): 127.1.0.1, 127.1.0.2, … (127.0.0.0/8 all routes to lo on Linux). */
export function loopbackAddress(i: number): string {
  const n = 0x7f010001 + i;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export class KeepAliveConnection {
  private buffered: Buffer = EMPTY;
  private pending: { resolve: (reply: Reply) => void; reject: (err: Error) => void } | null = null;
  private closed = false;
  /** performance.now() when the request in flight was written; 0 when idle. */
  sentAt = 0;
  /** performance.now() of the last request or reply: the server closes a connection idle for 10 s. */
  lastActivityAt = performance.now();

  private constructor(private readonly socket: tls.TLSSocket) {
    socket.on('close', () => this.fail(new Error('connection closed')));
    socket.on('error', (err) => this.fail(err));
  }

  static connect(opts: ConnectOptions): Promise<KeepAliveConnection> {
    return new Promise((resolve, reject) => {
      // Bytes arrive only after a request is written, so after `connection` is set below.
      let connection: KeepAliveConnection | null = null;
      // tls.connect hands these to net.connect, which honours localAddress and onread; @types/node only lists the TLS options.
      const options: tls.ConnectionOptions & { localAddress?: string; onread: { buffer: Buffer; callback(bytes: number, buffer: Buffer): void } } = {
        host: opts.host, port: opts.port, localAddress: opts.localAddress,
        // The generator drives load; pinning the SFP is the terminal library's job and is tested elsewhere.
        rejectUnauthorized: false,
        secureContext: (sharedContext ??= tls.createSecureContext()),
        onread: {
          buffer: READ_BUFFER,
          // Node reads into the start of the buffer it is given, every time.
          callback: (bytes, buffer) => {
            if (connection) connection.onData(buffer.subarray(0, bytes));
            else socket.destroy(new Error('the server sent bytes before any request'));
          },
        },
      };
      const socket = tls.connect(options);
      const timer = setTimeout(() => socket.destroy(new Error('TLS handshake timed out')), opts.timeoutMs ?? 20_000);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.removeListener('error', reject);
        // Small request/response pairs: Nagle would add up to 40 ms to every call.
        socket.setNoDelay(true);
        connection = new KeepAliveConnection(socket);
        resolve(connection);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  get busy(): boolean {
    return this.pending !== null;
  }

  /** Sends one request and resolves with its reply; one request at a time (no pipelining). */
  request(bytes: Buffer | string): Promise<Reply> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    if (this.pending) return Promise.reject(new Error('a request is already in flight on this connection'));
    return new Promise<Reply>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.sentAt = performance.now();
      this.lastActivityAt = this.sentAt;
      this.socket.write(bytes);
    });
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private fail(err: Error): void {
    this.closed = true;
    const pending = this.pending;
    this.pending = null;
    this.sentAt = 0;
    pending?.reject(err);
  }

  /** `chunk` is in READ_BUFFER, valid until this returns: what is kept is copied. */
  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const reply = this.parse();
    // parse() leaves EMPTY when nothing is left over; anything else still in READ_BUFFER is kept as a copy.
    if (this.buffered.buffer === READ_BUFFER.buffer) this.buffered = Buffer.from(this.buffered);
    if (reply === null) return;
    const pending = this.pending;
    this.pending = null;
    this.sentAt = 0;
    this.lastActivityAt = performance.now();
    if (pending) pending.resolve(reply);
    else this.fail(new Error('the server sent bytes nobody asked for'));
  }

  /** One complete response off the front of the buffer, or null while it is incomplete. */
  private parse(): Reply | null {
    const end = this.buffered.indexOf(HEADER_END);
    if (end < 0) return null;
    const head = this.buffered.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const lower = head.toLowerCase();
    const length = /\r\ncontent-length:\s*(\d+)/.exec(lower);
    let body: Buffer;
    let consumed: number;
    if (length) {
      consumed = end + 4 + Number(length[1]);
      if (this.buffered.length < consumed) return null;
      // A copy: the caller reads the body after READ_BUFFER has taken other connections' bytes.
      body = Buffer.from(this.buffered.subarray(end + 4, consumed));
    } else if (lower.includes('\r\ntransfer-encoding: chunked')) {
      const chunked = dechunk(this.buffered, end + 4);
      if (chunked === null) return null;
      [body, consumed] = chunked;
    } else {
      body = EMPTY;
      consumed = end + 4;
    }
    this.buffered = this.buffered.length === consumed ? EMPTY : this.buffered.subarray(consumed);
    if (/\r\nconnection:\s*close/.test(lower)) this.closed = true;
    return { status, body };
  }
}

/** Decodes a chunked body starting at `from`; returns [body, offset after it] or null while incomplete. */
function dechunk(buf: Buffer, from: number): [Buffer, number] | null {
  const parts: Buffer[] = [];
  let at = from;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd < 0) return null;
    const size = parseInt(buf.toString('latin1', at, lineEnd), 16);
    if (Number.isNaN(size)) throw new Error('malformed chunked body');
    const dataStart = lineEnd + 2;
    if (size === 0) {
      // No trailers expected: the last chunk ends with an empty line.
      if (buf.length < dataStart + 2) return null;
      return [Buffer.concat(parts), dataStart + 2];
    }
    if (buf.length < dataStart + size + 2) return null;
    parts.push(buf.subarray(dataStart, dataStart + size));
    at = dataStart + size + 2;
  }
}
