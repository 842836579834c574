/**
 * @module Pairing requests: those waiting for an operator as they arrive (pushed, never polled), or the history of one
 * state paged from the server; each row opens the request to compare its code.
 */
import { dataTable, fill, h, pill } from '../dom.js';
import { formatTime, shortFingerprint } from '../format.js';
import { requestPages } from '../request-pages.js';

const PAGE_SIZE = 100;
/** The terminals a store change to 'terminals' is about. */
const terminalsIn = (detail) => (detail?.terminal ?? detail?.deleted ? [detail.terminal ?? detail.deleted] : detail?.filled ?? []);
/** Kept across visits in this tab. */
const filters = { state: 'pending' };

export function pairingListView(ctx) {
  const { store } = ctx;
  const results = h('div', { id: 'pairing-results' });
  const state = h('select', { id: 'pairing-state', onchange: () => { filters.state = state.value; start(); } },
    [['pending', 'Waiting for approval'], ['all', 'All'], ['approved', 'Approved'], ['rejected', 'Rejected'], ['expired', 'Expired']]
      .map(([value, label]) => h('option', { value, selected: filters.state === value }, label)));

  // The page holds every pending request (loaded at login, kept by pushes); history is asked for a page at a time.
  const waiting = () => filters.state === 'pending';
  const pages = requestPages(ctx, {
    pageSize: PAGE_SIZE,
    filter: () => (filters.state === 'all' ? {} : { state: filters.state }),
    render,
  });

  function start() {
    if (waiting()) render();
    else pages.load(false);
  }

  /** The serials of the rows on screen: a change to another terminal leaves the table as it is. */
  let named = new Set();

  function render() {
    const rows = waiting() ? store.requestsWhere({ state: 'pending' }) : pages.rows();
    named = new Set(rows.map((r) => r.serial));
    ctx.needTerminals(named);
    if (rows.length === 0 && pages.state.loading && !waiting()) {
      fill(results, h('p', { class: 'loading', role: 'status' }, 'Loading…'));
      return;
    }
    fill(results, dataTable({
      id: 'pairing-table',
      caption: 'Pairing requests',
      rowKey: (r) => r.requestId,
      rows,
      empty: waiting() ? 'No pairing request is waiting. New ones appear here as terminals ask.' : 'No pairing requests in this state.',
      columns: [
        { label: 'Serial', cell: (r) => h('a', { href: `#/pairing/${encodeURIComponent(r.requestId)}`, class: 'mono' }, r.serial) },
        { label: 'Terminal', cell: (r) => store.terminals.get(r.serial)?.name || '—' },
        { label: 'Requested', cell: (r) => formatTime(r.requestedAt) },
        { label: 'From', cell: (r) => r.remoteAddress },
        { label: 'TFP', cell: (r) => h('span', { class: 'mono' }, shortFingerprint(r.tfp)) },
        {
          label: 'State',
          cell: (r) => [
            pill(r.state),
            r.conflictsWithPaired ? h('span', { class: 'pill pill-danger' }, 'new fingerprint') : null,
            r.state === 'pending' && r.otherKeysWaiting > 0 ? h('span', { class: 'pill pill-danger', title: 'Another key asks to pair this serial too: only the code on the terminal screen tells which request is the terminal\'s' }, 'another key asks too') : null,
          ],
        },
        { label: 'Expires', cell: (r) => (r.state === 'pending' ? formatTime(r.expiresAt) : '—') },
      ],
    }), waiting() ? null : pages.footer('pairing-more'));
  }

  const unsubscribe = store.subscribe((topic, detail) => {
    if (topic === 'requests') render();
    // A reconnection: the history shown may have missed pushes meanwhile.
    else if (topic === 'terminals' && detail?.reset) start();
    else if (topic === 'terminals' && terminalsIn(detail).some((t) => named.has(t.serial))) render();
  });
  start();

  const el = h('section', { class: 'view' },
    h('div', { class: 'view-head' }, h('h1', { tabindex: '-1' }, 'Pairing requests')),
    h('p', { class: 'muted' }, 'Open a request, call the location contact yourself, and approve only when the code they read from the terminal screen matches.'),
    h('div', { class: 'toolbar' }, h('div', { class: 'field' }, h('label', { for: 'pairing-state' }, 'Show'), state)),
    results);
  return { el, title: 'Pairing requests', dispose: unsubscribe };
}
