/** @module Builds DOM from data without ever parsing HTML: server data (serials, names, terminal info) only ever becomes text nodes. */

/**
 * `h('button', { class: 'primary', onclick: fn }, 'Approve')`. Props starting with `on` are listeners,
 * `true` makes an empty attribute, null/false/undefined are skipped; children are nodes or text.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value') el.value = String(value);
    else if (key === 'checked') el.checked = Boolean(value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces all children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled form field; `input` is the control, its id ties the label to it. */
export function field(label, input, hint) {
  const hintId = hint ? `${input.id}-hint` : null;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' },
    h('label', { for: input.id }, label),
    input,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
}

/** An inline error message region for a form; `show(text)` / `show(null)`. */
export function formError(id) {
  const el = h('p', { class: 'form-error', id, role: 'alert', hidden: true });
  return {
    el,
    show(text) {
      el.textContent = text ?? '';
      el.hidden = !text;
    },
  };
}

/** An element index.html holds for good (the page's fixed regions). */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el;
}

/**
 * @template Row
 * @typedef {object} Column
 * @property {string} label
 * @property {(row: Row) => Node | string | null} cell
 * @property {string} [class]
 * @property {boolean} [fixed] left as it is by `refillRow`
 */

/**
 * A data table that turns into labelled cards on narrow screens (each cell carries its column's label).
 * `rowKey`: the row's `data-key`, for `refillRow`.
 * @template Row
 * @param {{ id?: string, caption?: string, columns: Column<Row>[], rows: Row[], empty: string, rowKey?: (row: Row) => string }} table
 */
export function dataTable({ id, caption, columns, rows, empty, rowKey }) {
  if (rows.length === 0) return h('p', { class: 'empty', id: id ? `${id}-empty` : null }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'data', id },
      caption ? h('caption', { class: 'sr-only' }, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
      h('tbody', {}, rows.map((row) => h('tr', { 'data-key': rowKey ? rowKey(row) : null },
        columns.map((c) => h('td', { 'data-label': c.label, class: c.class }, c.cell(row))))))));
}

/**
 * Refills the cells of one row of a `dataTable` from a newer `row`, in place: a push changes one terminal without
 * rebuilding the table. Columns marked `fixed` (the row's key, a link that may hold the focus) are left as they are.
 */
/**
 * @template Row
 * @param {HTMLTableRowElement} tr
 * @param {Column<Row>[]} columns
 * @param {Row} row
 */
export function refillRow(tr, columns, row) {
  columns.forEach((c, i) => {
    if (!c.fixed && tr.cells[i]) fill(tr.cells[i], c.cell(row));
  });
}

/** A small coloured state label. */
export function pill(state) {
  return h('span', { class: `pill pill-${state}` }, state);
}

/** A full fingerprint in AB:CD:… form that wraps only after a colon, never inside a byte. */
export function fingerprintText(hex, id) {
  const pairs = (hex ?? '').toUpperCase().match(/../g) ?? [];
  return h('span', { class: 'mono fingerprint', id }, pairs.flatMap((pair, i) => (i < pairs.length - 1 ? [`${pair}:`, h('wbr')] : [pair])));
}
