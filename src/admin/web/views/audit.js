/** @module The audit log: who did what, to what, when, from where, and whether it was allowed. */
import { dataTable, fill, h } from '../dom.js';
import { errorText, formatTime } from '../format.js';

export function auditView(ctx) {
  const results = h('div', { id: 'audit-results' }, h('p', { class: 'loading' }, 'Loading…'));
  const limit = h('select', { id: 'audit-limit', onchange: load },
    ['100', '500', '1000'].map((n) => h('option', { value: n }, `last ${n}`)));

  async function load() {
    try {
      const entries = await ctx.call('audit.list', { limit: Number(limit.value) });
      fill(results, dataTable({
        id: 'audit-table',
        caption: 'Audit log',
        rows: entries,
        empty: 'The audit log is empty.',
        columns: [
          { label: 'When', cell: (e) => h('time', { datetime: e.at }, formatTime(e.at)) },
          { label: 'Who', cell: (e) => e.user },
          { label: 'Action', cell: (e) => h('span', { class: 'mono' }, e.action) },
          { label: 'Target', cell: (e) => (e.target ? h('span', { class: 'mono' }, e.target) : '—') },
          { label: 'Result', cell: (e) => resultCell(e.detail?.result) },
          { label: 'From', cell: (e) => (typeof e.detail?.remoteAddress === 'string' ? e.detail.remoteAddress : '—') },
        ],
      }));
    } catch (failure) {
      fill(results, h('p', { class: 'form-error', role: 'alert' }, errorText(failure)));
    }
  }

  function resultCell(result) {
    if (result === undefined) return '—';
    return h('span', { class: `pill ${result === 'ok' ? 'pill-ok' : 'pill-danger'}` }, String(result));
  }

  load();
  const el = h('section', { class: 'view' },
    h('div', { class: 'view-head' },
      h('h1', { tabindex: '-1' }, 'Audit log'),
      h('button', { type: 'button', class: 'secondary', id: 'audit-refresh', onclick: load }, 'Refresh')),
    h('div', { class: 'toolbar' }, h('div', { class: 'field' }, h('label', { for: 'audit-limit' }, 'Show'), limit)),
    results);
  return { el, title: 'Audit log' };
}
