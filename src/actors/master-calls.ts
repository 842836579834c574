/** @module The master service's business calls for one paired terminal: ping, cash events, deposit address. */
import { AppError } from '../errors.js';
import { cashEventSchema, check, parseJson } from '../protocol/schemas.js';
import type { CashEventReply, DepositAddressReply, HttpReply, PingReply, TerminalRequest } from '../protocol/types.js';
import type { CashEventRecord } from '../store/records.js';
import { compositeKey } from '../store/store.js';
import type { ActorContext } from './context.js';
import { SUPPORTED_COINS } from '../protocol/deposit-address.js';

export const MASTER_ROUTES = ['POST /api/v1/ping', 'POST /api/v1/cash-events', 'GET /api/v1/deposit-address'] as const;
export type MasterRoute = (typeof MASTER_ROUTES)[number];

/**
 * A master call's answer; only a call that writes (a cash event) waits. Not an async function: the calls that answer
 * at once (ping, deposit address), most of a fleet's, are spared a promise of their own. Throws for a refused call.
 * `tfp`: the pinned key that signed it.
 */
export function masterCall(ctx: ActorContext, serial: string, tfp: string, request: TerminalRequest): HttpReply | Promise<HttpReply> {
  const route = `${request.method} ${request.path}` as MasterRoute;
  switch (route) {
    case 'POST /api/v1/ping':
      return { status: 200, body: { serverTime: isoTime(ctx.now()) } satisfies PingReply };
    case 'POST /api/v1/cash-events':
      return cashEvent(ctx, serial, tfp, request.body);
    case 'GET /api/v1/deposit-address':
      return depositAddress(ctx, new URLSearchParams(request.query).get('coin'));
    default:
      throw new AppError('not_found', `no route ${request.method} ${request.path}`);
  }
}

let isoMs = Number.NaN;
let isoText = '';

/**
 * `ms` as ISO 8601 text, made once per millisecond on a thread: toISOString took 0.56 µs on this host, and a busy
 * thread answers several pings in one millisecond (9 at the fleet benchmark's peak).
 */
function isoTime(ms: number): string {
  if (ms !== isoMs) {
    isoText = new Date(ms).toISOString();
    isoMs = ms;
  }
  return isoText;
}

/** Idempotent by eventId, for the key that stored it; the answer is sent only once the event is durable. */
async function cashEvent(ctx: ActorContext, serial: string, tfp: string, body: Buffer): Promise<HttpReply> {
  const event = check(cashEventSchema, parseJson(body));
  // Banknotes are counted when inserted: a time past the accepted clock difference is a terminal's mistake, not an event.
  if (Date.parse(event.at) > ctx.now() + ctx.clockSkewSec * 1000) throw new AppError('invalid_field', `at: in the future (more than ${ctx.clockSkewSec} s ahead of the server's clock)`);
  const key = compositeKey(serial, event.eventId);
  // The actor runs one message at a time per serial, so this read-then-write cannot race with itself.
  const stored = ctx.store.cashEvents.get(key);
  if (stored !== undefined) {
    // Another key of this serial stored it: the machine was factory reset or replaced since, and a firmware that counts
    // its eventIds from 1 again would have its real banknotes answered "duplicate" and never recorded.
    if (stored.tfp !== undefined && stored.tfp !== tfp) {
      ctx.log.warn({ serial, eventId: event.eventId }, 'cash event id reused by another key of the terminal: refused');
      throw new AppError('conflict', `event ${event.eventId} was already recorded from this terminal's earlier key (before a factory reset or a replacement); a new event needs a new eventId`);
    }
    if (sameEvent(stored, event)) return { status: 200, body: { accepted: true, duplicate: true } satisfies CashEventReply };
    // "Accepted" here would tell the terminal that banknotes nobody recorded are on the books.
    ctx.log.warn({ serial, eventId: event.eventId }, 'cash event id reused with other content: refused');
    throw new AppError('conflict', `event ${event.eventId} was already recorded with other content; a new event needs a new eventId`);
  }
  ctx.store.roomToWrite();
  const record: CashEventRecord = { serial, ...event, receivedAt: ctx.now(), tfp };
  await ctx.store.atomically(() => ctx.store.putCashEventSync(record));
  // After the commit: an operator told of it finds it with cash.list.
  ctx.cashRecorded(serial);
  ctx.log.info({ serial, eventId: event.eventId, currency: event.currency, denomination: event.denomination, count: event.count }, 'cash event stored');
  return { status: 200, body: { accepted: true, duplicate: false } satisfies CashEventReply };
}

/**
 * A retry of the stored event: the same banknotes. Not `at`: a terminal that resends after a restart may stamp the
 * time anew, and the stored event keeps its first time either way.
 */
function sameEvent(stored: CashEventRecord, event: Pick<CashEventRecord, 'currency' | 'denomination' | 'count'>): boolean {
  return stored.currency === event.currency && stored.denomination === event.denomination && stored.count === event.count;
}

function depositAddress(ctx: ActorContext, asked: string | null): HttpReply {
  // Case-insensitive, as operators set them (cas deposit set btc …).
  const coin = asked?.toUpperCase() ?? null;
  if (coin === null || !SUPPORTED_COINS.includes(coin)) {
    throw new AppError('invalid_field', `coin: one of ${SUPPORTED_COINS.join(', ')} (the query's coin=${asked === null ? ' is missing' : ' is not one of them'})`);
  }
  const deposit = ctx.store.deposits.get(coin);
  if (!deposit) throw new AppError('not_found', `the operator has not set a deposit address for ${coin}`);
  return { status: 200, body: { coin, address: deposit.address } satisfies DepositAddressReply };
}
