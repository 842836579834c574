/** @module Unit tests: a CSV cell of the cash-event export, quoted when it must be, and never a spreadsheet formula. */
import { describe, expect, it } from 'vitest';
import { csvCell } from '../../../src/admin/cash-export.js';

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
