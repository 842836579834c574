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

  it('judges them at 100,000 registered with 10,000 active', () => {
    const large = { ...fleet, startup: { ...fleet.startup, registered: 100_000, registeredSeconds: 0.7 }, options: { ...fleet.options, terminals: 100_000, active: 10_000 } };
    const targets = evaluateTargets(large, recorded.openssl);
    expect(row(targets, 'Start-up').pass).toBe(true);
    const idle = row(targets, 'Idle terminals');
    expect(idle.pass).toBe(fleet.startup.registeredRssBytes - fleet.startup.emptyRssBytes < 1024 * 100_000);
    expect(idle.measured).toContain('90,000 of them idle');
  });

  it('reads the RSS of the active terminals at its highest, not right after the connect', () => {
    const rss = row(evaluateTargets(fleet, recorded.openssl), 'RSS with');
    const phases = [fleet.server.warmup, fleet.server.peak, fleet.server.steady, fleet.writes?.server.warmup, fleet.writes?.server.phase];
    const highest = Math.max(fleet.server.connect.serverRssBytes, ...phases.flatMap((p) => (p ? [p.server.rssMaxBytes] : [])));
    expect(highest).toBeGreaterThanOrEqual(fleet.server.connect.serverRssBytes);
    expect(rss.measured).toMatch(new RegExp(`^${Math.round(highest / 2 ** 20)} MiB at most`));
  });
});
