/**
 * @module Unit tests: a CSV cell of the cash-event export, quoted when it must be, and never a spreadsheet formula; the
 * export's --since/--until, read as cas audit reads them.
 */
import { describe, expect, it } from 'vitest';
import { csvCell, parseExportDate } from '../../../src/admin/cash-export.js';
import { UsageError } from '../../../src/cli-errors.js';

describe('csvCell', () => {
  it('writes plain tokens and numbers as they are', () => {
    expect(csvCell('ATM-0001')).toBe('ATM-0001');
    expect(csvCell('ev-001')).toBe('ev-001');
    expect(csvCell(0.5)).toBe('0.5');
    expect(csvCell(-1)).toBe('-1');
  });

  it('starts a text cell a spreadsheet would take for a formula with an apostrophe', () => {
    for (const id of ['-A1', '=1+1', '+A1', '@SUM(A1)', '\tx']) expect(csvCell(id)).toBe(`'${id}`);
  });

  it('quotes a cell holding a quote, a comma or a line break', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('=a,b')).toBe(`"'=a,b"`);
  });
});

describe('parseExportDate', () => {
  it('reads a date alone as its whole day, as cas audit does: --since D --until D is that day', () => {
    expect(parseExportDate('since', '2026-11-01')).toBe('2026-11-01T00:00:00.000Z');
    expect(parseExportDate('until', '2026-11-30')).toBe('2026-12-01T00:00:00.000Z');
    expect(parseExportDate('until', '2026-12-06')).toBe('2026-12-07T00:00:00.000Z');
  });

  it('reads a time as exact, in UTC unless it has an offset', () => {
    expect(parseExportDate('until', '2026-12-01T08:00')).toBe('2026-12-01T08:00:00.000Z');
    expect(parseExportDate('since', '2026-12-01T09:00:00+01:00')).toBe('2026-12-01T08:00:00.000Z');
  });

  it('refuses a date that does not exist rather than rolling it over into the next month', () => {
    for (const text of ['2026-02-30', '2026-13-01', '2026-12-01T24:00', '1 Dec', '']) {
      expect(() => parseExportDate('since', text), text).toThrow(UsageError);
    }
    expect(() => parseExportDate('since', '2026-02-30')).toThrow('--since must be a date (2026-03-05) or an ISO time');
  });
});
