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
import { loadConfig } from '../../../src/config.js';
import { createLogger } from '../../../src/logger.js';
import { ensureServerIdentity } from '../../../src/server/identity.js';
import { nextIdentityPaths, prepareNextIdentity } from '../../../src/server/next-identity.js';
import { RolloverStatus, startAnnouncing } from '../../../src/server/rollover.js';
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

  it('announces a pair prepared again after a run without it from that run on, not from when terminals last heard it', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rollover-again-'));
    const config = loadConfig({ 'data-dir': dataDir, host: '127.0.0.1' }, {});
    const current = ensureServerIdentity(config).sfp;
    const log = createLogger({ level: 'silent', pretty: false });
    const store = Store.open(dataDir, { fieldKey: false });
    try {
      const next = prepareNextIdentity(config, { from: null, force: false });
      const key = fs.readFileSync(next.keyFile);
      const cert = fs.readFileSync(next.certFile);
      expect(await startAnnouncing(store, dataDir, current, 1_000, log)).toEqual({ sfp: next.sfp, announcedSince: 1_000 });
      // A restart keeps the date.
      expect(await startAnnouncing(store, dataDir, current, 2_000, log)).toEqual({ sfp: next.sfp, announcedSince: 1_000 });
      // Withdrawn: a run answers without the header, and terminals forget it.
      fs.rmSync(next.certFile);
      fs.rmSync(next.keyFile);
      expect(await startAnnouncing(store, dataDir, current, 3_000, log)).toBeNull();
      // The same pair again (a licence's files): terminals hear it from this run on.
      fs.writeFileSync(nextIdentityPaths(dataDir).keyFile, key, { mode: 0o600 });
      fs.writeFileSync(nextIdentityPaths(dataDir).certFile, cert, { mode: 0o600 });
      expect(await startAnnouncing(store, dataDir, current, 4_000, log)).toEqual({ sfp: next.sfp, announcedSince: 4_000 });
    } finally {
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
