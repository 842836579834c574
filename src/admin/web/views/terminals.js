/**
 * @module The terminals list, one page at a time as the server searches and pages it (a fleet can hold hundreds of
 * thousands): search, state filter, Next / Previous, the count, and rows kept current by pushes.
 */
import { dataTable, fill, h, pill, refillRow } from '../dom.js';
import { errorText, formatTime, relative, shortFingerprint } from '../format.js';
import { matchesFilters, withinPage } from '../terminal-filter.js';
/** @typedef {import('../terminal-filter.js').TerminalPage} TerminalPage */
/** @typedef {import('../terminal-filter.js').TerminalFilters} TerminalFilters */

const PAGE_SIZE = 100;
/** Typing waits this long for the next key before it asks the server: one search per pause, not one per key. */
const SEARCH_DELAY_MS = 250;
/** Pushes about terminals not shown refresh the page at most this often: a pairing session can push hundreds a second. */
const REFRESH_MS = 1000;

/**
 * Kept across visits in this tab, so coming back from a detail finds the operator's filter, page and rows.
 * `after`: the cursor the page on screen started after (null: the first page); `previous`: the cursors of the pages
 * before it, for Previous; `page`: the server's answer `{ terminals, next, total }`.
 */
/** @type {TerminalFilters & { after: string | null, previous: (string | null)[], page: TerminalPage | null }} */
const kept = { text: '', state: 'all', after: null, previous: [], page: null };

const COLUMNS = [
  { label: 'Serial', fixed: true, cell: (t) => h('a', { href: `#/terminals/${encodeURIComponent(t.serial)}`, class: 'mono' }, t.serial) },
  { label: 'Name', cell: (t) => t.name || '—' },
  { label: 'Location', cell: (t) => t.location || '—' },
  { label: 'Contact', cell: (t) => t.contact || '—' },
  { label: 'State', cell: (t) => pill(t.state) },
  { label: 'TFP', cell: (t) => h('span', { class: 'mono', title: t.tfp ?? '' }, shortFingerprint(t.tfp)) },
  { label: 'Last seen', cell: (t) => (t.lastSeenAt ? h('time', { datetime: t.lastSeenAt, title: formatTime(t.lastSeenAt) }, relative(t.lastSeenAt)) : 'never') },
];

const filtered = () => kept.text.trim() !== '' || kept.state !== 'all';

export function terminalsView(ctx) {
  const { store } = ctx;
  const results = h('div', { id: 'terminals-results' });
  const count = h('p', { class: 'muted', id: 'terminals-count', 'aria-live': 'polite' });
  const error = h('p', { class: 'form-error', id: 'terminals-error', role: 'alert', hidden: true });
  const prevButton = h('button', { type: 'button', class: 'secondary', id: 'terminals-prev', onclick: previous }, '← Previous');
  const nextButton = h('button', { type: 'button', class: 'secondary', id: 'terminals-next', onclick: forward }, 'Next →');
  const pager = h('div', { class: 'pager', id: 'terminals-pager' }, prevButton, nextButton);

  const search = h('input', { id: 'terminal-search', type: 'search', value: kept.text, maxlength: '128', placeholder: 'serial, name, location, contact, TFP', autocomplete: 'off', oninput: typed });
  const state = h('select', { id: 'terminal-state', onchange: () => { kept.state = state.value; restart(); } },
    [['all', 'All states'], ['expected', 'Expected'], ['pending', 'Pending'], ['paired', 'Paired']]
      .map(([value, label]) => h('option', { value, selected: kept.state === value }, label)));

  /** Numbers the loads: only the answer to the last one sent may change the screen, whatever order answers come in. */
  let seq = 0;
  /** The position the last load asked for, shown once its answer is in. */
  let asked = { after: kept.after, previous: kept.previous };
  let searchTimer = null;
  let refreshTimer = null;
  /** performance.now() of the last load: monotonic, so a wall clock set back cannot hold refreshes off. */
  let lastLoadAt = 0;
  let shown = true;

  function typed() {
    kept.text = search.value;
    // An answer still on its way was asked with the old text: it must not land after the operator typed on.
    seq += 1;
    clearTimeout(searchTimer);
    searchTimer = setTimeout(restart, SEARCH_DELAY_MS);
  }

  function restart() {
    clearTimeout(searchTimer);
    searchTimer = null;
    load({ after: null, previous: [] }, ctx.call);
  }

  function forward() {
    if (kept.page?.next) load({ after: kept.page.next, previous: [...kept.previous, kept.after] }, ctx.call, true);
  }

  function previous() {
    if (kept.previous.length > 0) load({ after: kept.previous.at(-1), previous: kept.previous.slice(0, -1) }, ctx.call, true);
  }

  /**
   * `run`: ctx.call for what the operator did, ctx.read for refreshes the page does by itself (not activity).
   * `turned`: another page was asked for with the buttons under the table; its first rows are brought into view.
   */
  async function load(position, run, turned = false) {
    const mine = ++seq;
    asked = position;
    lastLoadAt = performance.now();
    results.setAttribute('aria-busy', 'true');
    const query = kept.text.trim();
    try {
      const page = await run('terminals.list', {
        limit: PAGE_SIZE,
        ...(query ? { query } : {}),
        ...(kept.state !== 'all' ? { state: kept.state } : {}),
        ...(position.after !== null ? { after: position.after } : {}),
      });
      if (mine !== seq || !shown) return;
      Object.assign(kept, position, { page });
      error.hidden = true;
      store.cacheTerminals(page.terminals);
      render();
      if (turned) count.scrollIntoView({ block: 'nearest' });
    } catch (failure) {
      if (mine !== seq || !shown) return;
      error.textContent = errorText(failure);
      error.hidden = false;
    } finally {
      if (mine === seq) results.removeAttribute('aria-busy');
    }
  }

  function scheduleRefresh() {
    if (refreshTimer !== null || !shown) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      if (shown) load(asked, ctx.read);
    }, Math.max(0, lastLoadAt + REFRESH_MS - performance.now()));
  }

  function render() {
    const page = kept.page;
    prevButton.disabled = kept.previous.length === 0;
    nextButton.disabled = !page?.next;
    pager.hidden = !page || (kept.previous.length === 0 && !page.next);
    // A button pressed on the first or last page turns disabled: the keyboard focus moves to the other one, not away.
    if (document.activeElement === nextButton && nextButton.disabled) prevButton.focus();
    if (document.activeElement === prevButton && prevButton.disabled) nextButton.focus();
    if (!page) {
      fill(results, h('p', { class: 'loading' }, 'Loading…'));
      count.textContent = '';
      return;
    }
    renderCount(page);
    fill(results, dataTable({
      id: 'terminals-table',
      caption: 'Terminals',
      rowKey: (t) => t.serial,
      rows: page.terminals,
      empty: page.total === 0 ? 'No terminals yet. Create one before it pairs.'
        : kept.previous.length > 0 ? 'No more terminals after the previous page.' : 'No terminal matches the search.',
      columns: COLUMNS,
    }));
  }

  /** @param {TerminalPage} page the page on screen, kept.page */
  function renderCount({ terminals, total }) {
    const all = `${total.toLocaleString()} terminal${total === 1 ? '' : 's'} in all`;
    const first = kept.previous.length * PAGE_SIZE + 1;
    if (total === 0) count.textContent = 'No terminals yet.';
    else if (terminals.length === 0) count.textContent = `${kept.previous.length > 0 ? 'No more terminals' : 'No terminal matches'} · ${all}`;
    else count.textContent = `Showing ${filtered() ? 'matches ' : ''}${first.toLocaleString()}–${(first + terminals.length - 1).toLocaleString()} · ${all}`;
  }

  /** A terminal changed (a push, or an answer to an op): update its row in place, or refresh if the page may change. */
  function changed(terminal, created) {
    const page = kept.page;
    if (!page) return;
    if (created) {
      page.total += 1;
      renderCount(page);
    }
    const fits = matchesFilters(terminal, kept);
    const index = page.terminals.findIndex((t) => t.serial === terminal.serial);
    if (index < 0) {
      if (fits && withinPage(terminal.serial, kept.after, page)) scheduleRefresh();
      return;
    }
    page.terminals[index] = terminal;
    const row = [...results.querySelectorAll('#terminals-table tbody tr')].find((tr) => tr.dataset.key === terminal.serial);
    if (fits && row) refillRow(row, COLUMNS, terminal);
    else scheduleRefresh();
  }

  function deleted(terminal) {
    const page = kept.page;
    if (!page) return;
    page.total -= 1;
    renderCount(page);
    if (page.terminals.some((t) => t.serial === terminal.serial)) scheduleRefresh();
  }

  const unsubscribe = store.subscribe((topic, detail) => {
    if (topic !== 'terminals' || !detail) return;
    if (detail.reset) load(asked, ctx.read);
    else if (detail.terminal) changed(detail.terminal, detail.created);
    else if (detail.deleted) deleted(detail.deleted);
  });

  // Back from a detail: the rows kept show at once, as the cache now knows them, and the same page is asked again.
  if (kept.page) kept.page = { ...kept.page, terminals: kept.page.terminals.map((t) => store.terminals.get(t.serial) ?? t) };
  render();
  load(asked, ctx.call);

  const el = h('section', { class: 'view' },
    h('div', { class: 'view-head' },
      h('h1', { tabindex: '-1' }, 'Terminals'),
      ctx.mayChange() ? h('a', { class: 'button primary', href: '#/terminals/new', id: 'new-terminal' }, 'New terminal') : null),
    h('div', { class: 'toolbar', role: 'search' },
      h('div', { class: 'field grow' }, h('label', { for: 'terminal-search' }, 'Search'), search),
      h('div', { class: 'field' }, h('label', { for: 'terminal-state' }, 'State'), state)),
    count,
    error,
    results,
    pager);
  const dispose = () => {
    shown = false;
    // Left before the search went out: the text is kept, and coming back asks for its first page.
    if (searchTimer !== null) Object.assign(kept, { after: null, previous: [], page: null });
    clearTimeout(searchTimer);
    clearTimeout(refreshTimer);
    unsubscribe();
  };
  return { el, title: 'Terminals', dispose };
}
