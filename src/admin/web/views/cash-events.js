/**
 * @module A terminal's latest cash events (cash.list, newest first) for its detail view: a page, then "Show older
 * events". No push announces a new event, so the operator refreshes it; a reconnection reloads it.
 */
import { dataTable, fill, h } from '../dom.js';
import { errorText, formatTime } from '../format.js';

/**
 * @typedef {{ serial: string, eventId: string, currency: string, denomination: number, count: number, at: string, receivedAt: string }} CashEvent
 * The view cash.list answers with (protocol/types.ts, CashEventView).
 */

const PAGE_SIZE = 20;

export function cashEventsPanel(ctx, serial) {
  const list = h('div', { id: 'cash-events' });
  /** @type {{ events: CashEvent[], next: string | null, loading: boolean, error: string | null }} */
  const state = { events: [], next: null, loading: false, error: null };
  let seq = 0;

  /** `more`: the next older page; otherwise the newest again. `background`: the page asks by itself (a reconnection). */
  async function load({ more = false, background = false } = {}) {
    const mine = ++seq;
    Object.assign(state, { loading: true, error: null });
    render();
    const args = { serial, limit: PAGE_SIZE, ...(more && state.next ? { before: state.next } : {}) };
    try {
      const page = background ? await ctx.read('cash.list', args) : await ctx.call('cash.list', args);
      if (mine !== seq) return;
      state.events = more ? [...state.events, ...page.events] : page.events;
      state.next = page.next;
    } catch (failure) {
      if (mine !== seq) return;
      state.error = errorText(failure);
    }
    state.loading = false;
    render();
  }

  function render() {
    fill(list, state.events.length === 0 && state.loading ? h('p', { class: 'loading', role: 'status' }, 'Loading…') : dataTable({
      id: 'cash-events-table',
      caption: `Cash events of ${serial}, newest first`,
      rows: state.events,
      empty: state.error ? '' : 'No cash events yet.',
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
    }), footer());
  }

  function footer() {
    if (state.loading) return state.events.length > 0 ? h('p', { class: 'loading', role: 'status' }, 'Loading…') : null;
    return [
      state.error ? h('p', { class: 'form-error', role: 'alert' }, state.error) : null,
      h('div', { class: 'pager' },
        state.next ? h('button', { type: 'button', class: 'secondary', id: 'cash-events-more', onclick: () => load({ more: true }) }, 'Show older events') : null,
        h('button', { type: 'button', class: 'secondary', id: 'cash-events-refresh', onclick: () => load() }, 'Refresh')),
    ];
  }

  const el = h('div', {},
    h('h2', {}, 'Cash events'),
    h('p', { class: 'hint' }, 'Banknotes the terminal reported, newest first. For every event of a period: cas cash-events export.'),
    list);
  return { el, load };
}
