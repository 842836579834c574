/** @module The case-folded index of serials: filled at start-up for terminals written before it, once. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TerminalRecord } from '../../../src/store/records.js';
import { Store, foldSerial } from '../../../src/store/store.js';
import { indexFoldedSerials } from '../../../src/store/store-upgrade.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'folded-serials-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const record = (serial: string): TerminalRecord => ({
  serial, name: '', location: '', contact: '', vpn: false, createdAt: 0, createdBy: 'test',
  tfp: null, certDer: null, pairedAt: null, pairedBy: null, lastSeenAt: null,
});

describe('foldedSerials', () => {
  it('indexes the terminals of an older store once, and the first of two serials that differ only in case', async () => {
    const store = Store.open(dir);
    try {
      // As a store from before the index holds them (or a tool wrote them straight in).
      store.root.transactionSync(() => {
        for (const serial of ['ATM-0001', 'ATM-0002', 'atm-0002']) store.terminals.putSync(serial, record(serial));
      });
      expect(indexFoldedSerials(store)).toBe(2);
      expect(store.foldedSerials.get(foldSerial('atm-0001'))).toBe('ATM-0001');
      expect(store.foldedSerials.get('ATM-0002')).toBe('ATM-0002');
      expect(indexFoldedSerials(store)).toBe(0);
    } finally {
      await store.close();
    }
  });
});
