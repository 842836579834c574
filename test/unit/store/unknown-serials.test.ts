/** @module The unknown serials operators can list are bounded: the gate takes them from anyone while it is open. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { UnknownSerialRecord } from '../../../src/store/records.js';
import { Store } from '../../../src/store/store.js';
import { forgetOldUnknownSerials, MAX_UNKNOWN_SERIALS } from '../../../src/store/unknown-serials.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'unknown-serials-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const record = (i: number, lastAttemptAt: number): UnknownSerialRecord => ({
  serial: `GUESS-${i}`, tfp: 'ab'.repeat(32), remoteAddress: '192.0.2.1', firstAttemptAt: lastAttemptAt, lastAttemptAt, attempts: 1,
});

describe('forgetOldUnknownSerials', () => {
  it('keeps the most recently tried once there are a tenth more than the bound, and nothing before', async () => {
    const store = Store.open(dir);
    try {
      const bound = MAX_UNKNOWN_SERIALS * 1.1;
      // Tried in an order unrelated to their keys: what is kept must be the recent ones, not the first in key order.
      const at = (i: number) => 1_000_000 + ((i * 7919) % 5000) * 10;
      await store.atomically(() => {
        for (let i = 0; i < bound; i++) store.unknownSerials.putSync(`GUESS-${i}`, record(i, at(i)));
      });
      expect(await forgetOldUnknownSerials(store)).toBe(0);

      const extra = 50;
      await store.atomically(() => {
        for (let i = bound; i < bound + extra; i++) store.unknownSerials.putSync(`GUESS-${i}`, record(i, at(i)));
      });
      const newest = Array.from({ length: bound + extra }, (_, i) => i).sort((a, b) => at(b) - at(a)).slice(0, MAX_UNKNOWN_SERIALS);
      expect(await forgetOldUnknownSerials(store)).toBe(bound + extra - MAX_UNKNOWN_SERIALS);
      const kept = [...store.unknownSerials.getKeys()].map(String).sort();
      expect(kept).toEqual(newest.map((i) => `GUESS-${i}`).sort());
    } finally {
      await store.close();
    }
  });
});
