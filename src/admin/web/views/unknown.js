/** @module Serials that tried to pair without having been created: the operator creates the ones that are theirs (form prefilled). */
import { dataTable, fill, h } from '../dom.js';
import { formatTime, shortFingerprint } from '../format.js';

export function unknownView(ctx) {
  const { store } = ctx;
  const results = h('div', { id: 'unknown-results' });

  function render() {
    const rows = [...store.unknown.values()].sort((a, b) => b.lastAttemptAt.localeCompare(a.lastAttemptAt));
    fill(results, dataTable({
      id: 'unknown-table',
      caption: 'Unknown serials',
      rowKey: (u) => u.serial,
      rows,
      empty: 'No unknown terminal has tried to pair.',
      columns: [
        { label: 'Serial', cell: (u) => h('span', { class: 'mono' }, u.serial) },
        { label: 'TFP', cell: (u) => h('span', { class: 'mono', title: u.tfp }, shortFingerprint(u.tfp)) },
        { label: 'From', cell: (u) => u.remoteAddress },
        { label: 'Last attempt', cell: (u) => formatTime(u.lastAttemptAt) },
        { label: 'Attempts', cell: (u) => String(u.attempts ?? 1) },
        ...(ctx.mayChange() ? [{ label: 'Action', cell: (u) => h('a', { class: 'button small', href: `#/terminals/new?serial=${encodeURIComponent(u.serial)}`, 'aria-label': `Create terminal ${u.serial}` }, 'Create terminal') }] : []),
      ],
    }));
  }

  const unsubscribe = store.subscribe((topic) => {
    if (topic === 'unknown') render();
  });
  render();
  // The server drops a serial from the list when it is created, in the same write: its list needs no checking here.
  ctx.call('unknown.list').then((list) => store.setUnknown(list), () => {});

  const el = h('section', { class: 'view' },
    h('h1', { tabindex: '-1' }, 'Unknown serials'),
    h('p', { class: 'muted' }, 'These terminals tried to pair, but nobody created their serial. Create a terminal only if it is yours and you expect it; otherwise ignore it, or block its address.'),
    results);
  return { el, title: 'Unknown serials', dispose: unsubscribe };
}
