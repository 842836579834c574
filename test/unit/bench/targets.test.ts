/**
 * @module Unit tests: the targets table judges what the issue asks — start-up and idle memory at 100,000 registered
 * terminals, and the RSS of 10,000 active ones at its highest — on the measurements of a real run (bench/results.json).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateTargets, type RunResults } from '../../../bench/lib/report.js';

const recorded = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../../bench/results.json'), 'utf8')) as RunResults;
const fleet = recorded.fleet!;
const row = (targets: ReturnType<typeof evaluateTargets>, start: string) => targets.find((t) => t.name.startsWith(start))!;

describe('the targets table', () => {
  it('does not judge start-up or idle memory below 100,000 registered terminals', () => {
    const small = { ...fleet, startup: { ...fleet.startup, registered: 10_000 }, options: { ...fleet.options, terminals: 10_000, active: 10_000 } };
    const targets = evaluateTargets(small, recorded.openssl);
    expect(row(targets, 'Start-up').pass).toBeNull();
    expect(row(targets, 'Start-up').measured).toContain('--terminals 100000');
    expect(row(targets, 'Idle terminals').pass).toBeNull();
  });

  it('judges them at 100,000 registered with 10,000 active, idle memory on what the process holds itself', () => {
    const MiB = 2 ** 20;
    const at = (registeredMiB: number, registeredFileMiB: number) => ({
      ...fleet,
      startup: {
        ...fleet.startup, registered: 100_000, registeredSeconds: 0.7, registeredChecked: false,
        emptyRssBytes: 140 * MiB, emptyRssFileBytes: 50 * MiB, registeredRssBytes: registeredMiB * MiB, registeredRssFileBytes: registeredFileMiB * MiB,
      },
      options: { ...fleet.options, terminals: 100_000, active: 10_000 },
    });
    // A start that read the whole 458 MB store holds its pages: RSS +455 MiB, its own memory +15 MiB.
    const targets = evaluateTargets(at(595, 490), recorded.openssl);
    expect(row(targets, 'Start-up').pass).toBe(true);
    const idle = row(targets, 'Idle terminals');
    expect(idle.pass).toBe(true);
    expect(idle.measured).toMatch(/^\+15 MiB \(157 B per terminal; RSS with the mapped store's pages \+455 MiB\); 90,000 of them idle/);
    // 100 MiB more of its own for 100,000 terminals is 1 KiB each: actor memory that follows the fleet, not activity.
    expect(row(evaluateTargets(at(240, 50), recorded.openssl), 'Idle terminals').pass).toBe(false);
  });

  it('says so when the measured start was not one after a clean stop', () => {
    const checked = { ...fleet, startup: { ...fleet.startup, registeredChecked: true } };
    expect(row(evaluateTargets(checked, recorded.openssl), 'Start-up').measured).toContain('a start that checked every index (it found no seal of a clean stop');
  });

  it('reads the RSS of the active terminals at its highest, not right after the connect', () => {
    const rss = row(evaluateTargets(fleet, recorded.openssl), 'RSS with');
    const phases = [fleet.server.warmup, fleet.server.peak, fleet.server.steady, fleet.writes?.server.warmup, fleet.writes?.server.phase];
    const highest = Math.max(fleet.server.connect.serverRssBytes, ...phases.flatMap((p) => (p ? [p.server.rssMaxBytes] : [])));
    expect(highest).toBeGreaterThanOrEqual(fleet.server.connect.serverRssBytes);
    expect(rss.measured).toMatch(new RegExp(`^${Math.round(highest / 2 ** 20)} MiB at most`));
  });

  it("says how much of that RSS is the process's own memory and how much mapped files' pages", () => {
    const MiB = 2 ** 20;
    const phase = (p: typeof fleet.server.peak, maxMiB: number, ownMiB: number): typeof p => ({ ...p, server: { ...p.server, rssMaxBytes: maxMiB * MiB, rssOwnMaxBytes: ownMiB * MiB } });
    const withSplit = {
      ...fleet,
      server: {
        ...fleet.server,
        connect: { ...fleet.server.connect, serverRssBytes: 500 * MiB, serverRssFileBytes: 250 * MiB },
        warmup: phase(fleet.server.warmup!, 520, 280),
        peak: phase(fleet.server.peak, 600, 300),
        steady: phase(fleet.server.steady, 610, 290),
      },
      writes: null,
    };
    const rss = row(evaluateTargets(withSplit, recorded.openssl), 'RSS with');
    expect(rss.measured).toMatch(/^610 MiB at most/);
    expect(rss.measured).toContain("the process's own memory at most 300 MiB");
  });
});
