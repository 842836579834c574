/** @module Pairing requests as they arrive (pushed, never polled), filtered by state; each row opens the request to compare its code. */
import { dataTable, fill, h, pill } from '../dom.js';
import { effectiveState, formatTime, shortFingerprint } from '../format.js';

const filters = { state: 'pending' };

export function pairingListView(ctx) {
  const { store } = ctx;
  const results = h('div', { id: 'pairing-results' });
  const state = h('select', { id: 'pairing-state', onchange: () => { filters.state = state.value; render(); } },
    [['pending', 'Waiting for approval'], ['all', 'All'], ['approved', 'Approved'], ['rejected', 'Rejected'], ['expired', 'Expired']]
      .map(([value, label]) => h('option', { value, selected: filters.state === value }, label)));

  function render() {
    const now = Date.now();
    const rows = [...store.requests.values()]
      .map((r) => ({ ...r, state: effectiveState(r, now) }))
      .filter((r) => filters.state === 'all' || r.state === filters.state)
      .sort((a, b) => b.requestedAt.localeCompare(a.requestedAt));
    fill(results, dataTable({
      id: 'pairing-table',
      caption: 'Pairing requests',
      rowKey: (r) => r.requestId,
      rows,
      empty: filters.state === 'pending' ? 'No pairing request is waiting. New ones appear here as terminals ask.' : 'No pairing requests in this state.',
      columns: [
        { label: 'Serial', cell: (r) => h('a', { href: `#/pairing/${encodeURIComponent(r.requestId)}`, class: 'mono' }, r.serial) },
        { label: 'Terminal', cell: (r) => store.terminals.get(r.serial)?.name || '—' },
        { label: 'Requested', cell: (r) => formatTime(r.requestedAt) },
        { label: 'From', cell: (r) => r.remoteAddress },
        { label: 'TFP', cell: (r) => h('span', { class: 'mono' }, shortFingerprint(r.tfp)) },
        { label: 'State', cell: (r) => [pill(r.state), r.conflictsWithPaired ? h('span', { class: 'pill pill-danger' }, 'new fingerprint') : null] },
        { label: 'Expires', cell: (r) => (r.state === 'pending' ? formatTime(r.expiresAt) : '—') },
      ],
    }));
  }

  const unsubscribe = store.subscribe((topic) => {
    if (topic === 'requests' || topic === 'terminals') render();
  });
  render();

  const el = h('section', { class: 'view' },
    h('div', { class: 'view-head' }, h('h1', { tabindex: '-1' }, 'Pairing requests')),
    h('p', { class: 'muted' }, 'Open a request, call the location contact yourself, and approve only when the code they read from the terminal screen matches.'),
    h('div', { class: 'toolbar' }, h('div', { class: 'field' }, h('label', { for: 'pairing-state' }, 'Show'), state)),
    results);
  return { el, title: 'Pairing requests', dispose: unsubscribe };
}
