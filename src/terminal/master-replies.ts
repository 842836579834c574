/**
 * @module What a terminal takes from master's answers (PROTOCOL.md "Master"): each checked against its shape before
 * use, not cast. The deposit address above all: a terminal shows it to customers who pay into it.
 */
import { z } from 'zod';
import { AppError } from '../errors.js';
import type { CashEventReply, DepositAddressReply, PingReply } from '../protocol/types.js';

export const pingReply = z.object({ serverTime: z.iso.datetime() }) satisfies z.ZodType<PingReply>;
export const cashEventReply = z.object({ accepted: z.literal(true), duplicate: z.boolean() }) satisfies z.ZodType<CashEventReply>;
/** Printable ASCII without spaces: every address format the server takes (protocol/deposit-address.ts) is that. */
export const depositAddressReply = z.object({ coin: z.string(), address: z.string().regex(/^[\x21-\x7e]{1,128}$/) }) satisfies z.ZodType<DepositAddressReply>;

/** The answer as `schema` has it, or `bad_request` naming the call: nothing else master might say is taken on trust. */
export function replyOf<T>(schema: z.ZodType<T>, json: unknown, call: string): T {
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new AppError('bad_request', `master answered ${call} with a body that is not its answer (PROTOCOL.md "Master"); nothing was taken from it`);
  return parsed.data;
}
