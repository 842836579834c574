/** @module The terminals list: search, state filter, and each terminal's serial, name, location, contact, state, TFP and last contact. */
import { dataTable, fill, h, pill } from '../dom.js';
import { formatTime, relative, shortFingerprint } from '../format.js';

/** Kept across visits in this tab, so coming back from a detail keeps the operator's filter. */
const filters = { text: '', state: 'all' };

/** Without separators, so that "AE:BC:4D" finds a TFP as the page shows it and "+15551150" a number typed with spaces. */
const compact = (text) => text.replace(/[\s:.()\-]/g, '');
/** Lower case without accents: "zurich" finds "Zürich". */
const folded = (text) => String(text).normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();

function matches(terminal) {
  if (filters.state !== 'all' && terminal.state !== filters.state) return false;
  const needle = folded(filters.text.trim());
  if (!needle) return true;
  const bare = compact(needle);
  return [terminal.serial, terminal.name, terminal.location, terminal.contact, terminal.tfp ?? '']
    .some((value) => {
      const text = folded(value);
      return text.includes(needle) || (bare !== '' && compact(text).includes(bare));
    });
}

export function terminalsView(ctx) {
  const { store } = ctx;
  const results = h('div', { id: 'terminals-results' });
  const count = h('p', { class: 'muted', id: 'terminals-count', 'aria-live': 'polite' });

  const search = h('input', { id: 'terminal-search', type: 'search', value: filters.text, placeholder: 'serial, name, location, contact, TFP', autocomplete: 'off',
    oninput: () => { filters.text = search.value; render(); } });
  const state = h('select', { id: 'terminal-state', onchange: () => { filters.state = state.value; render(); } },
    [['all', 'All states'], ['expected', 'Expected'], ['pending', 'Pending'], ['paired', 'Paired']]
      .map(([value, label]) => h('option', { value, selected: filters.state === value }, label)));

  function render() {
    const all = [...store.terminals.values()].sort((a, b) => a.serial.localeCompare(b.serial));
    const rows = all.filter(matches);
    count.textContent = `${rows.length} of ${all.length} terminal${all.length === 1 ? '' : 's'}`;
    fill(results, dataTable({
      id: 'terminals-table',
      caption: 'Terminals',
      rowKey: (t) => t.serial,
      rows,
      empty: all.length === 0 ? 'No terminals yet. Create one before it pairs.' : 'No terminal matches the search.',
      columns: [
        { label: 'Serial', cell: (t) => h('a', { href: `#/terminals/${encodeURIComponent(t.serial)}`, class: 'mono' }, t.serial) },
        { label: 'Name', cell: (t) => t.name || '—' },
        { label: 'Location', cell: (t) => t.location || '—' },
        { label: 'Contact', cell: (t) => t.contact || '—' },
        { label: 'State', cell: (t) => pill(t.state) },
        { label: 'TFP', cell: (t) => h('span', { class: 'mono', title: t.tfp ?? '' }, shortFingerprint(t.tfp)) },
        { label: 'Last seen', cell: (t) => (t.lastSeenAt ? h('time', { datetime: t.lastSeenAt, title: formatTime(t.lastSeenAt) }, relative(t.lastSeenAt)) : 'never') },
      ],
    }));
  }

  const unsubscribe = store.subscribe((topic) => {
    if (topic === 'terminals') render();
  });
  render();

  const el = h('section', { class: 'view' },
    h('div', { class: 'view-head' },
      h('h1', { tabindex: '-1' }, 'Terminals'),
      h('a', { class: 'button primary', href: '#/terminals/new', id: 'new-terminal' }, 'New terminal')),
    h('div', { class: 'toolbar', role: 'search' },
      h('div', { class: 'field grow' }, h('label', { for: 'terminal-search' }, 'Search'), search),
      h('div', { class: 'field' }, h('label', { for: 'terminal-state' }, 'State'), state)),
    count,
    results);
  return { el, title: 'Terminals', dispose: unsubscribe };
}
