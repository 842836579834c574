/**
 * @module What the page knows: the session, a cache of the terminals it has seen, the pairing requests it has loaded
 * (every pending one, and the pages of history asked for), unknown serials and the gate, kept current by pushes.
 */
import { effectiveState } from './format.js';
/** @typedef {import('../../protocol/types.js').TerminalView} TerminalView */
/** @typedef {import('../../protocol/types.js').PairingView} PairingView */
/** @typedef {import('../../protocol/types.js').PairingState} PairingState */
/** @typedef {import('../../protocol/types.js').UnknownSerialView} UnknownSerialView */
/** @typedef {import('../../protocol/types.js').GateStatus} GateStatus */
/**
 * `role`: `viewer` for a read-only account, which the server refuses every op that changes something; the page offers
 * it no control that would fail.
 * @typedef {{ user: string, has2fa: boolean, role: 'operator' | 'viewer', expiresAt: string }} Session
 */
/** @typedef {'session' | 'terminals' | 'requests' | 'unknown' | 'gate'} Topic */
/**
 * @typedef {{ terminal: TerminalView, created: boolean } | { deleted: TerminalView } | { filled: TerminalView[] } | { reset: true }} TerminalsDetail
 */
/** @typedef {(topic: Topic, detail: TerminalsDetail | null) => void} Listener */

/**
 * Terminals kept at most. A fleet can hold hundreds of thousands: the page keeps those it has shown or been told
 * about lately (pages, details, pushes), least recently seen dropped first, never one with a pending request.
 */
const TERMINAL_CACHE = 2000;

export class Store {
  constructor() {
    /** @type {Session | null} */
    this.session = null;
    /**
     * serial → terminal, in the order last seen (a Map keeps insertion order: the first entries are the oldest).
     * @type {Map<string, TerminalView>}
     */
    this.terminals = new Map();
    /** @type {Map<string, PairingView>} requestId → request */
    this.requests = new Map();
    /** @type {Map<string, UnknownSerialView>} serial → its latest attempt */
    this.unknown = new Map();
    /**
     * Serials the server said are no terminal (terminals.get: not_found), such as those of deleted terminals that
     * pairing history names: not asked again until a reconnection, or until a push brings that terminal.
     */
    /** @type {Set<string>} */
    this.absent = new Set();
    /** @type {GateStatus | null} */
    this.gate = null;
    /** @type {Set<Listener>} */
    this.listeners = new Set();
  }

  /**
   * Calls `listener(topic, detail)` after every change; topic is 'session' | 'terminals' | 'requests' | 'unknown' |
   * 'gate'. For 'terminals', detail says what: `{ terminal, created }` (one terminal changed: a push, an op's answer,
   * its pending flag), `{ deleted }` (that terminal is gone), `{ filled }` (a batch the page asked for), or `{ reset }`
   * (the cache was emptied: reload).
   * @param {Listener} listener
   */
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * @param {Topic} topic
   * @param {TerminalsDetail | null} [detail]
   */
  changed(topic, detail = null) {
    for (const listener of this.listeners) listener(topic, detail);
  }

  clear() {
    this.session = null;
    this.terminals.clear();
    this.requests.clear();
    this.unknown.clear();
    this.absent.clear();
    this.gate = null;
    this.changed('session');
  }

  /** @param {Session} session */
  setSession(session) {
    this.session = session;
    this.changed('session');
  }

  /** After a (re)connection: pushes may have been missed meanwhile, so nothing cached can be trusted. */
  resetTerminals() {
    this.terminals.clear();
    this.absent.clear();
    this.changed('terminals', { reset: true });
  }

  /** Terminals as the server just gave them (a page of the list, a batch of gets). */
  /** @param {TerminalView[]} list */
  cacheTerminals(list) {
    for (const terminal of list) this.remember(terminal);
    this.evict();
    this.changed('terminals', { filled: list });
  }

  /**
   * `created`: the push of a new terminal (the list's total grows).
   * @param {TerminalView} terminal
   * @param {{ created?: boolean }} [options]
   */
  putTerminal(terminal, { created = false } = {}) {
    this.remember(terminal);
    this.evict();
    this.changed('terminals', { terminal, created });
  }

  /**
   * `terminal`: as it was before terminals.delete removed it.
   * @param {TerminalView} terminal
   */
  dropTerminal(terminal) {
    this.terminals.delete(terminal.serial);
    this.changed('terminals', { deleted: terminal });
  }

  /** @param {TerminalView} terminal */
  remember(terminal) {
    this.terminals.delete(terminal.serial);
    this.terminals.set(terminal.serial, terminal);
    this.absent.delete(terminal.serial);
    // The server drops a created serial from unknown.list; the page, which loaded that list before, follows the push.
    if (this.unknown.delete(terminal.serial)) this.changed('unknown');
  }

  evict() {
    if (this.terminals.size <= TERMINAL_CACHE) return;
    const kept = new Set(this.pendingRequests().map((r) => r.serial));
    for (const serial of this.terminals.keys()) {
      if (this.terminals.size <= TERMINAL_CACHE) break;
      if (!kept.has(serial)) this.terminals.delete(serial);
    }
  }

  /** The pending requests, as the server listed them at login: they replace every request known. */
  /** @param {PairingView[]} list */
  setRequests(list) {
    this.requests = new Map(list.map((r) => [r.requestId, r]));
    this.changed('requests');
  }

  /** A page of requests a view asked for. */
  /** @param {PairingView[]} list */
  addRequests(list) {
    for (const r of list) this.requests.set(r.requestId, r);
    this.changed('requests');
  }

  /** @param {PairingView} request */
  putRequest(request) {
    this.requests.set(request.requestId, request);
    this.refreshOtherKeys(request.serial);
    this.changed('requests');
    this.refreshPendingFlag(request.serial);
  }

  /**
   * `otherKeysWaiting` of the serial's pending requests, from the ones this page holds (every pending request: listed at
   * login, pushed after): a second key's request warns on the first one's row too, and the warning goes when either is
   * decided, as the server would count them.
   * @param {string} serial
   */
  refreshOtherKeys(serial, now = Date.now()) {
    const waiting = [...this.requests.values()].filter((r) => r.serial === serial && effectiveState(r, now) === 'pending');
    for (const r of waiting) {
      const others = waiting.filter((other) => other.tfp !== r.tfp).length;
      if (r.otherKeysWaiting !== others) this.requests.set(r.requestId, { ...r, otherKeysWaiting: others });
    }
  }

  /** Drops decided and expired requests before a view pages through history again: only pending ones stay for good. */
  forgetDecided(now = Date.now()) {
    for (const [id, r] of this.requests) if (effectiveState(r, now) !== 'pending') this.requests.delete(id);
  }

  /**
   * Requests known here, newest first, in `state` (effective; all states if absent) and of `serial` if given. `since`:
   * only those requested at or after it — a paged list holds every request newer than its last row, and pushes add
   * to its top; older ones in the store belong to pages not loaded.
   * @param {{ state?: PairingState, serial?: string, since?: string }} [filter]
   * @returns {PairingView[]}
   */
  requestsWhere({ state, serial, since } = {}, now = Date.now()) {
    return [...this.requests.values()]
      .map((r) => ({ ...r, state: effectiveState(r, now) }))
      .filter((r) => (!state || r.state === state) && (!serial || r.serial === serial) && (!since || r.requestedAt >= since))
      .sort((a, b) => b.requestedAt.localeCompare(a.requestedAt));
  }

  /** A cached terminal's `pending` state follows the requests the page sees (the server pushes no terminal event for it). */
  /** @param {string} serial */
  refreshPendingFlag(serial) {
    const terminal = this.terminals.get(serial);
    if (!terminal || terminal.state === 'paired') return;
    const pending = [...this.requests.values()].some((r) => r.serial === serial && effectiveState(r) === 'pending');
    const state = pending ? 'pending' : 'expected';
    if (terminal.state !== state) this.putTerminal({ ...terminal, state });
  }

  /** At a request's expiry time its terminal is no longer pending. */
  refreshPendingFlags() {
    const waiting = [...this.requests.values()].filter((r) => r.state === 'pending');
    for (const serial of new Set(waiting.map((r) => r.serial))) this.refreshPendingFlag(serial);
  }

  /** unknown.list's answer: the server's list is whole and current (a created serial leaves it), so it replaces this one. */
  /** @param {UnknownSerialView[]} list */
  setUnknown(list) {
    this.unknown = new Map(list.map((u) => [u.serial, u]));
    this.changed('unknown');
  }

  /**
   * The push terminal.unknown_serial is the list's whole entry (the server's count and time included): it replaces the
   * one held.
   * @param {UnknownSerialView} entry
   */
  putUnknown(entry) {
    this.unknown.set(entry.serial, entry);
    this.changed('unknown');
  }

  /** @param {GateStatus} gate */
  setGate(gate) {
    this.gate = gate;
    this.changed('gate');
  }

  /** Requests waiting for an operator: the badge count. */
  pendingRequests(now = Date.now()) {
    return [...this.requests.values()].filter((r) => effectiveState(r, now) === 'pending');
  }
}
