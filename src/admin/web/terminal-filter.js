/**
 * @module Whether a terminal a push told about belongs on the page of the list on screen. The server searches and
 * pages; the page only decides whether a push can change what it shows, so that a burst of pushes about other
 * terminals costs no request. The matching MUST stay that of terminals.list's `query` (docs/ADMIN-OPS.md).
 */
/** @typedef {import('../../protocol/types.js').TerminalView} TerminalView */
/**
 * terminals.list's answer: TerminalPage of src/admin/listings.ts (a server module the page's check cannot load).
 * @typedef {{ terminals: TerminalView[], next: string | null, total: number }} TerminalPage
 */
/** @typedef {{ text: string, state: 'all' | TerminalView['state'] }} TerminalFilters */

/** Without separators, so that "AE:BC:4D" finds a TFP as the page shows it and "+15551150" a number typed with spaces. */
const compact = (text) => text.replace(/[\s:.()-]/g, '');
/** Lower case without accents: "zurich" finds "Zürich". */
const folded = (text) => String(text).normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();

/**
 * `filters`: { text, state } as the list sends them ('all': any state).
 * @param {TerminalView} terminal
 * @param {TerminalFilters} filters
 */
export function matchesFilters(terminal, filters) {
  if (filters.state !== 'all' && terminal.state !== filters.state) return false;
  const needle = folded(filters.text.trim());
  if (!needle) return true;
  const bare = compact(needle);
  return [terminal.serial, terminal.name, terminal.location, terminal.contact, terminal.tfp ?? '']
    .some((value) => {
      const text = folded(value ?? '');
      return text.includes(needle) || (bare !== '' && compact(text).includes(bare));
    });
}

/**
 * Whether `serial` sorts into the page that starts after `after` (null: the first page) and ends at its last row, or
 * runs to the end when it is the last page. Serials are ASCII and the server orders them as stored, by code unit,
 * which is how `<` compares strings.
 */
/**
 * @param {string} serial
 * @param {string | null} after
 * @param {TerminalPage} page
 */
export function withinPage(serial, after, page) {
  if (after !== null && serial <= after) return false;
  if (page.next === null) return true;
  const last = page.terminals.at(-1);
  return last !== undefined && serial <= last.serial;
}
