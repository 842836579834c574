/**
 * @module The admin channel's `cash.*` operations, spread into the op table of ops.ts: the cash events paired terminals
 * sent, one terminal's newest first (`cash.list`), and every event received in a time range, a page at a time, for an
 * export (`cash.export`, then `cash.next`). What a page costs is in store/cash-event-pages.ts.
 */
import crypto from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { serialSchema } from '../protocol/schemas.js';
import type { CashEventView } from '../protocol/types.js';
import { cashEventView } from '../protocol/views.js';
import { hasCashEvents, newestOfSerial, receivedBetween, type EventPosition, type ReceivedRange, type ScanPosition } from '../store/cash-event-pages.js';
import { argText, op, type OpSpec, type OpsContext } from './op-spec.js';

export interface CashEventPage {
  events: CashEventView[];
  /** Pass back (`before` to cash.list, `cursor` to cash.next) for the next page; null: this page is the last. */
  next: string | null;
}

const limit = (max: number, fallback: number) => z.number().int().min(1).max(max).default(fallback);
/** `receivedAt/eventId` of the last event shown: neither part holds a slash (schemas.ts). */
const LIST_CURSOR = /^([0-9]{1,15})\/([A-Za-z0-9._:-]{1,128})$/;
const time = (name: string) => z.iso.datetime({ offset: true, message: `${name}: an ISO 8601 time such as 2026-12-01T00:00:00Z` });

const listArgs = z.object({ serial: serialSchema, limit: limit(1000, 100), before: z.string().regex(LIST_CURSOR, 'before: the next of the page before').optional() });
const exportArgs = z.object({ since: time('since').optional(), until: time('until').optional(), serial: serialSchema.optional(), limit: limit(1000, 1000) })
  .refine((a) => a.since === undefined || a.until === undefined || Date.parse(a.since) < Date.parse(a.until), { message: 'until: must be later than since', path: ['until'] });
const nextArgs = z.object({ cursor: z.string().min(1).max(2048), limit: limit(1000, 1000) });

/** An unknown serial is refused; a deleted terminal's events stay readable (DECISIONS.md, Delete). */
export function knownSerial(ctx: OpsContext, serial: string): void {
  if (!ctx.store.terminals.get(serial) && !hasCashEvents(ctx.store, serial)) throw new AppError('not_found', `no terminal with serial ${serial}, and no cash events of one`);
}

/**
 * What an export's cursor carries: the range it was started for, whose operator, and where the next page begins. It is
 * MACed with a key derived from the store's field key, so `cash.next` continues exports that `cash.export` began (and
 * audited) and reads nothing else: a cursor written by hand is refused, as is another operator's. It survives a restart.
 */
interface ExportCursor {
  user: string;
  range: ReceivedRange;
  at: ScanPosition;
}
const cursorSchema = z.object({
  user: z.string(),
  range: z.object({ since: z.number(), until: z.number(), serial: z.string().nullable() }),
  at: z.union([
    z.object({ by: z.literal('time'), after: z.object({ receivedAt: z.number(), serial: z.string(), eventId: z.string() }) }),
    z.object({ by: z.literal('serial'), after: z.object({ receivedAt: z.number(), eventId: z.string() }) }),
    z.object({ by: z.literal('key'), after: z.string() }),
  ]),
});

const cursorKey = (ctx: OpsContext): Buffer => crypto.createHmac('sha256', ctx.store.fieldKey).update('cash-export-cursor').digest();
const macOf = (ctx: OpsContext, body: string): Buffer => crypto.createHmac('sha256', cursorKey(ctx)).update(body).digest().subarray(0, 16);

function sealCursor(ctx: OpsContext, cursor: ExportCursor): string {
  const body = Buffer.from(JSON.stringify(cursor)).toString('base64url');
  return `${body}.${macOf(ctx, body).toString('base64url')}`;
}

function openCursor(ctx: OpsContext, text: string, user: string): ExportCursor {
  const [body = '', mac = '', ...rest] = text.split('.');
  const given = Buffer.from(mac, 'base64url');
  const expected = macOf(ctx, body);
  if (rest.length > 0 || given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
    throw new AppError('invalid_field', 'cursor: not the next of a cash.export page (start the export with cash.export)');
  }
  const parsed = cursorSchema.safeParse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
  if (!parsed.success) throw new AppError('invalid_field', 'cursor: not the next of a cash.export page (start the export with cash.export)');
  if (parsed.data.user !== user) throw new AppError('invalid_field', 'cursor: an export another operator began; start your own with cash.export');
  if (parsed.data.at.by === 'time' && !ctx.store.indexesCashEventTimes) {
    throw new AppError('invalid_state', 'the server was restarted without --cash-event-days since this export began, and its time index is no longer kept: start the export again');
  }
  return parsed.data;
}

async function exportPage(ctx: OpsContext, user: string, range: ReceivedRange, from: ScanPosition | null, pageSize: number): Promise<CashEventPage> {
  const { events, next } = await receivedBetween(ctx.store, range, from, pageSize);
  return { events: events.map(cashEventView), next: next === null ? null : sealCursor(ctx, { user, range, at: next }) };
}

export const CASH_OPS: Readonly<Record<string, OpSpec>> = {
  // A terminal's own events, as its detail view shows them: a read like terminals.get, not audited.
  'cash.list': op({
    access: 'session', changes: 'nothing', audit: false, args: listArgs,
    precondition: (ctx, _conn, { serial }) => knownSerial(ctx, serial),
    run(ctx, _conn, { serial, limit: pageSize, before }): CashEventPage {
      const match = before === undefined ? null : LIST_CURSOR.exec(before);
      const position: EventPosition | null = match ? { receivedAt: Number(match[1]), eventId: match[2]! } : null;
      const { events, more } = newestOfSerial(ctx.store, serial, position, pageSize);
      const last = events[events.length - 1];
      return { events: events.map(cashEventView), next: more && last ? `${last.receivedAt}/${last.eventId}` : null };
    },
  }),
  'cash.export': op({
    // The fleet's takings in bulk: who took them out, and which, is on record (DECISIONS.md). Once per export, at its
    // start: its pages (cash.next) are not entries of their own, and only continue what this began.
    // A viewer may export: auditors are who ask for the takings of a period, and reading them changes nothing.
    access: 'session', changes: 'nothing', audit: true, target: (a) => argText(a, 'serial'),
    auditDetail: (a) => ({ since: argText(a, 'since'), until: argText(a, 'until') }),
    args: exportArgs,
    precondition: (ctx, _conn, { serial }) => (serial === undefined ? undefined : knownSerial(ctx, serial)),
    // What it reads ends when it began, whatever `until` says: the cursor is what was audited, and kept for days it
    // would otherwise go on reading what terminals sent since (by time, every event; by key, those that sort after it).
    run: (ctx, conn, { since, until, serial, limit: pageSize }) => exportPage(ctx, conn.session!.user, {
      since: since === undefined ? 0 : Date.parse(since), until: Math.min(until === undefined ? Number.MAX_SAFE_INTEGER : Date.parse(until), ctx.now() + 1), serial: serial ?? null,
    }, null, pageSize),
  }),
  'cash.next': op({
    access: 'session', changes: 'nothing', audit: false, args: nextArgs,
    run(ctx, conn, { cursor, limit: pageSize }) {
      const { range, at } = openCursor(ctx, cursor, conn.session!.user);
      return exportPage(ctx, conn.session!.user, range, at, pageSize);
    },
  }),
};
