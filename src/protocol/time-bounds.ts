/**
 * @module The dates and times a listing is bounded by (`audit.list`'s since and until), as operators type them: a day,
 * or a time of day, in UTC unless an offset is given. One parser for the server and `cas`, so both refuse the same text.
 */

const FORMAT = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

export const TIME_BOUND_HINT = 'a date (2026-03-05) or an ISO time (2026-03-05T14:30, 2026-03-05T14:30:00+01:00), in UTC unless an offset is given';

const DAY_MS = 86_400_000;

/**
 * Epoch ms, or null when the text is not a real date or time. `since` is the first instant in the range; `until` the
 * first after it, so that a day alone covers the whole of it either way (`--since 2026-03-05 --until 2026-03-05` is
 * that day), and a time is exact. No offset means UTC: the server's log and the audit's `at` are UTC, and a bound that
 * moved with the zone of whoever typed it would give two operators different answers to the same question.
 */
export function parseTimeBound(text: string, edge: 'since' | 'until'): number | null {
  const match = FORMAT.exec(text.trim());
  if (!match) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = match;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0), Number((frac ?? '').padEnd(3, '0')));
  const back = new Date(ms);
  // Date.UTC rolls 2026-02-30 over into March, and 24:00 into the next day: a date that does not exist is refused.
  if (back.getUTCFullYear() !== Number(y) || back.getUTCMonth() !== Number(mo) - 1 || back.getUTCDate() !== Number(d)
    || back.getUTCHours() !== Number(h ?? 0) || back.getUTCMinutes() !== Number(mi ?? 0) || back.getUTCSeconds() !== Number(s ?? 0)) return null;
  if (h === undefined) return edge === 'until' ? ms + DAY_MS : ms;
  const offset = offsetMs(zone);
  return offset === null ? null : ms - offset;
}

/** `+01:00` → one hour; `Z` or none → 0; null beyond ±18 h (ISO 8601's range) or past 59 minutes. */
function offsetMs(zone: string | undefined): number | null {
  if (zone === undefined || zone.toUpperCase() === 'Z') return 0;
  const digits = zone.slice(1).replace(':', '');
  const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2));
  if (minutes > 18 * 60 || Number(digits.slice(2)) >= 60) return null;
  return (zone[0] === '-' ? -1 : 1) * minutes * 60_000;
}
