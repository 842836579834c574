/**
 * @module One terminal: its fields (name, location and contact editable in place), full TFP, its pairing requests, a
 * link to its audit trail, and behind a confirmation unpairing (step "break trust") or, once unpaired, deleting it.
 */
import { dataTable, field, fill, fingerprintText, formError, h, pill } from '../dom.js';
import { errorText, formatTime } from '../format.js';
import { requestPages } from '../request-pages.js';
import { auditHash } from './audit.js';
import { cashEventsPanel } from './cash-events.js';
/** @typedef {import('../channel.js').Failure} Failure */

/** What an operator may correct after creating the terminal; the rest belongs to the pairing. */
const EDITABLE = [
  { key: 'name', fact: 'Name', label: 'Name', attrs: { maxlength: '128' } },
  { key: 'location', fact: 'Location', label: 'Location', attrs: { maxlength: '256' }, hint: 'Address or site name.' },
  { key: 'contact', fact: 'Contact', label: 'Contact phone', attrs: { type: 'tel', maxlength: '128' }, hint: 'The person at the location who reads you the pairing code.' },
];

export function terminalDetailView(ctx, serial) {
  const { store } = ctx;
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });

  // The facts and buttons are built once and updated in place: a push re-renders them, and an element taken out of
  // the page and put back loses the keyboard focus.
  const row = (label, id, props = {}) => ({ dt: h('dt', {}, label), dd: h('dd', { id, ...props }) });
  const rows = {
    state: row('State', 'terminal-state-value', { tabindex: '-1' }),
    ...Object.fromEntries(EDITABLE.map(({ key, fact }) => [key, row(fact, `terminal-${key}`)])),
    vpn: row('VPN'), tfp: row('TFP'), paired: row('Paired'), lastSeen: row('Last seen'), created: row('Created'),
  };
  const facts = h('dl', { class: 'facts card', id: 'terminal-facts' }, Object.values(rows).map(({ dt, dd }) => [dt, dd]));
  const editButton = h('button', { type: 'button', class: 'secondary', id: 'terminal-edit', onclick: openEditor }, 'Edit');
  const unpairButton = h('button', { type: 'button', class: 'danger', id: 'unpair', onclick: unpair }, 'Unpair…');
  const deleteButton = h('button', { type: 'button', class: 'danger', id: 'terminal-delete', onclick: remove }, 'Delete…');
  // Said where the button would be: the server refuses to delete a paired terminal, one step that breaks trust at a time.
  const cannotDelete = h('p', { class: 'hint', id: 'terminal-delete-paired' }, 'A paired terminal cannot be deleted: unpair it first, then delete it.');
  const auditLink = h('a', { href: auditHash({ serial }), id: 'terminal-audit' }, 'Audit trail');
  const editSlot = h('div');
  const requests = h('div');
  const missing = h('p', { class: 'empty', role: 'status' }, 'Loading…');
  const cash = cashEventsPanel(ctx, serial);
  const shown = h('div', {}, editSlot, facts,
    h('div', { class: 'actions' }, editButton, unpairButton, deleteButton), cannotDelete, error,
    h('p', {}, auditLink, ' — who created, changed, paired or unpaired it, and the decisions on its pairing requests.'),
    h('h2', {}, 'Pairing requests'), requests, cash.el);
  const body = h('div', { id: 'terminal-detail' }, missing, shown);

  /** While open: the form that stands in for the Name, Location and Contact rows. */
  let editor = null;
  /** Its requests, newest first, as the server pages them. */
  const history = requestPages(ctx, { pageSize: 20, filter: () => ({ serial }), render: renderRequests });

  function openEditor() {
    const t = store.terminals.get(serial);
    if (!t || editor) return;
    const inputs = Object.fromEntries(EDITABLE.map(({ key, attrs }) => [key, h('input', { id: `edit-${key}`, name: key, value: t[key], autocomplete: 'off', ...attrs })]));
    const editError = formError('edit-error');
    const save = h('button', { type: 'submit', class: 'primary', id: 'edit-save' }, 'Save');
    const form = h('form', { class: 'card', id: 'edit-form', 'aria-label': `Edit terminal ${serial}`, novalidate: true, onsubmit: saveEdit, onkeydown: escapeCancels },
      EDITABLE.map(({ key, label, hint }) => field(label, inputs[key], hint)),
      editError.el,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', id: 'edit-cancel', onclick: closeEditor }, 'Cancel'), save));
    // The values as they were when editing began: only the fields the operator changed are sent, so a correction
    // another operator made meanwhile to another field is not undone.
    editor = { inputs, error: editError, save, original: Object.fromEntries(EDITABLE.map(({ key }) => [key, t[key]])) };
    fill(editSlot, form);
    render();
    inputs.name.focus();
  }

  function closeEditor() {
    editor = null;
    fill(editSlot);
    render();
    editButton.focus();
  }

  function escapeCancels(event) {
    if (event.key !== 'Escape') return;
    event.preventDefault();
    closeEditor();
  }

  async function saveEdit(event) {
    event.preventDefault();
    const open = editor;
    const edit = {};
    for (const { key } of EDITABLE) {
      const value = open.inputs[key].value.trim();
      if (value !== open.original[key]) edit[key] = value;
    }
    if (Object.keys(edit).length === 0) {
      closeEditor();
      return;
    }
    open.error.show(null);
    open.save.disabled = true;
    try {
      // With the values this form started from: a field another operator changed meanwhile is refused, not overwritten.
      const seen = Object.fromEntries(Object.keys(edit).map((key) => [key, open.original[key]]));
      store.putTerminal(await ctx.call('terminals.update', { serial, ...edit, seen }));
      if (editor === open) closeEditor();
      ctx.toast(`Terminal ${serial} updated.`, 'ok');
    } catch (failure) {
      open.save.disabled = false;
      open.error.show(errorText(failure));
    }
  }

  async function unpair() {
    const yes = await ctx.confirm({
      title: `Unpair terminal ${serial}?`,
      text: 'The server forgets this terminal\'s fingerprint at once: its next call is refused, and it must pair again (with an operator\'s approval) to work.',
      confirmLabel: 'Unpair',
      danger: true,
    });
    if (!yes) return;
    try {
      store.putTerminal(await ctx.call('terminals.unpair', { serial }));
      ctx.toast(`Terminal ${serial} unpaired.`, 'ok');
      // The Unpair button is gone with the pairing: the focus goes to what changed instead of to the page's body.
      rows.state.dd.focus();
    } catch (failure) {
      error.textContent = errorText(failure);
      error.hidden = false;
    }
  }

  async function remove() {
    const waiting = store.requestsWhere({ state: 'pending', serial }).length;
    const yes = await ctx.confirm({
      title: `Delete terminal ${serial}?`,
      text: `The server forgets terminal ${serial}: its name, location and contact go, and the serial can be created again. ` +
        `Its pending pairing requests are rejected${waiting > 0 ? ` (${waiting} now)` : ''}, so none of their codes can be approved. ` +
        'Its pairing history and cash events stay, and the audit log keeps what the terminal was.',
      confirmLabel: `Delete ${serial}`,
      danger: true,
    });
    if (!yes) return;
    error.hidden = true;
    try {
      const was = await ctx.call('terminals.delete', { serial });
      // The terminal.deleted push usually came first and dropped it already: dropping it twice would count it twice.
      if (store.terminals.has(serial)) store.dropTerminal(was);
      ctx.toast(`Terminal ${serial} deleted.`, 'ok');
      ctx.navigate('#/terminals');
    } catch (caught) {
      const failure = /** @type {Failure} */ (caught);
      // Paired by someone meanwhile: say what to do rather than that something changed.
      error.textContent = failure.code === 'invalid_state' ? `Terminal ${serial} is paired now: unpair it first, then delete it.` : errorText(failure);
      error.hidden = false;
    }
  }

  function render() {
    const t = store.terminals.get(serial);
    missing.hidden = Boolean(t);
    shown.hidden = !t;
    if (!t) return;
    renderRequests();
    fill(rows.state.dd, pill(t.state));
    for (const { key } of EDITABLE) {
      fill(rows[key].dd, t[key] || '—');
      // While the form is open it holds these three.
      rows[key].dt.hidden = editor !== null;
      rows[key].dd.hidden = editor !== null;
    }
    fill(rows.vpn.dd, t.vpn ? 'yes' : 'no');
    fill(rows.tfp.dd, t.tfp ? fingerprintText(t.tfp, 'terminal-tfp') : h('span', { id: 'terminal-tfp' }, 'not paired'));
    fill(rows.paired.dd, formatTime(t.pairedAt));
    fill(rows.lastSeen.dd, t.lastSeenAt ? formatTime(t.lastSeenAt) : 'never');
    fill(rows.created.dd, formatTime(t.createdAt));
    // A viewer is offered none of them: the server would refuse each (forbidden).
    const mayChange = ctx.mayChange();
    editButton.hidden = !mayChange || editor !== null;
    unpairButton.hidden = !mayChange || t.state !== 'paired';
    deleteButton.hidden = !mayChange || t.state === 'paired';
    cannotDelete.hidden = !mayChange || t.state !== 'paired';
  }

  function renderRequests() {
    const list = history.rows();
    fill(requests, list.length === 0 && history.state.loading ? null : dataTable({
      id: 'terminal-requests',
      caption: `Pairing requests of ${serial}`,
      rows: list,
      empty: 'None yet.',
      columns: [
        { label: 'Requested', cell: (r) => h('a', { href: `#/pairing/${encodeURIComponent(r.requestId)}` }, formatTime(r.requestedAt)) },
        { label: 'State', cell: (r) => pill(r.state) },
        { label: 'From', cell: (r) => r.remoteAddress },
        { label: 'Decided by', cell: (r) => r.decidedBy ?? '—' },
      ],
    }), history.footer('terminal-requests-more'));
  }

  /** The page's copy may be older than this terminal's last contact, or missing (opened by its address): ask once. */
  function fetch() {
    ctx.call('terminals.get', { serial }).then((t) => store.putTerminal(t), (failure) => {
      if (store.terminals.has(serial)) return;
      missing.textContent = failure.code === 'not_found' ? `No terminal with serial ${serial}.` : errorText(failure);
    });
  }

  const unsubscribe = store.subscribe((topic, detail) => {
    if (topic === 'requests') renderRequests();
    if (topic !== 'terminals') return;
    if (detail?.reset) {
      // A reconnection: the page's copy and its requests may have missed pushes meanwhile.
      fetch();
      history.load(false);
      void cash.load({ background: true });
    } else if (detail?.deleted?.serial === serial) {
      missing.textContent = `Terminal ${serial} was deleted.`;
      render();
    } else if (detail?.terminal?.serial === serial || detail?.filled?.some((t) => t.serial === serial)) {
      render();
    }
  });
  render();
  fetch();
  history.load(false);
  void cash.load();

  const el = h('section', { class: 'view' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/terminals' }, '← Terminals')),
    h('h1', { tabindex: '-1', class: 'mono-title' }, `Terminal ${serial}`),
    body);
  const dispose = () => {
    unsubscribe();
    cash.dispose();
  };
  return { el, title: `Terminal ${serial}`, dispose };
}
