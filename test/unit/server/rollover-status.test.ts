/**
 * @module The rollover's line in `server.status`: the paired terminals seen since the announcement began, of the paired
 * ones. Counting them reads every terminal's search entry (140 ms with 100,000 terminals, in slices), and any session
 * may ask for the status, a viewer's included, in a loop: the count is taken again at most once a second, and less
 * often when it is slower, so that it never takes more than a twentieth of the admin thread's time.
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
import type { TerminalRecord } from '../../../src/store/records.js';
import { Store } from '../../../src/store/store.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rollover-status-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A terminal as operators left it: created, and paired or not. */
function terminal(serial: string, paired: boolean): TerminalRecord {
  return {
    serial, name: '', location: '', contact: '', vpn: false, createdAt: 0, createdBy: 'alice',
    tfp: paired ? 'cd'.repeat(32) : null, certDer: null, pairedAt: paired ? 0 : null, pairedBy: paired ? 'alice' : null, lastSeenAt: null,
  };
}

describe('the rollover status', () => {
  it('counts the paired terminals seen since the announcement, again at most once a second however often it is asked', async () => {
    const store = Store.open(dir, { fieldKey: false });
    try {
      const since = Date.UTC(2026, 11, 7);
      await store.atomically(() => {
        for (const serial of ['ATM-BEFORE', 'ATM-1', 'ATM-2', 'ATM-3', 'ATM-NEVER']) store.putTerminalSync(terminal(serial, true));
        // Unpaired since it was seen: its time stays (the terminals list shows it), but it has no pairing to keep.
        store.putTerminalSync(terminal('ATM-UNPAIRED', false));
        store.lastSeen.putSync('ATM-UNPAIRED', since + 1);
        store.lastSeen.putSync('ATM-BEFORE', since - 1);
        store.lastSeen.putSync('ATM-1', since);
        store.lastSeen.putSync('ATM-2', since + 5_000);
      });
      let now = since + 60_000;
      const rollover = new RolloverStatus(store, { sfp: 'ab'.repeat(32), announcedSince: since }, () => now);
      expect(await rollover.current()).toEqual({ sfp: 'ab'.repeat(32), announcedSince: new Date(since).toISOString(), terminalsSeenSince: 2, pairedTerminals: 5 });

      await store.atomically(() => store.lastSeen.putSync('ATM-3', now));
      for (let i = 0; i < 100; i++) expect((await rollover.current())?.terminalsSeenSince).toBe(2);
      now += 999;
      expect((await rollover.current())?.terminalsSeenSince).toBe(2);
      now += 1;
      expect(await rollover.current()).toMatchObject({ terminalsSeenSince: 3, pairedTerminals: 5 });

      // Unpaired, then deleted (Store.deleteTerminalSync takes its last-seen time too): counted in neither number.
      await store.atomically(() => store.putTerminalSync(terminal('ATM-3', false)));
      now += 1_000;
      expect(await rollover.current()).toMatchObject({ terminalsSeenSince: 2, pairedTerminals: 4 });
      await store.atomically(() => store.deleteTerminalSync(terminal('ATM-3', false)));
      expect(store.lastSeen.get('ATM-3')).toBeUndefined();
      now += 1_000;
      expect(await rollover.current()).toMatchObject({ terminalsSeenSince: 2, pairedTerminals: 4 });
    } finally {
      await store.close();
    }
  });

  it('shares one count among the statuses asked while it is taken, and ends it before the store closes', async () => {
    const store = Store.open(fs.mkdtempSync(path.join(os.tmpdir(), 'rollover-slices-')), { fieldKey: false });
    const since = 1_000;
    // More than a slice (2,000 entries): the count gives the event loop turns while it reads.
    await store.atomically(() => {
      for (let i = 0; i < 5_000; i++) {
        const serial = `ATM-${String(i).padStart(5, '0')}`;
        store.putTerminalSync(terminal(serial, i % 2 === 0));
        store.lastSeen.putSync(serial, since + i);
      }
    });
    const rollover = new RolloverStatus(store, { sfp: 'ab'.repeat(32), announcedSince: since + 1_000 }, () => 0);
    const asked = await Promise.all([rollover.current(), rollover.current(), rollover.current()]);
    expect(asked.map((s) => [s?.terminalsSeenSince, s?.pairedTerminals])).toEqual([[2_000, 2_500], [2_000, 2_500], [2_000, 2_500]]);

    const again = new RolloverStatus(store, { sfp: 'ab'.repeat(32), announcedSince: since }, () => 0);
    const cut = again.current();
    await again.stop();
    await store.close();
    // Stopped at its next entry, before the store closed: nothing read it afterwards, and no number was made up.
    expect(await cut).toMatchObject({ terminalsSeenSince: 0, pairedTerminals: 0 });
    expect(await again.current()).toMatchObject({ terminalsSeenSince: 0, pairedTerminals: 0 });
  });

  it('is null while nothing is announced', async () => {
    const store = Store.open(dir, { fieldKey: false });
    try {
      expect(await new RolloverStatus(store, null).current()).toBeNull();
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
