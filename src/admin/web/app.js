/** @module The operator page's entry: the session (login, resume after reload, logout, expiry), pushes into the store, the header and the router. */
import { accountAlarms } from './alarms.js';
import { Channel } from './channel.js';
import { byId, h, fill } from './dom.js';
import { errorText } from './format.js';
import { Store } from './store.js';
import { terminalFetcher } from './terminal-fetcher.js';
import { ui } from './ui.js';
import { auditView } from './views/audit.js';
import { enrolView } from './views/enrol.js';
import { gateView } from './views/gate.js';
import { loginView } from './views/login.js';
import { pairingDetailView } from './views/pairing-detail.js';
import { pairingListView } from './views/pairing-list.js';
import { serverView } from './views/server.js';
import { terminalCreateView } from './views/terminal-create.js';
import { terminalDetailView } from './views/terminal-detail.js';
import { terminalsView } from './views/terminals.js';
import { unknownView } from './views/unknown.js';
import { renderHeader } from './header.js';
/** @typedef {import('./channel.js').Failure} Failure */
/**
 * What a view function returns: its element, the page title, and what to stop (listeners, timers) when it goes.
 * @typedef {{ el: HTMLElement, title: string, dispose?: () => void }} View
 */

/** sessionStorage: the session survives a reload of this tab, and ends with the tab. */
const TOKEN_KEY = 'pairing-admin-token';
const TOPICS = ['pairing', 'terminals'];
/** Requests the page sends by itself: the server checks the session but does not extend it (docs/ADMIN-OPS.md). */
const BACKGROUND = { background: true };

const channel = new Channel(`wss://${location.host}/admin`);
const store = new Store();
const fetcher = terminalFetcher(store, (op, args) => ctx.read(op, args));
const main = byId('main');

/** @type {(() => void) | null} */
let disposeView = null;
/**
 * The routed view on screen, null while the login form or the reconnecting notice is.
 * @type {View | null}
 */
let shownView = null;
let idleTimer = null;
let idleMs = 0;
let expiryTimer = null;

/**
 * The server ends a session after a fixed idle time without an op of the operator's; the page ends it after the same
 * time without a ctx.call. Its own requests are sent as background and extend it on neither side; a reconnection's
 * resume is sent as background and does not extend it on the server either, but the timers may still differ a little.
 */
function touchSession() {
  if (!store.session || idleMs <= 0) return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    // MUST close the connection: it may still hold the session on the server, whose pushes would otherwise go on
    // reaching the login form (toasts of pairing requests, and a terminals.get sent for each).
    channel.close();
    endSession('Your session expired after a long time without activity. Log in again.');
  }, Math.min(idleMs, 2 ** 31 - 1));
}

/** Every op of a view goes through here: a dead session sends the operator back to the login form. */
async function send(op, args, options) {
  try {
    return await channel.request(op, args, options);
  } catch (caught) {
    const error = /** @type {Failure} */ (caught);
    if (error.code === 'session_expired' || error.code === 'not_logged_in') endSession(errorText(error));
    throw error;
  }
}

const ctx = {
  store,
  channel,
  ...ui,
  /** Runs an op the operator asked for: it extends the session, here and on the server. */
  async call(op, args = {}) {
    const result = await send(op, args, {});
    touchSession();
    return result;
  },
  /**
   * Like `call`, for the requests the page sends by itself (refreshes after pushes, fetches a view needs): not operator
   * activity, so they extend the session neither here nor, sent as background, on the server. An unattended page MUST
   * time out: otherwise whoever comes to the screen days later finds an operator logged in.
   */
  read(op, args = {}) {
    return send(op, args, BACKGROUND);
  },
  navigate(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  async loggedIn(result) {
    sessionStorage.setItem(TOKEN_KEY, result.token);
    await startSession(result);
    // 2FA lets an operator approve; a viewer approves nothing with it, and may still set it up from the header.
    if (!result.has2fa && result.role !== 'viewer') ctx.navigate('#/2fa');
  },
  /**
   * Whether the operator may change anything: a viewer is offered no control the server would refuse (`forbidden`).
   * The server's check is the guard; this only keeps the page from offering buttons that fail.
   */
  mayChange() {
    return store.session?.role !== 'viewer';
  },
  async logout() {
    try {
      await channel.request('logout');
    } catch {
      // Ended locally either way; a dead connection has no session to end.
    }
    endSession('You are logged out.');
  },
  setHas2fa() {
    // A session that ended meanwhile stays ended: spreading null would make one with no user (a header, no login form).
    if (store.session) store.setSession({ ...store.session, has2fa: true });
  },
  /** Fetches, in the background, the terminals a view shows something of and the page has not seen. */
  needTerminals(serials) {
    fetcher.want(serials);
  },
};

async function startSession(result) {
  // A reconnect of the same operator keeps the view on screen (and what they typed into it); it only reloads the data.
  const resumed = store.session?.user === result.user && shownView !== null;
  idleMs = Date.parse(result.expiresAt) - Date.now();
  // A server from before roles answers none: its accounts are all operators. A change of role ends the session, so the
  // views built for it need not follow one.
  store.setSession({ user: result.user, has2fa: result.has2fa, role: result.role === 'viewer' ? 'viewer' : 'operator', expiresAt: result.expiresAt });
  touchSession();
  // MUST subscribe before loading the lists: a push between the two is then never lost. This and the loads are the
  // page's own after a reconnection (the login itself was the operator's): background.
  await channel.request('subscribe', { topics: TOPICS }, BACKGROUND);
  await loadAll();
  if (!resumed) route();
}

/**
 * Only what the header and the pairing list need at once: the pending requests (few: they expire), unknown serials and
 * the gate. Terminals are asked for page by page by the views; pairing history when an operator pages through it.
 */
async function loadAll() {
  const [pending, unknown, gate] = await Promise.all([
    pendingRequests(),
    channel.request('unknown.list', {}, BACKGROUND),
    channel.request('gate.status', {}, BACKGROUND),
  ]);
  // Pushes may have been missed while disconnected: nothing fetched before can be trusted.
  fetcher.clear();
  store.resetTerminals();
  store.setRequests(pending);
  store.setUnknown(unknown);
  store.setGate(gate);
  // The pairing list names their terminals, and their pending flags must follow the requests.
  fetcher.want(pending.map((r) => r.serial));
}

async function pendingRequests() {
  const all = [];
  let before = null;
  do {
    const page = await channel.request('pairing.list', { state: 'pending', limit: 1000, ...(before ? { before } : {}) }, BACKGROUND);
    all.push(...page.requests);
    before = page.next;
  } while (before);
  return all;
}

function endSession(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(idleTimer);
  const wasIn = store.session !== null;
  fetcher.clear();
  store.clear();
  if (wasIn || !main.querySelector('#login-form')) showLogin(message);
}

function showLogin(message) {
  disposeView?.();
  disposeView = null;
  shownView = null;
  document.title = 'Log in — Terminal pairing';
  fill(main, loginView(ctx, message).el);
  /** @type {HTMLInputElement | null} */ (main.querySelector('#login-user'))?.focus();
}

/** A new connection (first load, or after the server or network came back) re-attaches the session kept in this tab. */
channel.on('open', () => {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return;
  ui.connection(true);
  // Background: a reload or a reconnect re-attaches the session without counting as the operator's activity.
  channel.sendNow('resume', { token }, { background: true })
    .then((result) => startSession({ ...result, token }))
    .catch((error) => {
      if (error.code !== 'disconnected') endSession(errorText(error));
    });
});
channel.on('close', () => {
  if (store.session) ui.connection(false);
});

channel.on('pairing.requested', ({ request }) => {
  store.putRequest(request);
  fetcher.want([request.serial]);
  ui.toast(`New pairing request from terminal ${request.serial}`, 'warn');
});
channel.on('pairing.approved', ({ request }) => store.putRequest(request));
channel.on('pairing.rejected', ({ request }) => store.putRequest(request));
for (const event of ['terminal.created', 'terminal.paired', 'terminal.unpaired', 'terminal.updated']) {
  channel.on(event, ({ terminal }) => store.putTerminal(terminal, { created: event === 'terminal.created' }));
}
channel.on('terminal.deleted', ({ terminal }) => store.dropTerminal(terminal));
channel.on('terminal.unknown_serial', (data) => {
  // The push is the list's whole entry: asking for the list here would count as operator activity and keep an
  // unattended page logged in for as long as an unknown terminal retries.
  store.putUnknown(data);
  ui.toast(`Terminal ${data.serial} tried to pair but was never created`, 'warn');
});
// The server ended this tab's session (logged out elsewhere, idle too long, the account changed): show the login form, not a dead view.
channel.on('session.ended', () => {
  if (store.session) endSession(errorText({ code: 'session_expired' }));
});
channel.on('terminal.new_fingerprint', (data) => {
  ui.toast(data.pairedTfp
    ? `Terminal ${data.serial} asks to pair with a NEW fingerprint: check it before approving`
    : `Two keys ask to pair terminal ${data.serial}: only the code on its screen tells which is the terminal`, 'danger');
});
for (const event of ['gate.opened', 'gate.closed']) channel.on(event, (gate) => store.setGate(gate));
accountAlarms({ channel, store });

/** Pending requests turn into expired ones at their expiry time: re-render then, without asking the server. */
store.subscribe((topic) => {
  if (topic !== 'requests') return;
  clearTimeout(expiryTimer);
  const now = Date.now();
  const next = Math.min(...store.pendingRequests(now).map((r) => Date.parse(r.expiresAt)));
  if (!Number.isFinite(next)) return;
  expiryTimer = setTimeout(() => {
    store.refreshPendingFlags();
    store.changed('requests');
  }, Math.min(next - now + 50, 2 ** 31 - 1));
});
store.subscribe(() => renderHeader(ctx));

/** @type {[RegExp, (match: RegExpExecArray) => View][]} */
const ROUTES = [
  [/^#\/terminals\/new(?:\?serial=([^&]*))?$/, (m) => (ctx.mayChange() ? terminalCreateView(ctx, m[1] ? decodeURIComponent(m[1]) : '') : readOnlyView('New terminal'))],
  [/^#\/terminals\/([^/?]+)$/, (m) => terminalDetailView(ctx, decodeURIComponent(m[1] ?? ''))],
  [/^#\/terminals$/, () => terminalsView(ctx)],
  [/^#\/pairing\/([^/?]+)$/, (m) => pairingDetailView(ctx, decodeURIComponent(m[1] ?? ''))],
  [/^#\/pairing$/, () => pairingListView(ctx)],
  [/^#\/unknown$/, () => unknownView(ctx)],
  [/^#\/audit(?:\?(.*))?$/, (m) => auditView(ctx, new URLSearchParams(m[1] ?? ''))],
  [/^#\/gate$/, () => gateView(ctx)],
  [/^#\/server$/, () => serverView(ctx)],
  [/^#\/2fa$/, () => enrolView(ctx)],
];

/** Where a viewer lands on a form it may not use (an address typed or kept from an operator's session). */
function readOnlyView(title) {
  return {
    title,
    el: h('section', { class: 'view narrow' }, h('h1', { tabindex: '-1' }, title),
      h('p', { class: 'notice', id: 'read-only-notice' }, 'Your account is a viewer: you can look at the fleet, the pairing requests and the audit log, but not change anything. Ask an operator.'),
      h('p', {}, h('a', { href: '#/terminals' }, 'Go to terminals'))),
  };
}

function route() {
  if (!store.session) return;
  const hash = location.hash && location.hash !== '#' ? location.hash : '#/terminals';
  /** @type {View | null} */
  let view = null;
  for (const [pattern, make] of ROUTES) {
    const match = pattern.exec(hash);
    if (match) {
      view = make(match);
      break;
    }
  }
  view ??= { title: 'Not found', el: h('section', { class: 'view' }, h('h1', { tabindex: '-1' }, 'Page not found'), h('p', {}, h('a', { href: '#/terminals' }, 'Go to terminals'))) };
  disposeView?.();
  disposeView = view.dispose ?? null;
  shownView = view;
  fill(main, view.el);
  document.title = `${view.title} — Terminal pairing`;
  renderHeader(ctx);
  // Focus the heading so keyboard and screen-reader users start at the new content.
  main.querySelector('h1')?.focus({ preventScroll: true });
}

window.addEventListener('hashchange', route);

function boot() {
  renderHeader(ctx);
  if (sessionStorage.getItem(TOKEN_KEY)) {
    fill(main, h('p', { class: 'loading', role: 'status' }, 'Reconnecting to your session…'));
    channel.open().catch(() => ui.connection(false));
  } else {
    showLogin(null);
  }
}

boot();
