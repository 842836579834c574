/**
 * @module The rollover's line in `server.status`: the terminals seen since the announcement began. Counting them reads
 * the whole last-seen table (22 ms a call with 100,000 terminals, where the rest of the status took 1.4 ms), and any
 * session may ask for the status, a viewer's included, in a loop: the count is taken again at most once a second, and
 * less often when it is slower, so that it never holds the admin thread more than a twentieth of its time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RolloverStatus } from '../../../src/server/rollover.js';
import { Store } from '../../../src/store/store.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rollover-status-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the rollover status', () => {
  it('counts the terminals seen since the announcement, again at most once a second however often it is asked', async () => {
    const store = Store.open(dir, { fieldKey: false });
    try {
      const since = Date.UTC(2026, 11, 7);
      await store.atomically(() => {
        store.lastSeen.putSync('ATM-BEFORE', since - 1);
        store.lastSeen.putSync('ATM-1', since);
        store.lastSeen.putSync('ATM-2', since + 5_000);
      });
      let now = since + 60_000;
      const rollover = new RolloverStatus(store, { sfp: 'ab'.repeat(32), announcedSince: since }, () => now);
      expect(rollover.current()).toEqual({ sfp: 'ab'.repeat(32), announcedSince: new Date(since).toISOString(), terminalsSeenSince: 2 });

      await store.atomically(() => store.lastSeen.putSync('ATM-3', now));
      for (let i = 0; i < 100; i++) expect(rollover.current()?.terminalsSeenSince).toBe(2);
      now += 999;
      expect(rollover.current()?.terminalsSeenSince).toBe(2);
      now += 1;
      expect(rollover.current()?.terminalsSeenSince).toBe(3);
    } finally {
      await store.close();
    }
  });

  it('is null while nothing is announced', async () => {
    const store = Store.open(dir, { fieldKey: false });
    try {
      expect(new RolloverStatus(store, null).current()).toBeNull();
    } finally {
      await store.close();
    }
  });
});
