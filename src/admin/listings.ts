/** @module The operators' lists at fleet scale, a page at a time and filtered on the server: terminals in serial order (searched), pairing requests and audit entries newest first. */
import { z } from 'zod';
import { AppError } from '../errors.js';
import { pairingViewOf, terminalViewOf } from '../actors/operator-views.js';
import { check, serialSchema } from '../protocol/schemas.js';
import type { AuditEntry, PairingState, PairingView, TerminalView } from '../protocol/types.js';
import { auditView } from '../protocol/views.js';
import { parseTimeBound, TIME_BOUND_HINT } from '../protocol/time-bounds.js';
import { parseCursor, timelineCursor, type TimelineEntry } from '../store/pairing-timeline.js';
import { effectiveState, type AuditRecord, type PairingRecord, type TerminalRecord } from '../store/records.js';
import { scanInSlices } from '../store/sliced-scan.js';
import { searchEntry, searchMatcher } from '../store/terminal-search.js';
import type { Store } from '../store/store.js';

const limit = z.number().int().min(1).max(1000).default(100);

const terminalListArgs = z.object({
  query: z.string().max(128).optional(),
  state: z.enum(['expected', 'pending', 'paired']).optional(),
  after: serialSchema.optional(),
  limit,
});

const pairingListArgs = z.object({
  state: z.enum(['pending', 'approved', 'rejected', 'expired']).optional(),
  serial: serialSchema.optional(),
  before: z.string().max(100).optional(),
  limit,
});

export interface TerminalPage {
  terminals: TerminalView[];
  /** Pass as `after` for the next page; null: this page is the last. */
  next: string | null;
  /** Every terminal in the store, matching or not. */
  total: number;
  /**
   * How many terminals match the search and state, on every page; null on the pages after the first of a search,
   * `paired` or `expected` listing, where counting would read the whole table again for each page (listTerminals).
   */
  matching: number | null;
}

export interface PairingPage {
  requests: PairingView[];
  /** Pass as `before` for the next page; null: this page is the last. */
  next: string | null;
}


/**
 * One page of terminals in serial order. Without a search or a state this reads the page and one more record, and
 * every terminal matches (the store's count, no scan). A search, `paired` or `expected` reads the terminals' search
 * entries (terminal-search.ts) until the page is full, so one that matches nothing reads every entry once, in slices
 * (sliced-scan.ts); on its first page (no `after`) it reads on to the table's end to count the matches, which costs about
 * what a search that matches nothing costs (ADMIN-OPS.md), once a listing, not once a page.
 * `pending` reads only the requests that wait for an operator, and counts them all on every page.
 */
export async function listTerminals(store: Store, rawArgs: unknown, now: number): Promise<TerminalPage> {
  const args = check(terminalListArgs, rawArgs);
  const matches = args.query?.trim() ? searchMatcher(args.query) : null;
  const page: TerminalRecord[] = [];
  let more = false;
  let matched = 0;
  /** Past a full page: go on only to count (`counting`), without reading the records. */
  const take = (serial: string, counting: boolean, record?: TerminalRecord): boolean => {
    matched++;
    if (page.length === args.limit) {
      more = true;
      return counting;
    }
    const found = record ?? store.terminals.get(serial);
    if (found) page.push(found);
    return true;
  };
  const after = args.after !== undefined ? { after: args.after } : {};
  const filtered = matches !== null || args.state !== undefined;
  const counting = args.state === 'pending' || args.after === undefined;
  if (args.state === 'pending') {
    for (const serial of serialsAwaitingApproval(store, now)) {
      const record = store.terminals.get(serial);
      // A paired terminal that another key asks for (a factory reset, or someone claiming its serial) is `paired`.
      if (!record || record.tfp !== null || (matches && !matches(searchEntry(record)))) continue;
      // The serials before the page are counted too: the requests that wait are a few, whatever the fleet.
      if (args.after !== undefined && serial <= args.after) matched++;
      else take(serial, true, record);
    }
  } else if (filtered) {
    // `expected` is the complement of `pending` among the unpaired: the serials in the index of requests that wait,
    // read once, not a read of the pairing index per terminal (the first page reads every entry to count them).
    const waiting = args.state === 'expected' ? new Set(serialsAwaitingApproval(store, now)) : null;
    await scanInSlices(store.terminalSearch.db, after, (serial, entry) => {
      if (matches && !matches(entry)) return true;
      if (args.state === 'paired' ? !entry[2] : waiting !== null && (entry[2] || waiting.has(serial))) return true;
      return take(serial, counting);
    });
  } else {
    // The terminals themselves, not their search entries: a listing shows every terminal, indexed or not.
    await scanInSlices(store.terminals, after, (serial, record) => take(serial, false, record));
  }
  const total = store.terminalCount();
  return {
    terminals: page.map((record) => terminalViewOf(store, record, now)),
    next: more ? page[page.length - 1]!.serial : null,
    total,
    matching: !filtered ? total : counting ? matched : null,
  };
}

/** Sorted: the serials of the requests that wait for an operator (awaiting-operator.ts). */
function serialsAwaitingApproval(store: Store, now: number): string[] {
  const serials = new Set(store.awaitingOperator.waiting(store.pairing, now).map((record) => record.serial));
  // Code-unit order, as LMDB orders the terminals' keys: a page continues where the last one ended either way.
  return [...serials].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Pending requests, newest first, from the index of those waiting for an operator: a few, whatever the history. */
function pendingPage(store: Store, args: z.infer<typeof pairingListArgs>, now: number): PairingPage {
  const before = args.before === undefined ? null : parseCursor(args.before);
  const older = (r: PairingRecord): boolean => before === null || r.requestedAt < before[0] || (r.requestedAt === before[0] && r.requestId < before[1]);
  const waiting = store.awaitingOperator.waiting(store.pairing, now).filter((r) => older(r) && (args.serial === undefined || r.serial === args.serial));
  const page = waiting.slice(0, args.limit);
  const last = page[page.length - 1];
  return {
    requests: page.map((record) => pairingViewOf(store, record, now)),
    next: waiting.length > args.limit && last ? timelineCursor(last) : null,
  };
}

/**
 * Whether a request, or its timeline entry's summary, is on a page of `state` (any state without it): it has a code
 * (it reached the approval stage, or is no longer pending) and that state.
 */
function shown(request: Pick<PairingRecord, 'state' | 'stage' | 'expiresAt'>, state: PairingState | undefined, now: number): boolean {
  if (request.state === 'pending' && request.stage !== 'approval') return false;
  return state === undefined || effectiveState(request, now) === state;
}

/**
 * One page of pairing requests, newest first. Requests still waiting for the terminal's reveal have no code and are
 * left out: operators see a request from the approval stage on. `pending` reads only the requests that wait.
 */
export async function listPairing(store: Store, rawArgs: unknown, now: number): Promise<PairingPage> {
  const args = check(pairingListArgs, rawArgs);
  if (args.state === 'pending') return pendingPage(store, args, now);
  const page: PairingView[] = [];
  let last: TimelineEntry | null = null;
  let more = false;
  await store.pairingTimeline.newestFirst(args.before, (entry) => {
    if (args.serial !== undefined && entry.serial !== args.serial) return true;
    // What the entry says of its request leaves out the ones this page would not show without reading them: a state
    // that none of 100,000 requests has was listed in 568 ms reading each request, in 44 ms reading their entries.
    if (entry.summary && !shown(entry.summary, args.state, now)) return true;
    const record = store.pairing.get(entry.requestId);
    if (!record || !shown(record, args.state, now)) return true;
    if (page.length === args.limit) {
      more = true;
      return false;
    }
    page.push(pairingViewOf(store, record, now));
    last = entry;
    return true;
  });
  return { requests: page, next: more && last ? timelineCursor(last) : null };
}

/** A date or time as typed (time-bounds.ts), read as the instant the range begins (`since`) or the first after it (`until`). */
const timeBound = (edge: 'since' | 'until') => z.string().max(40).transform((text, ctx) => {
  const ms = parseTimeBound(text, edge);
  if (ms === null) ctx.addIssue({ code: 'custom', message: `not ${TIME_BOUND_HINT}` });
  return ms ?? 0;
});

const auditListArgs = z.object({
  limit: z.number().int().min(1).max(10_000).default(100),
  before: z.number().int().min(1).optional(),
  user: z.string().max(64).optional(),
  action: z.string().max(64).optional(),
  serial: serialSchema.optional(),
  since: timeBound('since').optional(),
  until: timeBound('until').optional(),
});

/**
 * Audit entries newest first, those before `before` (a seq, the last of the page before) when given, of one user,
 * action or terminal when asked: a terminal's entries are those that target its serial and the decisions on its
 * pairing requests (`detail.serial`). With `since` or `until` the entries are those made in that range, read from the
 * log's time index (audit-times.ts): the page starts with a seek, and reads the range's entries until it is full.
 * Newest first is then by time: an entry appended late with an earlier time (`interrupted`) is where its time is.
 */
export async function listAudit(store: Store, rawArgs: unknown): Promise<AuditEntry[]> {
  const args = check(auditListArgs, rawArgs);
  const page: AuditEntry[] = [];
  const take = (record: AuditRecord | undefined): boolean => {
    if (!record) return true;
    if (args.user !== undefined && record.user !== args.user) return true;
    if (args.action !== undefined && record.action !== args.action) return true;
    if (args.serial !== undefined && record.target !== args.serial && record.detail?.serial !== args.serial) return true;
    page.push(auditView(record));
    return page.length < args.limit;
  };
  if (args.since === undefined && args.until === undefined) {
    await scanInSlices(store.audit, { ...(args.before !== undefined && { after: args.before }), reverse: true }, (_seq, record) => take(record));
    return page;
  }
  if (args.since !== undefined && args.until !== undefined && args.since >= args.until) {
    throw new AppError('invalid_field', 'until: must be later than since (a date alone as until covers that whole day)');
  }
  // The page before ended at that entry: this one goes on below its place in time. Entries are never removed, so a
  // seq without one is past the newest entry, and every entry is before it.
  const last = args.before === undefined ? undefined : store.audit.get(args.before);
  await store.auditTimes.newestFirst({
    ...(args.since !== undefined && { since: args.since }), ...(args.until !== undefined && { until: args.until }),
    ...(last !== undefined && { from: [last.at, last.seq] as [number, number] }),
  }, (seq) => take(store.audit.get(seq)));
  return page;
}
