/**
 * @module The audit log: who did what, to what, when, from where, and whether it was allowed. Filtered by operator,
 * action, terminal or day (the browser's) on the server, newest first, older entries a page at a time. The filters are
 * in the address (`#/audit?serial=…`), so that a terminal's trail can be linked to and bookmarked.
 */
import { dataTable, field, fill, h } from '../dom.js';
import { errorText, formatTime, visible } from '../format.js';
/** @typedef {import('../../../protocol/types.js').AuditEntry} AuditEntry */

/** audit.list's filters, by the names the address and the op use. */
const FILTERS = [
  { key: 'user', label: 'Operator', attrs: { placeholder: 'alice, cli:root, ?bob' } },
  { key: 'action', label: 'Action', attrs: { list: 'audit-actions', placeholder: 'terminals.create' } },
  { key: 'serial', label: 'Terminal serial', attrs: { class: 'mono', spellcheck: 'false', autocapitalize: 'none' } },
  { key: 'day', label: 'Day', attrs: { type: 'date' } },
];

/**
 * The address's filters as audit.list's args. A day is the browser's, as the table's times are: from its midnight to
 * the next (23 or 25 hours apart on the days clocks change), sent as exact UTC times. A day that is not a real date
 * (an address typed or bookmarked by hand: the date field offers none) throws the message shown: new Date(2026, 1, 30)
 * would be March 2, and the server's answer to the text itself would speak of `since` and UTC, which this page has not.
 */
function opFilters(filters) {
  const { day, ...rest } = Object.fromEntries(Object.entries(filters).filter(([, value]) => value));
  if (day === undefined) return rest;
  const [y, m, d] = /^\d{4}-\d{2}-\d{2}$/.test(day) ? day.split('-').map(Number) : [];
  const since = d === undefined ? null : new Date(y, m - 1, d);
  if (since === null || since.getFullYear() !== y || since.getMonth() !== m - 1 || since.getDate() !== d) {
    throw new Error(`Day: "${day}" is not a date. Pick a day in the Day field, or clear it.`);
  }
  return { ...rest, since: since.toISOString(), until: new Date(y, m - 1, d + 1).toISOString() };
}
/**
 * The actions written to the log (docs/ADMIN-OPS.md), offered while typing; any other text is sent as typed. A unit
 * test (audit-actions-agreement) holds it to the server's audited ops and `users` commands.
 */
export const ACTIONS = ['login', 'logout', 'resume', 'totp.enroll', 'totp.confirm', 'terminals.create', 'terminals.update',
  'terminals.unpair', 'terminals.delete', 'pairing.approve', 'pairing.reject', 'gate.open', 'gate.close', 'deposit.set',
  'vpn.set', 'vpn.export', 'vpn.regenerate', 'cash.export', 'users.add', 'users.disable', 'users.enable', 'users.reset_2fa',
  'users.passwd', 'users.role', 'attempts.throttled', 'refusals.throttled', 'server.backup', 'server.restored',
  'server.identity_prepare', 'server.identity_promote'];
const PAGE_SIZES = [25, 100, 500];
/** Fields of an entry's detail that have a column of their own (a decision's serial is named with its target). */
const IN_COLUMNS = new Set(['result', 'remoteAddress', 'serial']);
/** The page size chosen, kept across visits in this tab; the filters live in the address. */
const kept = { limit: 100 };

/** The address of the audit view with these filters (empty ones left out). */
export function auditHash(filters) {
  const query = new URLSearchParams(Object.entries(filters).filter(([, value]) => value)).toString();
  return query ? `#/audit?${query}` : '#/audit';
}

/** `params`: the address's query (URLSearchParams). */
export function auditView(ctx, params) {
  const filters = Object.fromEntries(FILTERS.map(({ key }) => [key, (params.get(key) ?? '').trim()]));
  const filtered = Object.values(filters).some(Boolean);
  const inputs = Object.fromEntries(FILTERS.map(({ key, attrs }) => [key, h('input', { id: `audit-${key}`, name: key, value: filters[key], maxlength: '64', autocomplete: 'off', 'aria-describedby': 'audit-filters-hint', ...attrs })]));
  const limit = h('select', { id: 'audit-limit', onchange: () => { kept.limit = Number(limit.value); load(false); } },
    PAGE_SIZES.map((n) => h('option', { value: String(n), selected: n === kept.limit }, `${n} per page`)));
  const clearButton = filtered ? h('button', { type: 'button', class: 'secondary', id: 'audit-clear', onclick: () => ctx.navigate('#/audit') }, 'Clear filters') : null;
  const form = h('form', { class: 'toolbar', role: 'search', id: 'audit-filters', 'aria-label': 'Filter the audit log', novalidate: true, onsubmit: apply },
    FILTERS.map(({ key, label }) => field(label, inputs[key])),
    h('datalist', { id: 'audit-actions' }, ACTIONS.map((action) => h('option', { value: action }))),
    h('div', { class: 'field' }, h('label', { for: 'audit-limit' }, 'Show'), limit),
    h('div', { class: 'toolbar-buttons' }, h('button', { type: 'submit', class: 'primary', id: 'audit-apply' }, 'Apply'), clearButton));

  // Focusable: when the last older page is in, the button under the table goes and the focus comes here.
  const count = h('p', { class: 'muted', id: 'audit-count', 'aria-live': 'polite', tabindex: '-1' });
  const results = h('div', { id: 'audit-results' });
  const error = h('p', { class: 'form-error', id: 'audit-error', role: 'alert', hidden: true });
  // One element for good, never rebuilt: it keeps the keyboard focus from one page to the next.
  const olderButton = h('button', { type: 'button', class: 'secondary', id: 'audit-older', onclick: () => load(true) }, 'Show older entries');

  /** The entries loaded, newest first; `more`: the last page was full, so older ones may exist. */
  /** @type {{ entries: AuditEntry[], more: boolean, loading: boolean }} */
  const state = { entries: [], more: false, loading: false };
  /** Numbers the loads: only the answer to the last one may change the screen. */
  let seq = 0;
  let shown = true;

  async function load(older) {
    if (older && state.loading) return;
    const mine = ++seq;
    const before = older ? state.entries.at(-1)?.seq : undefined;
    if (!older) Object.assign(state, { entries: [], more: false });
    state.loading = true;
    error.hidden = true;
    render();
    try {
      const page = await ctx.call('audit.list', {
        limit: kept.limit,
        ...opFilters(filters), // MUST stay inside the try: it throws what is wrong with the day
        ...(before !== undefined ? { before } : {}),
      });
      if (mine !== seq || !shown) return;
      state.entries.push(...page);
      state.more = page.length === kept.limit;
    } catch (failure) {
      if (mine !== seq || !shown) return;
      error.textContent = errorText(failure);
      error.hidden = false;
    }
    state.loading = false;
    // MUST be read before render(): hiding the button takes the focus off it.
    const wasOnButton = document.activeElement === olderButton;
    render();
    if (wasOnButton && olderButton.hidden) count.focus();
  }

  /**
   * The filters typed become the address, and the view is built anew from it: a new history entry (Back returns to the
   * filters before), its heading and title say what is shown, and the focus goes to that heading as on every view.
   */
  function apply(event) {
    event.preventDefault();
    ctx.navigate(auditHash(Object.fromEntries(FILTERS.map(({ key }) => [key, inputs[key].value.trim()]))));
  }

  function render() {
    const { entries, more, loading } = state;
    olderButton.hidden = !more || entries.length === 0;
    olderButton.setAttribute('aria-disabled', String(loading));
    results.setAttribute('aria-busy', String(loading));
    if (loading && entries.length === 0) {
      count.textContent = 'Loading…';
      fill(results);
      return;
    }
    const n = entries.length;
    const matching = filtered ? 'matching ' : '';
    // "all" only once the oldest entry is in: until then older ones may exist.
    if (n === 0) count.textContent = '';
    else if (n === 1 && !more) count.textContent = `Showing the one ${matching}entry.`;
    else count.textContent = `Showing ${more ? '' : 'all '}${n.toLocaleString()} ${matching}entr${n === 1 ? 'y' : 'ies'}, newest first.`;
    fill(results, dataTable({
      id: 'audit-table',
      caption: 'Audit log',
      rowKey: (e) => String(e.seq),
      rows: entries,
      // After a refusal nothing was searched: "no entry matches" would say the log has none.
      empty: !error.hidden ? '' : filtered ? 'No entry matches these filters.' : 'The audit log is empty.',
      columns: [
        { label: 'When', cell: (e) => h('time', { datetime: e.at }, formatTime(e.at)) },
        // Shown with its invisible characters: a failed login's name is whatever was typed (`?alice\u200b`).
        { label: 'Who', cell: (e) => visible(e.user) },
        { label: 'Action', cell: (e) => h('span', { class: 'mono' }, e.action) },
        { label: 'Target', cell: targetCell },
        { label: 'Result', cell: (e) => resultCell(e.detail?.result) },
        { label: 'From', cell: (e) => (typeof e.detail?.remoteAddress === 'string' ? e.detail.remoteAddress : '—') },
        { label: 'Details', cell: detailCell },
      ],
    }));
  }

  /** A pairing decision targets its request; the terminal it was for is named beside it. */
  function targetCell(e) {
    if (!e.target) return '—';
    const serial = typeof e.detail?.serial === 'string' && e.detail.serial !== e.target ? e.detail.serial : null;
    return [h('span', { class: 'mono' }, visible(e.target)), serial ? h('span', { class: 'muted' }, ` (terminal ${visible(serial)})`) : null];
  }

  /**
   * The rest of the entry: what a deleted terminal was, an edit's values before and after, a deposit address and the
   * one it replaced. Invisible characters are shown: a failed login's name is whatever was typed.
   */
  function detailCell(e) {
    const detail = e.detail ?? {};
    // terminals.update: its `changes` say each field's value before and after, which `fields` only names.
    const rest = Object.entries(detail).filter(([key]) => !IN_COLUMNS.has(key) && !(key === 'fields' && detail.changes));
    if (rest.length === 0) return '—';
    return h('span', { class: 'audit-detail' }, rest.map(([key, value], i) => [i > 0 ? ' · ' : null,
      key === 'changes' && value && typeof value === 'object'
        ? Object.entries(value).map(([field, change], k) => [k > 0 ? ' · ' : null, h('span', { class: 'muted' }, `${field}: `),
          visible(`${JSON.stringify(change?.from ?? null)} → ${JSON.stringify(change?.to ?? null)}`)])
        : [h('span', { class: 'muted' }, `${key}: `), visible(typeof value === 'string' ? value : JSON.stringify(value))]]));
  }

  function resultCell(result) {
    if (result === undefined) return '—';
    return h('span', { class: `pill ${result === 'ok' ? 'pill-ok' : 'pill-danger'}` }, String(result));
  }

  load(false);
  const el = h('section', { class: 'view' },
    filters.serial ? h('p', { class: 'crumbs' }, h('a', { href: `#/terminals/${encodeURIComponent(filters.serial)}` }, `← Terminal ${filters.serial}`)) : null,
    h('div', { class: 'view-head' },
      h('h1', { tabindex: '-1' }, filters.serial ? `Audit trail of ${filters.serial}` : 'Audit log'),
      h('button', { type: 'button', class: 'secondary', id: 'audit-refresh', onclick: () => load(false) }, 'Refresh')),
    form,
    h('p', { class: 'hint', id: 'audit-filters-hint' }, 'Each filter matches exactly. Operator as recorded: a name, cli:USER for a command run on the server, ?NAME for a failed login. ' +
      'A serial finds what was done to that terminal and the decisions on its pairing requests. A day is midnight to midnight in this browser\'s time zone, as the times shown.'),
    count,
    error,
    results,
    h('div', { class: 'pager' }, olderButton));
  return { el, title: filters.serial ? `Audit trail of ${filters.serial}` : 'Audit log', dispose: () => { shown = false; } };
}
