/** @module The terminals' search index, filled again at start-up when it does not match the terminals: once, not at every start. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TerminalRecord } from '../../../src/store/records.js';
import { Store } from '../../../src/store/store.js';
import { searchEntry } from '../../../src/store/terminal-search.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'terminal-search-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const record = (serial: string, name: string): TerminalRecord => ({
  serial, name, location: '', contact: '', vpn: false, createdAt: 0, createdBy: 'test',
  tfp: null, certDer: null, pairedAt: null, pairedBy: null, lastSeenAt: null,
});

describe('TerminalSearch.rebuildFrom', () => {
  it('drops entries whose terminal is gone and writes every terminal\'s, after which a start has nothing to do', async () => {
    const store = Store.open(dir);
    try {
      const search = store.terminalSearch;
      // As a tool writing straight into the store leaves it: two terminals without entries, and an entry without a terminal.
      store.root.transactionSync(() => {
        for (const serial of ['ATM-0001', 'ATM-0002']) store.terminals.putSync(serial, record(serial, `Kiosk ${serial}`));
        search.db.putSync('ATM-GONE', searchEntry(record('ATM-GONE', 'Gone')));
      });
      expect(search.rebuildFrom(store.terminals, store.root)).toBe(2);
      expect([...search.db.getKeys()]).toEqual(['ATM-0001', 'ATM-0002']);
      expect(search.db.get('ATM-0002')).toEqual(searchEntry(record('ATM-0002', 'Kiosk ATM-0002')));
      expect(search.rebuildFrom(store.terminals, store.root)).toBe(0);
    } finally {
      await store.close();
    }
  });
});
