/**
 * @module A terminal's latest cash events (cash.list, newest first) for its detail view: a page, then "Show older
 * events". The view subscribes to this terminal's `cash` pushes (at most one a second, `cash.recorded`) and, told of new
 * events, asks for the newest page and puts the events it has not shown on top; a reconnection subscribes and reloads.
 * Closed, it unsubscribes, unless the view that replaced it has subscribed for its own terminal meanwhile.
 */
import { dataTable, fill, h } from '../dom.js';
import { errorText, formatTime } from '../format.js';

/**
 * @typedef {{ serial: string, eventId: string, currency: string, denomination: number, count: number, at: string, receivedAt: string }} CashEvent
 * The view cash.list answers with (protocol/types.ts, CashEventView).
 */

const PAGE_SIZE = 20;
/**
 * A look for new events when no push came for this long. A push can be missed: a front thread that crashes loses the
 * count it had not yet handed on (up to 0.2 s of events), and a socket past its backpressure limit drops frames.
 */
const FALLBACK_MS = 60_000;

/**
 * The panel the connection's `cash` subscription was last asked for. The app makes the next view before it disposes of
 * the last, so a terminal's panel replacing another has already asked to subscribe for its own terminal when the old one
 * closes: that one MUST NOT unsubscribe then (the server ends a connection's one `cash` subscription whatever its
 * serial), whichever of the two frames would leave first.
 * @type {object | null}
 */
let holder = null;

export function cashEventsPanel(ctx, serial) {
  const list = h('div', { id: 'cash-events' });
  // Focusable: when the oldest page is in, Show older goes and the focus comes here rather than to the page's top.
  const count = h('p', { class: 'muted', id: 'cash-events-count', 'aria-live': 'polite', tabindex: '-1' });
  const error = h('p', { class: 'form-error', id: 'cash-events-error', role: 'alert', hidden: true });
  // The buttons are made once and only hidden: rebuilt at each load, the one a keyboard user pressed would take the
  // focus with it to the page's top.
  const moreButton = h('button', { type: 'button', class: 'secondary', id: 'cash-events-more', hidden: true, onclick: () => load({ more: true }) }, 'Show older events');
  const refreshButton = h('button', { type: 'button', class: 'secondary', id: 'cash-events-refresh', onclick: () => load() }, 'Refresh');
  /** @type {{ events: CashEvent[], next: string | null, loading: boolean }} */
  const state = { events: [], next: null, loading: false };
  let seq = 0;
  /**
   * Loads of the newest page (Refresh, a reconnection's): one since a look for new events began has the newer answer.
   * Not "Show older": the look's events still go on top of what it shows, else they waited for the next push.
   */
  let newestLoads = 0;

  let timer = null;
  let shown = true;
  const self = {};
  /** A push came while a page was being fetched: that answer may predate the events it announced. */
  let toldAgain = false;
  let fetching = false;
  const stopListening = ctx.channel.on('cash.recorded', (data) => {
    if (data.serial === serial) void newer();
  });

  /** `more`: the next older page; otherwise the newest again. `background`: the page asks by itself (a reconnection). */
  async function load({ more = false, background = false } = {}) {
    if (more && (state.loading || !state.next)) return;
    const mine = ++seq;
    if (!more) {
      newestLoads++;
      clearTimeout(timer);
    }
    state.loading = true;
    error.hidden = true;
    render();
    const args = { serial, limit: PAGE_SIZE, ...(more ? { before: state.next } : {}) };
    try {
      // MUST subscribe before the newest page is read: an event recorded in between is then announced. A new connection
      // (the reload after a reconnection) holds no subscription. The page's own request: it extends no session.
      if (!more) {
        holder = self;
        await ctx.read('subscribe', { topics: ['cash'], serial });
      }
      const page = background ? await ctx.read('cash.list', args) : await ctx.call('cash.list', args);
      if (mine !== seq) return;
      state.events = more ? [...state.events, ...page.events] : page.events;
      state.next = page.next;
    } catch (failure) {
      if (mine !== seq) return;
      error.textContent = errorText(failure);
      error.hidden = false;
    }
    state.loading = false;
    // MUST be read before render(): hiding the button takes the focus off it.
    const wasOnMore = document.activeElement === moreButton;
    render();
    if (wasOnMore && moreButton.hidden) count.focus();
    if (toldAgain) void newer();
    else if (!more) scheduleNewer();
  }

  /** The fallback look for new events, restarted by every look and ended with the view. */
  function scheduleNewer() {
    clearTimeout(timer);
    if (shown) timer = setTimeout(newer, FALLBACK_MS);
  }

  /**
   * The newest page, its events not shown yet put on top: the older pages the operator opened stay. When the whole page
   * is new, more may have come than a page holds: the view starts again from the newest page, as Refresh does. One
   * fetch at a time: a push during one fetches once more after it.
   */
  async function newer() {
    if (!shown) return;
    // A load under way (Refresh, Show older, a reconnection's) may have read before the push's events: it calls again.
    if (fetching || state.loading) {
      toldAgain = true;
      return;
    }
    fetching = true;
    clearTimeout(timer);
    do {
      toldAgain = false;
      const mine = newestLoads;
      try {
        const page = await ctx.read('cash.list', { serial, limit: PAGE_SIZE });
        // A load of the newest page since has the newer answer, or is under way.
        if (mine === newestLoads && shown) take(page);
      } catch {
        // A lost connection or an ended session: the page says so elsewhere, and a reconnection reloads this view.
        break;
      }
    } while (toldAgain && shown && !state.loading);
    fetching = false;
    scheduleNewer();
  }

  function take(page) {
    const known = new Set(state.events.map((e) => e.eventId));
    const fresh = page.events.filter((e) => !known.has(e.eventId));
    if (fresh.length === page.events.length) {
      if (fresh.length === 0 && state.events.length === 0) return;
      state.events = page.events;
      state.next = page.next;
    } else if (fresh.length > 0) {
      state.events = [...fresh, ...state.events];
    } else {
      return;
    }
    render();
  }

  /**
   * Ends the `cash` pushes (a frame a second at most, for nobody) unless another panel holds the subscription now. Only
   * on the connection open now: a closed one took its subscriptions with it, and this must not open one (nor end the
   * session on a `not_logged_in` answer: the page closes its views at a logout too).
   */
  function dispose() {
    shown = false;
    clearTimeout(timer);
    stopListening();
    if (holder !== self) return;
    holder = null;
    if (ctx.store.session) ctx.channel.sendNow('unsubscribe', { topics: ['cash'] }, { background: true }).catch(() => {});
  }

  function render() {
    const { events, next, loading } = state;
    moreButton.hidden = next === null || events.length === 0;
    moreButton.setAttribute('aria-disabled', String(loading));
    refreshButton.setAttribute('aria-disabled', String(loading));
    list.setAttribute('aria-busy', String(loading));
    const n = events.length;
    // "all" only once the oldest is in: until then older ones may exist.
    count.textContent = loading ? 'Loading…' : n === 0 ? '' : next ? `Showing the ${n.toLocaleString()} latest events.` : `Showing all ${n.toLocaleString()} event${n === 1 ? '' : 's'}.`;
    count.hidden = count.textContent === ''; // its margin would stand between the hint and "No cash events yet"
    if (loading && n > 0) return; // the rows shown stay while an older page comes
    fill(list, loading ? null : dataTable({
      id: 'cash-events-table',
      caption: `Cash events of ${serial}, newest first`,
      rows: events,
      empty: error.hidden ? 'No cash events yet.' : '',
      rowKey: (e) => e.eventId,
      columns: [
        // The terminal's own clock: the order is the server's (Received), as a terminal's clock may be off.
        { label: 'Time', cell: (e) => formatTime(e.at) },
        { label: 'Event ID', cell: (e) => h('span', { class: 'mono' }, e.eventId) },
        { label: 'Currency', cell: (e) => e.currency },
        { label: 'Denomination', cell: (e) => String(e.denomination) },
        { label: 'Count', cell: (e) => String(e.count) },
        { label: 'Received', cell: (e) => formatTime(e.receivedAt) },
      ],
    }));
  }

  const el = h('div', {},
    h('h2', {}, 'Cash events'),
    h('p', { class: 'hint' }, 'Banknotes the terminal reported, newest first. For every event of a period: cas cash-events export.'),
    count,
    error,
    list,
    h('div', { class: 'pager' }, moreButton, refreshButton));
  return { el, load, dispose };
}
