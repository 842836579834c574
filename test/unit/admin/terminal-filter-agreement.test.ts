/**
 * @module The web page's filter of pushed terminals and the server's `terminals.list` search find the same terminals
 * for the same text: the page decides by it whether a push changes the list on screen, and a disagreement either shows
 * a terminal the server's search would not list or drops one it would (src/admin/web/terminal-filter.js).
 */
import { describe, expect, it } from 'vitest';
import type { TerminalView } from '../../../src/protocol/types.js';
import type { TerminalRecord } from '../../../src/store/records.js';
import { searchEntry, searchMatcher } from '../../../src/store/terminal-search.js';

interface PageFilter {
  matchesFilters(terminal: Pick<TerminalView, 'serial' | 'name' | 'location' | 'contact' | 'tfp' | 'state'>, filters: { text: string; state: string }): boolean;
}

const tfp = 'ae'.repeat(2) + 'bc4d'.repeat(15);
const record = (serial: string, fields: Partial<TerminalRecord>): TerminalRecord => ({
  serial, name: '', location: '', contact: '', vpn: false, createdAt: 0, createdBy: 'test',
  tfp: null, certDer: null, pairedAt: null, pairedBy: null, lastSeenAt: null, ...fields,
});
const terminals = [
  record('ATM-0001', { name: 'Café Zürich', location: 'Bahnhofstraße 1', contact: '+41 44 123 45 67' }),
  record('atm-0002', { name: 'Kiosk (north)', location: 'Praha 1', contact: '+420777123456', tfp }),
  record('BT.100-3', { name: 'ŁÓDŹ Mall', location: 'ul. Piotrkowska 2', contact: '' }),
  record('X1', { name: 'Dvořák', location: 'Brno', contact: '(555) 010-0150' }),
];
const queries = [
  'cafe zurich', 'CAFÉ', 'zürich', 'strasse', 'straße', '+41441234567', '44 123', 'atm-000', 'ATM0002', 'atm 0002', 'kiosk north',
  '(north)', 'AE:AE:BC:4D', 'aeaebc4d', 'lodz', 'łódź', 'piotrkowska 2', 'bt.100', 'bt100', 'dvorak', '555 010 0150', '5550100150',
  '-', ':', '   ', '', 'zzz', 'n', '1',
];

describe('the page\'s filter and the server\'s search', () => {
  it('find the same terminals for every text', async () => {
    const page = '../../../src/admin/web/terminal-filter.js';
    const { matchesFilters } = (await import(page)) as PageFilter;
    for (const query of queries) {
      const matcher = query.trim() ? searchMatcher(query) : () => true;
      const server = terminals.filter((t) => matcher(searchEntry(t))).map((t) => t.serial);
      const shown = terminals.filter((t) => matchesFilters({ ...t, state: 'expected' }, { text: query, state: 'all' })).map((t) => t.serial);
      expect({ query, shown }).toEqual({ query, shown: server });
    }
  });
});
