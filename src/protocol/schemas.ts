/** @module Validation of everything that arrives from outside (zod): terminal bodies, serials, ids. One place, so server and clients agree. */
import { z } from 'zod';
import { AppError } from '../errors.js';

/** Serials go into composite store keys and log lines: printable, no separators, bounded. */
export const SERIAL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const serialSchema = z.string().regex(SERIAL_PATTERN, 'serial: 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');

/** Strict base64 (standard alphabet, padded); returns null for anything else. */
export function decodeBase64(text: string): Buffer | null {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return null;
  return Buffer.from(text, 'base64');
}

const base64Of = (bytes: number, what: string) =>
  z.string().max(128).refine((s) => decodeBase64(s)?.length === bytes, `${what} must be base64 of ${bytes} bytes`);

const requestId = z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'requestId is malformed');

const info = z.record(z.string().max(64), z.unknown()).refine((v) => JSON.stringify(v).length <= 1024, 'info is larger than 1 KiB');

const commitSchema = z.object({ commitment: base64Of(32, 'commitment'), info: info.optional() }).strict();
const revealSchema = z.object({ requestId, reveal: base64Of(32, 'reveal') }).strict();
const pollSchema = z.object({ requestId: requestId.optional() }).strict();

export type PairingBody =
  | { form: 'commit'; commitment: string; info: Record<string, unknown> | null }
  | { form: 'reveal'; requestId: string; reveal: string }
  | { form: 'poll'; requestId: string | null };

/** Tells the three gate body forms apart by their keys, then validates the one it is. */
export function parsePairingBody(value: unknown): PairingBody {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AppError('invalid_field', 'the pairing body must be a JSON object');
  }
  if ('commitment' in value) {
    const body = check(commitSchema, value);
    return { form: 'commit', commitment: body.commitment, info: body.info ?? null };
  }
  if ('reveal' in value) {
    const body = check(revealSchema, value);
    return { form: 'reveal', requestId: body.requestId, reveal: body.reveal };
  }
  const body = check(pollSchema, value);
  return { form: 'poll', requestId: body.requestId ?? null };
}

/** 2000-01-01T00:00:00Z: no cash event of a fleet running this server is older. */
const EARLIEST_CASH_EVENT = Date.UTC(2000, 0, 1);

/** A cash event's bounds, for the terminal CLI's own checks too (a value master would refuse is a usage error there). */
export const CASH_EVENT_LIMITS = {
  currency: /^[A-Z]{3}$/,
  // A banknote or coin: at least a thousandth (the smallest unit ISO 4217 has), in thousandths at most; 1e-300 is no
  // money any terminal counted.
  denomination: { min: 0.001, max: 1_000_000 },
  count: { min: 1, max: 10_000 },
} as const;

/** Whether a denomination is in thousandths: at most 3 decimal places, as binary floating point can tell. */
export const inThousandths = (d: number): boolean => Math.abs(d * 1000 - Math.round(d * 1000)) < 1e-6;

export const cashEventSchema = z.object({
  eventId: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'eventId: 1-128 characters of A-Z a-z 0-9 . _ : -'),
  currency: z.string().regex(CASH_EVENT_LIMITS.currency, 'currency: an ISO 4217 code such as USD'),
  denomination: z.number().min(CASH_EVENT_LIMITS.denomination.min).max(CASH_EVENT_LIMITS.denomination.max)
    .refine(inThousandths, 'denomination: at most 3 decimal places'),
  // Bounds before int(): 2^53 is not a safe integer either, and "at most 10000" is the useful answer.
  count: z.number().min(CASH_EVENT_LIMITS.count.min).max(CASH_EVENT_LIMITS.count.max).int(),
  // Not before 2000: a terminal whose clock reads 0001 or 1970 sent a time nobody can book (a future one is refused by
  // master against its own clock).
  at: z.iso.datetime({ offset: true }).refine((at) => Date.parse(at) >= EARLIEST_CASH_EVENT, 'at: before 2000-01-01'),
}).strict();

/** Parses with `schema` or throws `invalid_field` naming the first offending field (never echoing its value). */
export function check<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (!issue) throw new AppError('invalid_field', 'body: invalid');
  if (issue.code === 'unrecognized_keys') {
    const at = issue.path.length > 0 ? `${issue.path.join('.')}.` : '';
    throw new AppError('invalid_field', `${at}${issue.keys[0]}: not a field of this request`);
  }
  const where = issue.path.length > 0 ? issue.path.join('.') : 'body';
  const text = described(issue);
  // Messages written for a field (serialSchema's) already name it.
  throw new AppError('invalid_field', text.startsWith(`${where}: `) ? text : `${where}: ${text}`);
}

const UNITS: Record<string, string> = { string: ' characters', array: ' items', set: ' items' };
const KINDS: Record<string, string> = { int: 'a whole number', number: 'a number', string: 'a string', boolean: 'true or false', object: 'an object', array: 'a list' };

/** zod's issue in words an operator or a terminal's developer reads at once ("at most 10080", not "Too big: expected number to be <=10080"). */
function described(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_big':
      return `${issue.inclusive === false ? 'less than' : 'at most'} ${issue.maximum}${UNITS[issue.origin] ?? ''}`;
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return 'may not be empty';
      return `${issue.inclusive === false ? 'more than' : 'at least'} ${issue.minimum}${UNITS[issue.origin] ?? ''}`;
    case 'invalid_type':
      return issue.message.endsWith('received undefined') ? 'required' : `must be ${KINDS[issue.expected] ?? issue.expected}`;
    case 'invalid_value':
      return `one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_format':
      return issue.format === 'datetime' ? 'an ISO 8601 time with its offset, such as 2026-12-06T10:00:00Z' : issue.message;
    default:
      return issue.message;
  }
}

/** JSON.parse that reports `malformed_json` instead of throwing SyntaxError. */
export function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    throw new AppError('malformed_json', 'the body is not valid JSON');
  }
}
