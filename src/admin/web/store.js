/** @module What the page knows: the session, terminals, pairing requests, unknown serials and the gate, kept current by pushes. */
import { effectiveState } from './format.js';

export class Store {
  constructor() {
    this.session = null;
    this.terminals = new Map();
    this.requests = new Map();
    this.unknown = new Map();
    this.gate = null;
    this.listeners = new Set();
  }

  /** Calls `listener(topic)` after every change; topic is 'session' | 'terminals' | 'requests' | 'unknown' | 'gate'. */
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(topic) {
    for (const listener of this.listeners) listener(topic);
  }

  clear() {
    this.session = null;
    this.terminals.clear();
    this.requests.clear();
    this.unknown.clear();
    this.gate = null;
    this.changed('session');
  }

  setSession(session) {
    this.session = session;
    this.changed('session');
  }

  setTerminals(list) {
    this.terminals = new Map(list.map((t) => [t.serial, t]));
    this.changed('terminals');
  }

  putTerminal(terminal) {
    this.terminals.set(terminal.serial, terminal);
    // A created terminal is no longer unknown.
    if (this.unknown.delete(terminal.serial)) this.changed('unknown');
    this.changed('terminals');
  }

  setRequests(list) {
    this.requests = new Map(list.map((r) => [r.requestId, r]));
    this.changed('requests');
  }

  putRequest(request) {
    this.requests.set(request.requestId, request);
    this.changed('requests');
    this.refreshPendingFlag(request.serial);
  }

  /** The terminal list's `pending` state follows the requests the page sees. */
  refreshPendingFlag(serial) {
    const terminal = this.terminals.get(serial);
    if (!terminal || terminal.state === 'paired') return;
    const pending = [...this.requests.values()].some((r) => r.serial === serial && effectiveState(r) === 'pending');
    const state = pending ? 'pending' : 'expected';
    if (terminal.state !== state) this.putTerminal({ ...terminal, state });
  }

  setUnknown(list) {
    this.unknown = new Map(list.filter((u) => !this.terminals.has(u.serial)).map((u) => [u.serial, u]));
    this.changed('unknown');
  }

  putUnknown(entry) {
    if (this.terminals.has(entry.serial)) return;
    const before = this.unknown.get(entry.serial);
    this.unknown.set(entry.serial, { attempts: (before?.attempts ?? 0) + 1, ...before, ...entry, lastAttemptAt: entry.lastAttemptAt ?? new Date().toISOString() });
    this.changed('unknown');
  }

  setGate(gate) {
    this.gate = gate;
    this.changed('gate');
  }

  /** Requests waiting for an operator: the badge count. */
  pendingRequests(now = Date.now()) {
    return [...this.requests.values()].filter((r) => effectiveState(r, now) === 'pending');
  }
}
