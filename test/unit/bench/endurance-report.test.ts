/** @module Unit tests: how an endurance run's samples are read (bench/lib/endurance-report.ts): the actors' bound, the warm-up, the memory trend. */
import { describe, expect, it } from 'vitest';
import { describeMachine } from '../../../bench/lib/machine.js';
import { analyse, slope, summaryLines, TREND_MIN_SEC, type EnduranceResults, type EnduranceRow, type EnduranceSettings } from '../../../bench/lib/endurance-report.js';

const MiB = 2 ** 20;
const settings: EnduranceSettings = { terminals: 10_000, rate: 1_000, waveSize: 1_000, waveSeconds: 30, seconds: 3_600, sampleSeconds: 60, actorIdleSec: 60, threads: 2, signThreads: 1 };

/** A sample every 60 s: own memory `own(t)` MiB, `actors` in memory. */
function rows(count: number, own: (t: number) => number, actors = 3_000): EnduranceRow[] {
  return Array.from({ length: count }, (_, k) => {
    const t = (k + 1) * 60;
    return {
      atMs: t * 1000, elapsedSec: t, seconds: 60, ok: 60_000, failures: {}, latency: { count: 60_000, meanMs: 1, p50Ms: 1, p99Ms: t === 600 ? 9 : 3, p999Ms: 5, maxMs: 12 },
      firstCalls: { count: 2_000, meanMs: 2, p50Ms: 2, p99Ms: 8, p999Ms: 9, maxMs: 12 }, laterCalls: { count: 58_000, meanMs: 1, p50Ms: 1, p99Ms: 2, p999Ms: 5, maxMs: 6 },
      wave: Math.floor(t / 30), openConnections: 1_000, generatorCores: 0.3, generatorLoopDelayP99Ms: 1, generatorLoopDelayMaxMs: t === 600 ? 4 : 2, generatorGcPauseMaxMs: 1, serverCores: 0.5,
      rssBytes: (own(t) + 200) * MiB, rssOwnBytes: own(t) * MiB, actors, heapUsedBytes: 50 * MiB, trackedAddresses: 2_000, cachedKeys: 20_000,
      serverLagMaxMs: t === 600 ? 250 : 3,
    };
  });
}

describe('the endurance report', () => {
  it('fits a least-squares slope, and gives none for fewer than three points', () => {
    expect(slope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }])).toBeCloseTo(2);
    expect(slope([{ x: 0, y: 4 }, { x: 1, y: 2 }, { x: 2, y: 4 }, { x: 3, y: 2 }])).toBeCloseTo(-0.4);
    expect(slope([{ x: 0, y: 1 }, { x: 1, y: 3 }])).toBeNull();
  });

  it('bounds the actors by a wave and the waves before it still within the idle time and its sweep', () => {
    // 60 s idle + 30 s sweep = 90 s: three waves of 30 s before the calling one.
    const a = analyse(settings, rows(60, () => 300).map((r, k) => ({ ...r, cachedKeys: k === 7 ? 25_000 : r.cachedKeys, trackedAddresses: k === 30 ? null : r.trackedAddresses })));
    expect(a.cachedKeysMax).toBe(25_000);
    expect(a.trackedAddressesMax).toBe(2_000);
    expect(a.actorBound).toBe(4_000);
    expect(a.warmupSec).toBe(150);
    expect(a.actorsMax).toBe(3_000);
    // Never more than the fleet.
    expect(analyse({ ...settings, terminals: 2_500 }, rows(60, () => 300)).actorBound).toBe(2_500);
  });

  it('reads the memory after the warm-up only, and its trend only over a long enough stretch', () => {
    // The warm-up climbs 100 MiB; afterwards memory grows 1 MiB a minute: 60 MiB an hour.
    const climbing = analyse(settings, rows(60, (t) => (t < 150 ? 100 + t / 2 : 300 + t / 60)));
    expect(climbing.ownMemory!.firstBytes).toBe((300 + 180 / 60) * MiB);
    expect(climbing.ownMemory!.trendBytesPerHour! / MiB).toBeCloseTo(60);
    // With who was held up then: the server's thread 250 ms, the generator 4 ms.
    expect(climbing.worstP99).toEqual({ ms: 9, elapsedSec: 600, serverLagMaxMs: 250, generatorLoopDelayMaxMs: 4, generatorGcPauseMaxMs: 1 });
    // Flat: no trend to speak of.
    expect(Math.abs(analyse(settings, rows(60, () => 300)).ownMemory!.trendBytesPerHour!)).toBeLessThan(1);
    // Too short after the warm-up: no trend at all.
    const short = analyse(settings, rows(Math.floor((150 + TREND_MIN_SEC) / 60) - 1, (t) => 300 + t));
    expect(short.ownMemory!.seconds).toBeLessThan(TREND_MIN_SEC);
    expect(short.ownMemory!.trendBytesPerHour).toBeNull();
  });

  it('tells memory that fills and stays from a leak by the trend of the second half alone', () => {
    // After the warm-up (150 s) to 3,600 s: halfway at 1,875 s.
    const leak = analyse(settings, rows(60, (t) => 300 + t / 60)).ownMemory!;
    expect(leak.trendBytesPerHour! / MiB).toBeCloseTo(60);
    expect(leak.lastHalfTrendBytesPerHour! / MiB).toBeCloseTo(60);
    // Fills until 1,800 s, then flat: the whole stretch still slopes up, its second half does not.
    const fills = analyse(settings, rows(60, (t) => 300 + Math.min(t, 1_800) / 60)).ownMemory!;
    expect(fills.trendBytesPerHour! / MiB).toBeGreaterThan(20);
    expect(fills.lastHalfTrendBytesPerHour! / MiB).toBeCloseTo(0);
    // A second half shorter than the trend's least stretch has no trend of its own.
    const shortHalf = analyse(settings, rows(Math.floor((150 + 2 * TREND_MIN_SEC) / 60) - 1, (t) => 300 + t)).ownMemory!;
    expect(shortHalf.trendBytesPerHour).not.toBeNull();
    expect(shortHalf.lastHalfTrendBytesPerHour).toBeNull();
  });

  it('says so when actors outnumber the bound: past waves were not evicted', () => {
    const r = rows(60, () => 300, 9_000);
    const results: EnduranceResults = {
      when: '2026-12-07T00:00:00.000Z', machine: describeMachine(),
      command: 'npm run bench:endurance', settings,
      load: { calls: 10, ok: 10, failures: {}, latency: r[0]!.latency, firstCalls: r[0]!.firstCalls, laterCalls: r[0]!.laterCalls, waves: 120, terminals: 7_500, skipped: 0, handshakeMs: 1, preconnectSec: 10, signed: 10, signsPerSec: 1_000 },
      rows: r, analysis: analyse(settings, r),
    };
    const text = summaryLines(results).join('\n');
    expect(text).toContain('at most **9,000** in memory, of the 7,500 distinct terminals that called');
    expect(text).toContain('above it: actors of past waves were not evicted');
    expect(text).toMatch(/trend \+0 MiB an hour, over its second half alone \+0 MiB an hour/);
    expect(text).toContain('tracked at most 2,000 addresses');
    expect(text).toContain('kept at most 20,000 terminal keys parsed');
    expect(text).toContain('first call of its wave (2,000 calls: its actor activated again, its key parsed when not kept) p50 2.00 / p99 8.00 / max 12.00 ms, the others p50 1.00 / p99 2.00 / max 6.00 ms');
    expect(text).toContain('a p99 of 9.00 ms (at 600 s; the longest a server thread\'s loop was late then 250 ms, the generator\'s 4.00 ms, its longest GC pause 1.00 ms)');
  });
});
