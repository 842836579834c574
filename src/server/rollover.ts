/**
 * @module What a running server makes of a prepared next identity: the SFP it announces to terminals, since when, and
 * how many paired terminals have been seen since then (those can follow the switch).
 */
import fs from 'node:fs';
import path from 'node:path';
import { removeTemporaries } from '../durable-file.js';
import type { Logger } from '../logger.js';
import type { NextIdentityStatus } from '../protocol/types.js';
import type { Store } from '../store/store.js';
import { countRollover, type RolloverCount } from './rollover-count.js';
import { finishPromotion, nextIdentityPaths, readNextIdentity, ROLLOVER_FILES } from './next-identity.js';

export interface Announcement {
  sfp: string;
  announcedSince: number;
}

/**
 * At start, under the data dir's lock: finishes a promotion a crash cut short (before the identity is read), and removes
 * what a crashed `identity prepare` or `promote` left half-written.
 */
export function settleRollover(dataDir: string, log: Logger): void {
  if (finishPromotion(dataDir)) log.warn({ dataDir }, 'finished an `identity promote` that was cut short: the next identity is now the current one');
  const tls = path.dirname(nextIdentityPaths(dataDir).certFile);
  if (fs.existsSync(tls)) removeTemporaries(tls, ROLLOVER_FILES);
}

/**
 * The announcement this run makes, or null. `announcedSince` is kept in the store from the first start that announced
 * this SFP: restarts do not reset it, and a terminal seen since then has heard it (every gate and master answer carries it).
 */
export async function startAnnouncing(store: Store, dataDir: string, currentSfp: string, now: number, log: Logger): Promise<Announcement | null> {
  const next = readNextIdentity(dataDir);
  const kept = store.settings.get('next-identity');
  if (next === null || next.sfp === currentSfp) {
    // A run that announces nothing ends the announcement: its answers without the header make terminals forget it, so a
    // pair prepared again later is announced from then on, not from a date when terminals last heard it.
    if (kept !== undefined) await store.settings.remove('next-identity');
    if (next !== null) {
      // A server started with --server-key/--server-cert of the prepared pair: there is nothing to announce.
      log.warn({ sfp: next.sfp }, 'the prepared next identity is the certificate this server serves: not announced; `pairing-server identity promote` (server stopped) makes it the data dir\'s own');
    }
    return null;
  }
  const announcement = kept?.sfp === next.sfp ? kept : { sfp: next.sfp, announcedSince: now };
  if (announcement !== kept) await store.settings.put('next-identity', announcement);
  log.info({ nextSfp: announcement.sfp, announcedSince: new Date(announcement.announcedSince).toISOString() },
    'announcing the next server certificate to terminals (Pairing-Next-SFP): terminals that call before `identity promote` follow the switch');
  return announcement;
}

/** A count is taken again at most this often… */
const RECOUNT_MIN_MS = 1_000;
/** …and, when it takes longer, so that counting takes at most this share of the admin thread's time. */
const RECOUNT_SHARE = 0.05;

/**
 * For `server.status`. Master and gate record a terminal as seen (by its pinned key only) at most every 10 s, and the
 * first call of a run always: every terminal seen since the announcement began has had an answer carrying it. The count
 * (rollover-count.ts) reads every terminal's search entry and each paired one's last-seen time: 140 ms with 100,000
 * terminals, in slices of 2,000 (the thread held at most about 13 ms) so that no operator's op waits behind it. Any
 * session may ask for the status (a viewer's too, in a loop; each open Server view every 5 s), so the count is kept,
 * shared by the statuses asked while it is taken, and taken again at most once a second, or less often when it is slow;
 * last-seen times are 10 s coarse anyway.
 */
export class RolloverStatus {
  private counted: RolloverCount = { seen: 0, paired: 0 };
  private countAgainAt = -Infinity;
  private counting: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly store: Store, private readonly announcement: Announcement | null, private readonly now: () => number = Date.now) {}

  async current(): Promise<NextIdentityStatus | null> {
    const announcement = this.announcement;
    if (announcement === null) return null;
    if (this.counting === null && !this.stopped && this.now() >= this.countAgainAt) this.counting = this.count(announcement.announcedSince);
    if (this.counting !== null) await this.counting;
    return {
      sfp: announcement.sfp, announcedSince: new Date(announcement.announcedSince).toISOString(),
      terminalsSeenSince: this.counted.seen, pairedTerminals: this.counted.paired,
    };
  }

  /** At shutdown, before the store closes: a count under way ends at its next entry, and none begins. */
  async stop(): Promise<void> {
    this.stopped = true;
    // Its failure is the status's that asked for it, not the shutdown's.
    await this.counting?.catch(() => undefined);
  }

  private async count(announcedSince: number): Promise<void> {
    const started = performance.now();
    try {
      const counted = await countRollover(this.store, announcedSince, () => this.stopped);
      if (!this.stopped) this.counted = counted;
    } finally {
      // Wall time, turns given to other work included: a busy thread counts less often.
      this.countAgainAt = this.now() + Math.max(RECOUNT_MIN_MS, (performance.now() - started) / RECOUNT_SHARE);
      this.counting = null;
    }
  }
}
