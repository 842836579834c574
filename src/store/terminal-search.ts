/** @module What operators search terminals by, folded once when a terminal is written: a search reads these short strings, not every record. */
import type { Database, RootDatabase } from 'lmdb';
import type { TerminalRecord } from './records.js';
import { rebuildIndex, type IndexEntry } from './index-rebuild.js';

/** Lower case without accents, so that "zurich" finds "Zürich"; ASCII, most of a fleet's text, skips the normalisation. */
function searchFolded(text: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text.toLowerCase() : text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** Without separators, so that "AE:BC:4D" finds a TFP as the page shows it and "+1 555 0150" a number stored without them. */
const compact = (text: string): string => text.replace(/[\s:.()-]/g, '');

/** A terminal's serial, name, location, contact and TFP, folded; and the same without separators; and whether it is paired. */
export type SearchEntry = [text: string, bare: string, paired: boolean];

const entryOf: IndexEntry<TerminalRecord, string, SearchEntry> = (record) => [record.serial, searchEntry(record)];

export function searchEntry(record: TerminalRecord): SearchEntry {
  // The fields hold no control characters (operators' text refuses them): NUL keeps a match from spanning two of them.
  const text = searchFolded([record.serial, record.name, record.location, record.contact, record.tfp ?? ''].join('\u0000'));
  return [text, compact(text), record.tfp !== null];
}

/** Whether a search (as typed) finds an entry: in the folded text, or, failing that, in the text without separators. */
export function searchMatcher(query: string): (entry: SearchEntry) => boolean {
  const needle = searchFolded(query.trim());
  const bare = compact(needle);
  return ([text, textBare]) => text.includes(needle) || (bare !== '' && textBare.includes(bare));
}

/**
 * serial → SearchEntry, written in the same transaction as the terminal (Store.putTerminalSync). A search that matches
 * nothing read and folded every terminal record before: 700 ms for 100,000 terminals on the thread that serves
 * operators; it reads these entries instead.
 */
export class TerminalSearch {
  readonly db: Database<SearchEntry, string>;

  constructor(root: RootDatabase) {
    this.db = root.openDB<SearchEntry, string>({ name: 'terminal-search' });
  }

  putSync(record: TerminalRecord): void {
    this.db.putSync(...entryOf(record));
  }

  removeSync(serial: string): void {
    this.db.removeSync(serial);
  }

  /**
   * Writes the entries again when they differ from the terminals (a store from before the index, tools writing straight
   * into the store, or a build without it: index-rebuild.ts); returns how many. Emptied first: an entry whose
   * terminal is gone kept the counts apart, and the index was rewritten at every start. Run once at start-up, before any
   * thread serves.
   */
  rebuildFrom(terminals: Database<TerminalRecord, string>, root: RootDatabase): number {
    return rebuildIndex(root, this.db, terminals, entryOf);
  }
}
