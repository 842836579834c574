/** @module The dates and times `audit.list` is bounded by: UTC unless an offset is given, a day whole, no date that does not exist. */
import { describe, expect, it } from 'vitest';
import { parseTimeBound } from '../../../src/protocol/time-bounds.js';

const at = (iso: string): number => Date.parse(iso);

describe('parseTimeBound', () => {
  it('reads a date as its whole day, in UTC: since from its midnight, until to the next', () => {
    expect(parseTimeBound('2026-03-05', 'since')).toBe(at('2026-03-05T00:00:00Z'));
    expect(parseTimeBound('2026-03-05', 'until')).toBe(at('2026-03-06T00:00:00Z'));
    expect(parseTimeBound('2026-12-31', 'until')).toBe(at('2027-01-01T00:00:00Z'));
  });

  it('reads a time exactly, in UTC without an offset, and with the offset it has', () => {
    expect(parseTimeBound('2026-03-05T14:30', 'until')).toBe(at('2026-03-05T14:30:00Z'));
    expect(parseTimeBound('2026-03-05 14:30:07Z', 'since')).toBe(at('2026-03-05T14:30:07Z'));
    expect(parseTimeBound('2026-03-05T14:30:00.25+01:00', 'since')).toBe(at('2026-03-05T13:30:00.250Z'));
    expect(parseTimeBound('2026-03-05T14:30:00-0530', 'since')).toBe(at('2026-03-05T20:00:00Z'));
  });

  it('refuses what is not a real date or time', () => {
    for (const text of ['2026-02-30', '2026-13-01', '2026-03-05T24:00', '2026-03-05T12:60', '2026-03-05T12:00+19:00', '2026-03-05T12:00+01:60',
      'yesterday', '5.3.2026', '2026-3-5', '', '2026-03-05T12']) {
      expect(parseTimeBound(text, 'since'), text).toBeNull();
    }
  });
});
