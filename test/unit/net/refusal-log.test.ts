/**
 * @module Unit tests: refused terminal requests are logged one by one up to a budget per kind and window, counted
 * beyond it, and summarised at the window's end with the most frequent senders; memory stays bounded whoever sends.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.js';
import { MAX_SENDERS_COUNTED, RefusalLog, TOP_SENDERS, type Refusal } from '../../../src/net/refusal-log.js';

type Line = Record<string, unknown>;

const open: RefusalLog[] = [];
afterEach(() => {
  for (const refusals of open.splice(0)) refusals.close();
});

/** A RefusalLog whose windows end only when the test says (an hour each), writing into an array. */
function capture(perWindow: number): { refusals: RefusalLog; lines: Line[] } {
  const lines: Line[] = [];
  const log = createLogger({ level: 'info', pretty: false }, { write: (line: string) => void lines.push(JSON.parse(line) as Line) });
  const refusals = new RefusalLog(log, 3_600_000, perWindow);
  open.push(refusals);
  return { refusals, lines };
}

const refusal = (over: Partial<Refusal> = {}): Refusal =>
  ({ service: 'master', path: '/api/v1/ping', status: 401, error: 'unauthenticated', serial: 'ATM-1', remoteAddress: '10.0.0.1', ...over });

const one = (lines: Line[]) => lines.filter((l) => l.msg === 'terminal request refused');
const summaries = (lines: Line[]) => lines.filter((l) => l.msg === 'terminal requests refused beyond the log budget');

describe('RefusalLog', () => {
  it('logs each refusal with its code, serial and address while under the budget, and no summary', () => {
    const { refusals, lines } = capture(3);
    refusals.record(refusal());
    refusals.record(refusal({ serial: undefined, remoteAddress: '10.0.0.2' }));
    refusals.endWindow();
    expect(one(lines)).toEqual([
      expect.objectContaining({ level: 30, service: 'master', path: '/api/v1/ping', status: 401, error: 'unauthenticated', serial: 'ATM-1', remoteAddress: '10.0.0.1' }),
      expect.objectContaining({ remoteAddress: '10.0.0.2' }),
    ]);
    expect(summaries(lines)).toEqual([]);
  });

  it('shows a serial header longer than a serial can be by its first 64 characters and its length', () => {
    const { refusals, lines } = capture(3);
    refusals.record(refusal({ serial: 'S'.repeat(15_000) }));
    const [line] = one(lines);
    expect(line!.serial).toBe(`${'S'.repeat(64)}… (15000 characters)`);
    expect(JSON.stringify(line).length).toBeLessThan(600);
  });

  it('counts past the budget and names the most frequent senders in one warning at the window\'s end', () => {
    const { refusals, lines } = capture(2);
    for (let i = 0; i < 2; i++) refusals.record(refusal());
    // 10 from .9, 7 from .8, then one each from 6 other addresses.
    for (let i = 0; i < 10; i++) refusals.record(refusal({ remoteAddress: '10.0.0.9', serial: 'ATM-9' }));
    for (let i = 0; i < 7; i++) refusals.record(refusal({ remoteAddress: '10.0.0.8', serial: undefined }));
    for (let i = 0; i < 6; i++) refusals.record(refusal({ remoteAddress: `10.0.1.${i}`, serial: `ATM-X${i}` }));
    expect(one(lines)).toHaveLength(2);
    expect(summaries(lines)).toEqual([]);
    refusals.endWindow();
    const [summary] = summaries(lines);
    expect(summary).toMatchObject({
      level: 40, service: 'master', status: 401, error: 'unauthenticated', logged: 2, suppressed: 23, distinctAddresses: 8, windowSec: 3_600,
    });
    expect((summary!.topAddresses as unknown[]).slice(0, 2)).toEqual([{ address: '10.0.0.9', count: 10 }, { address: '10.0.0.8', count: 7 }]);
    expect(summary!.topAddresses).toHaveLength(TOP_SENDERS);
    expect((summary!.topSerials as unknown[]).slice(0, 2)).toEqual([{ serial: 'ATM-9', count: 10 }, { serial: '(none)', count: 7 }]);
    expect(summary).not.toHaveProperty('fromAddressesNotCounted');
  });

  it('keeps a budget per service and error code, and starts each window afresh', () => {
    const { refusals, lines } = capture(1);
    refusals.record(refusal());
    refusals.record(refusal({ error: 'not_paired', status: 403 }));
    refusals.record(refusal({ service: 'gate', path: '/api/v1/pairing' }));
    refusals.record(refusal());
    expect(one(lines)).toHaveLength(3);
    refusals.endWindow();
    expect(summaries(lines)).toEqual([expect.objectContaining({ service: 'master', error: 'unauthenticated', suppressed: 1 })]);
    refusals.record(refusal());
    expect(one(lines)).toHaveLength(4);
    refusals.endWindow();
    expect(summaries(lines)).toHaveLength(1);
  });

  it('bounds what it keeps for a flood from more addresses than it counts, and says how many came from the rest', () => {
    const { refusals, lines } = capture(0);
    const extra = 250;
    for (let i = 0; i < MAX_SENDERS_COUNTED + extra; i++) refusals.record(refusal({ remoteAddress: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, serial: `S${i}` }));
    refusals.endWindow();
    const [summary] = summaries(lines);
    expect(summary).toMatchObject({ suppressed: MAX_SENDERS_COUNTED + extra, distinctAddresses: MAX_SENDERS_COUNTED, fromAddressesNotCounted: extra });
  });

  it('logs every refusal on its own when the window is 0', () => {
    const lines: Line[] = [];
    const log = createLogger({ level: 'info', pretty: false }, { write: (line: string) => void lines.push(JSON.parse(line) as Line) });
    const refusals = new RefusalLog(log, 0);
    open.push(refusals);
    for (let i = 0; i < 1_000; i++) refusals.record(refusal());
    refusals.close();
    expect(one(lines)).toHaveLength(1_000);
    expect(summaries(lines)).toEqual([]);
  });

  it('counts a serial header by its first 64 characters, and logs the last window when closed', () => {
    const { refusals, lines } = capture(0);
    const long = 'A'.repeat(5_000);
    refusals.record(refusal({ serial: long }));
    refusals.record(refusal({ serial: `${long}B` }));
    refusals.close();
    const [summary] = summaries(lines);
    expect(summary!.topSerials).toEqual([{ serial: 'A'.repeat(64), count: 2 }]);
  });
});
