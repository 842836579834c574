/** @module The admin WebSocket channel as the page uses it: numbered requests answered by promises, pushes to listeners, reconnection. */

/** An error reply from the server, or a lost connection (`code` = 'disconnected'). */
export class ChannelError extends Error {
  /**
   * `details`: the reply's extra fields, such as `retryAfter` (seconds) or `attemptsLeft`.
   * @param {string} code the server's error code (src/errors.ts), or 'disconnected'
   * @param {string} message
   * @param {{ retryAfter?: unknown, attemptsLeft?: unknown }} [details]
   */
  constructor(code, message, details = {}) {
    super(message);
    this.code = code;
    this.retryAfter = typeof details.retryAfter === 'number' ? details.retryAfter : undefined;
    this.attemptsLeft = typeof details.attemptsLeft === 'number' ? details.attemptsLeft : undefined;
  }
}

/**
 * What a view's `catch` gets from an op: a ChannelError, or an Error of the page's own (a fault) whose code is
 * undefined. A catch variable is `unknown` to the checker: the views cast it to this.
 * @typedef {Error & Partial<Pick<ChannelError, 'code' | 'retryAfter' | 'attemptsLeft'>>} Failure
 */

const RETRY_MS = [500, 1000, 2000, 5000, 10000];
/** Close codes of the server's admission (src/net/admin-admission.ts): no session past the login deadline; too many connections without one. */
const LOGIN_DEADLINE = 4408;
const TOO_MANY_WAITING = 4503;

export class Channel {
  /** @param {string} url wss URL of the admin channel */
  constructor(url) {
    this.url = url;
    this.nextId = 1;
    /** @type {Map<number, { resolve: (result: any) => void, reject: (error: ChannelError) => void }>} */
    this.pending = new Map();
    /** @type {Map<string, Set<(data: any) => void>>} */
    this.listeners = new Map();
    /** @type {WebSocket | null} */
    this.socket = null;
    /** @type {Promise<void> | null} */
    this.opening = null;
    this.retries = 0;
    this.closedByUs = false;
    this.evicted = false;
  }

  /** Resolves once the socket is open; reuses an open or opening socket. */
  open() {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) return Promise.resolve();
    if (this.opening) return this.opening;
    this.closedByUs = false;
    this.opening = new Promise((resolve, reject) => {
      const socket = new WebSocket(this.url);
      this.socket = socket;
      socket.addEventListener('open', () => {
        this.opening = null;
        // After an eviction the backoff keeps growing: under a flood each new connection may be closed again at once.
        if (!this.evicted) this.retries = 0;
        this.evicted = false;
        // MUST emit before resolving: an 'open' listener re-attaches the session (sendNow), and requests
        // queued while connecting must reach the server after that, not before.
        this.emit('open', {});
        resolve();
      });
      socket.addEventListener('message', (event) => this.receive(event.data));
      socket.addEventListener('close', (event) => {
        // A socket already replaced (closed by us, and a new one opened before its close came: a logout then a login)
        // speaks for nothing now: clearing state here would drop the new socket and fail its requests.
        if (this.socket !== socket) {
          reject(new ChannelError('disconnected', 'cannot reach the server'));
          return;
        }
        const wasOpening = this.opening !== null;
        this.opening = null;
        this.socket = null;
        for (const { reject: fail } of this.pending.values()) fail(new ChannelError('disconnected', 'the connection to the server was lost'));
        this.pending.clear();
        if (wasOpening) reject(new ChannelError('disconnected', 'cannot reach the server'));
        this.emit('close', {});
        // 4408: the server closes a connection that has had no session for minutes (a login form left open). The next
        // request opens a new one; reconnecting now would only wait out another deadline.
        if (event.code === TOO_MANY_WAITING) this.evicted = true;
        if (!this.closedByUs && event.code !== LOGIN_DEADLINE) this.scheduleReconnect();
      });
    });
    return this.opening;
  }

  scheduleReconnect() {
    const delay = RETRY_MS[Math.min(this.retries, RETRY_MS.length - 1)];
    this.retries += 1;
    setTimeout(() => {
      if (!this.closedByUs) this.open().catch(() => {});
    }, delay);
  }

  /**
   * Sends one op and resolves with its result, or rejects with a ChannelError carrying the server's code.
   * `background`: the page sends it by itself, not for the operator; the server then does not extend the session.
   */
  async request(op, args = {}, { background = false } = {}) {
    await this.open();
    return this.sendNow(op, args, { background });
  }

  /** Sends on the socket that is open right now, without waiting; for 'open' listeners. */
  sendNow(op, args = {}, { background = false } = {}) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new ChannelError('disconnected', 'not connected to the server'));
    }
    const socket = this.socket;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      socket.send(JSON.stringify(background ? { id, op, args, background: true } : { id, op, args }));
    });
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof frame.event === 'string') {
      this.emit(frame.event, frame.data ?? {});
      this.emit('*', { event: frame.event, data: frame.data ?? {} });
      return;
    }
    const waiter = this.pending.get(frame.id);
    if (!waiter) return;
    this.pending.delete(frame.id);
    if (frame.ok) waiter.resolve(frame.result);
    else waiter.reject(new ChannelError(frame.error, frame.message, frame));
  }

  /** Listens to a push event name, or 'open' / 'close' / '*'. Returns the function that stops listening. */
  on(name, listener) {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  emit(name, data) {
    for (const listener of this.listeners.get(name) ?? []) {
      try {
        listener(data);
      } catch (error) {
        console.error(error);
      }
    }
  }

  close() {
    this.closedByUs = true;
    this.socket?.close();
  }
}
