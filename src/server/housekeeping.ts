/**
 * @module What the server does beside serving, on timers: forgetting what has expired (nonces, operator sessions, the
 * pairing history and cash events past their days) and the status line for log-based monitoring.
 */
import type { Sessions } from '../admin/sessions.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { GateStatus, ServerStatus } from '../protocol/types.js';
import { auditHeadOf } from '../store/audit-chain.js';
import { forgetCashEvents } from '../store/cash-event-retention.js';
import { forgetPairingHistory } from '../store/pairing-history.js';
import type { Store } from '../store/store.js';

const PRUNE_MS = 60_000;
const DAY_MS = 86_400_000;

export interface Housekeeping {
  /** Stops the timers, and a pairing-history run between two of its batches. */
  stop(): void;
  /** Settles once the run under way (if any) has ended: the store MUST stay open until then. */
  finished(): Promise<void>;
}

export function startHousekeeping(deps: {
  store: Store; sessions: Sessions; config: Config; log: Logger; now(): number; status(): Promise<ServerStatus>; gate(): GateStatus;
}): Housekeeping {
  const { store, sessions, config, log, now } = deps;
  // The pairing history and the cash events past their days: what a minute added, read from the oldest end. At start
  // too, so that a server stopped a while (or just upgraded to one that keeps them within their days) catches up at
  // once; it runs beside the serving threads, in batches, and a shutdown stops it between two.
  const stopPruning = new AbortController();
  const forgetPastTheirDays = async (): Promise<void> => {
    if (config.pairingHistoryDays > 0) {
      const started = performance.now();
      const history = await forgetPairingHistory(store, now() - config.pairingHistoryDays * DAY_MS, now(), stopPruning.signal);
      if (history.requests > 0) {
        log.info({ ...history, pairingHistoryDays: config.pairingHistoryDays, ms: Math.round(performance.now() - started) }, 'pairing requests older than the pairing history forgotten');
      }
    }
    if (config.cashEventDays > 0) {
      const started = performance.now();
      const events = await forgetCashEvents(store, now() - config.cashEventDays * DAY_MS, stopPruning.signal);
      if (events > 0) log.info({ events, cashEventDays: config.cashEventDays, ms: Math.round(performance.now() - started) }, 'cash events older than --cash-event-days forgotten');
    }
  };
  // Forgetting expired nonces empties whole slots of the ring on lmdb's writer thread: no scan, whatever the fleet.
  // Expired operator sessions go with them: a few records, read whole. Not at start: emptying a slot reads its pages
  // into the process's resident file pages (one slot of a 10,000-terminal bench store: +31 MiB), and after a stop
  // every slot is due, so start-up's memory would count them all (a bench run at 100,000 terminals, on a store its
  // last run had left a day before: +253 MiB, when the prune ran at start).
  const prune = async (): Promise<void> => {
    const started = performance.now();
    const emptied = await store.nonces.forgetExpired(Math.floor(now() / 1000), config.clockSkewSec);
    // About once per 2-minute bucket: rare enough for info, and when it ran is what explains a latency blip.
    if (emptied > 0) log.info({ slots: emptied, ms: Math.round(performance.now() - started) }, 'expired nonces forgotten');
    const sessionsForgotten = await sessions.forgetExpired();
    if (sessionsForgotten > 0) log.info({ sessions: sessionsForgotten }, 'expired operator sessions forgotten');
    await forgetPastTheirDays();
  };
  const failed = (err: unknown): void => log.error({ err }, 'forgetting expired nonces, sessions, pairing history or cash events failed');
  let pruning: Promise<void> = forgetPastTheirDays().catch(failed);
  const pruner = setInterval(() => {
    pruning = pruning.then(prune).catch(failed);
  }, PRUNE_MS);
  pruner.unref();

  // The same counts as server.status, in the log: a time series for log-based monitoring, no operator session needed.
  // A warning while a thread is restarting or not responding, so an alert on the level alone finds it.
  let stopped = false;
  const statusLog = config.statusLogMs > 0 ? setInterval(() => {
    deps.status().then(
      ({ uptimeSec, rssBytes, rssFileBytes, terminals, pairingHistory, disk, threads, nextIdentity }) => {
        // A status asked before a shutdown may come back after it closed the store (a thread not responding holds
        // it up to its timeout), and reading the audit head then threw out of this callback and crashed the process.
        if (stopped) return;
        const level = threads.every((t) => t.state === 'running') && !disk?.low ? 'info' : 'warn';
        // The audit head leaves the store here: shipped logs are an anchor `audit verify --head` checks the chain against.
        // The gate too: anyone may file pairing requests while it is open, so monitoring should see for how long.
        const { open, openUntil } = deps.gate();
        // During a rollover: how many terminals will follow the switch, for whoever decides when to promote.
        log[level]({ uptimeSec, rssBytes, rssFileBytes, terminals, pairingHistory, disk, threads, gate: { open, openUntil }, ...(nextIdentity === null ? {} : { nextIdentity }), auditHead: auditHeadOf(store.audit) }, 'server status');
      },
      (err: unknown) => log.error({ err }, 'reading the server status failed'),
    );
  }, config.statusLogMs) : null;
  statusLog?.unref();

  return {
    stop() {
      stopped = true;
      clearInterval(pruner);
      stopPruning.abort();
      if (statusLog) clearInterval(statusLog);
    },
    finished: () => pruning,
  };
}
