/**
 * @module The fleet benchmark end to end on a tiny fleet, so a change that breaks `npm run bench` fails here rather
 * than in front of the next performance engineer: identities generated, 12 terminals paired through gate and admin,
 * then the same pre-signed calls to the server, the node:https baseline and the floor. No timing is asserted: the
 * numbers of a 12-terminal run on a busy test machine mean nothing; only that every call was answered 2xx and the
 * reports were written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import type { RunResults } from '../../bench/lib/report.js';
import { runBench } from '../helpers/bench-run.js';

const TERMINALS = 12;
/** Every process the fleet measures: the server, the baseline and their two floors. */
const measured = (fleet: NonNullable<RunResults['fleet']>) => ({ server: fleet.server, baseline: fleet.baseline, floor: fleet.floor, 'node:https floor': fleet.httpsFloor! });
/** Enough calls that even the floor (about 50 µs a call) spends several of /proc's 10 ms CPU ticks. */
const PEAK_CALLS = 600;
const WARMUP_CALLS = 120;
const STEADY_CALLS = 48;
const STEADY_ROUNDS = 2;
const PEAK_SLICES = 3;
/** Three cash events per terminal: an actor's writes follow one another, as a terminal's banknotes do. */
const WRITE_CALLS = 36;

describe('npm run bench on a 12-terminal fleet', () => {
  let dir: string;
  let results: RunResults;
  let markdown: string;

  beforeAll(async () => {
    ({ dir, results, markdown } = await runBench('bench-smoke-', [
      '--skip-micro', '--terminals', String(TERMINALS), '--rsa-keys', '3',
      '--warmup-calls', String(WARMUP_CALLS), '--peak-calls', String(PEAK_CALLS), '--steady-calls', String(STEADY_CALLS), '--steady-rounds', String(STEADY_ROUNDS), '--peak-slices', String(PEAK_SLICES), '--write-calls', String(WRITE_CALLS), '--threads', '2',
    ]));
  }, 300_000);

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pairs the whole fleet through the real flow without an error', () => {
    const pairing = results.fleet!.pairing;
    expect(pairing.reused).toBe(false);
    expect(pairing.terminals).toBe(TERMINALS);
    expect(pairing.errors).toBe(0);
  });

  it('starts the server on an empty store and on the paired one in this run, for the idle-memory comparison', () => {
    const { startup } = results.fleet!;
    expect(startup.registered).toBe(TERMINALS);
    expect(startup.emptySeconds).toBeGreaterThan(0);
    expect(startup.registeredSeconds).toBeGreaterThan(0);
    // RSS of a live Node process, as read from /proc: tens of MiB, not a placeholder.
    expect(startup.emptyRssBytes).toBeGreaterThan(20 * 2 ** 20);
    expect(startup.registeredRssBytes).toBeGreaterThan(20 * 2 ** 20);
    // Of it, the mapped binaries and store: some, never all.
    expect(startup.registeredRssFileBytes).toBeGreaterThan(0);
    expect(startup.registeredRssFileBytes).toBeLessThan(startup.registeredRssBytes);
    // The measured start is one after a clean stop: had it checked every index, its figures would be a crash's.
    expect(startup.registeredChecked).toBe(false);
    // A reused fleet would bring no empty-store figure of its own: the marker keeps only the pairing.
    const fleetDir = fs.readdirSync(path.join(dir, 'cache')).find((name) => name.startsWith('fleet-'))!;
    const marker = JSON.parse(fs.readFileSync(path.join(dir, 'cache', fleetDir, 'bench-fleet.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(marker).sort()).toEqual(['pairing', 'version']);
  });

  it('answers every call of every phase 2xx on the server, the baseline and the floor', () => {
    const fleet = results.fleet!;
    for (const [name, target] of Object.entries(measured(fleet))) {
      expect(target.connect.failed, `${name} connect`).toBe(0);
      expect(target.connect.openConnections, `${name} connections held open`).toBe(TERMINALS);
      // The warm-up has its own pre-signed calls, before the peak's: a reused nonce would have failed as a replay.
      expect(target.warmup!.ok, `${name} warm-up`).toBeGreaterThanOrEqual(WARMUP_CALLS);
      for (const phase of [target.warmup!, target.peak, ...target.steadyRounds]) {
        expect(phase.failures, `${name}: ${phase.name}`).toEqual({});
        expect(phase.ok, `${name}: ${phase.name}`).toBe(phase.calls);
        expect(phase.endedBy, `${name}: ${phase.name}`).toBe('requests-used');
      }
      expect(target.peak.ok, `${name} peak`).toBeGreaterThanOrEqual(PEAK_CALLS);
    }
    expect(markdown).toContain(`warm-up before the peak, not measured (${WARMUP_CALLS} calls`);
  });

  it('measures openssl again after the fleet and reports how far the host\'s speed moved', () => {
    if (!results.openssl?.rsa2048) {
      expect(results.opensslAfter).toBeNull();
      return;
    }
    const after = results.opensslAfter!.rsa2048!.verify;
    expect(after).toBeGreaterThan(0);
    const percent = ((after / results.openssl.rsa2048.verify) * 100).toFixed(0);
    expect(markdown).toContain(`After the fleet, openssl RSA-2048 verify ${Math.round(after).toLocaleString('en-US')}/s, ${percent}% of the figure at the start`);
  });

  it('runs the open loop in rounds and judges the median one: of two, the slower', () => {
    const fleet = results.fleet!;
    for (const [name, target] of Object.entries(measured(fleet))) {
      expect(target.steadyRounds, name).toHaveLength(STEADY_ROUNDS);
      expect(target.steadyRounds.map((r) => r.name), name).toEqual([expect.stringContaining('round 1 of 2'), expect.stringContaining('round 2 of 2')]);
      expect(target.steadyRounds, name).toContainEqual(target.steady);
      expect(target.steady.latency.p99Ms, name).toBe(Math.max(...target.steadyRounds.map((r) => r.latency.p99Ms)));
      // Each round uses its own pre-signed calls: a reused nonce would have failed as a replay.
      expect(new Set(target.steadyRounds.map((r) => r.targetRate)).size, name).toBe(1);
    }
    expect(markdown).toContain('open-loop rounds');
  });

  it("alternates the server's and the baseline's peaks slice by slice, and runs the floor's whole", () => {
    const { server, baseline, floor, httpsFloor } = results.fleet!;
    expect(server.peak.slices).toHaveLength(PEAK_SLICES);
    expect(baseline.peak.slices).toHaveLength(PEAK_SLICES);
    expect(floor.peak.slices).toHaveLength(1);
    expect(httpsFloor!.peak.slices).toHaveLength(1);
    for (const [name, peak] of Object.entries({ server: server.peak, baseline: baseline.peak, floor: floor.peak, 'node:https floor': httpsFloor!.peak })) {
      // Every call of the peak, in one slice or another: 50 per terminal, split 17 + 16 + 17.
      expect(peak.ok, name).toBe(PEAK_CALLS);
      expect(peak.slices.reduce((n, s) => n + s.ok, 0), name).toBe(peak.ok);
      expect(peak.slices.reduce((t, s) => t + s.seconds, 0), name).toBeCloseTo(peak.seconds, 6);
    }
    // In turns: server slice 1, baseline slice 1, server slice 2, ...; each starts after the one before it ended.
    const turns = server.peak.slices.flatMap((s, j) => [s, baseline.peak.slices[j]!]);
    for (let k = 1; k < turns.length; k++) {
      expect(turns[k]!.startedAtMs).toBeGreaterThanOrEqual(turns[k - 1]!.startedAtMs + turns[k - 1]!.seconds * 1000 - 1);
    }
    // The CPU each process spent while the other's slices ran is measured, and only where there was an other.
    for (const t of [server, baseline]) expect(t.betweenSlices!.cpuSec).toBeGreaterThanOrEqual(0);
    expect(floor.betweenSlices).toBeUndefined();
    expect(httpsFloor!.betweenSlices).toBeUndefined();
    expect(markdown).toContain('the peak slice by slice');
    expect(results.targets[0]!.measured).toContain(`${PEAK_SLICES} slices each`);
  });

  it('reports the open loop\'s lead-in apart: its calls are in latencyAll only', () => {
    const fleet = results.fleet!;
    for (const [name, { steady, peak }] of Object.entries(measured(fleet))) {
      expect(peak.leadIn, name).toBeNull();
      expect(peak.latencyAll.count, name).toBe(peak.latency.count);
      expect(steady.leadIn!.ms, name).toBeGreaterThan(0);
      expect(steady.latencyAll.count, name).toBe(steady.ok);
      expect(steady.latency.count + steady.leadIn!.calls, name).toBe(steady.latencyAll.count);
    }
    expect(markdown).toContain('counting the lead-in');
  });

  it('runs the floors at the server\'s and the baseline\'s half-peak rates, and reports all four side by side', () => {
    const fleet = results.fleet!;
    expect(fleet.floor.steady.targetRate).toBe(fleet.server.steady.targetRate);
    expect(fleet.httpsFloor!.steady.targetRate).toBe(fleet.baseline.steady.targetRate);
    expect(markdown).toContain('floor (uWS + TLS, no checks) | node:https floor (no checks) |');
    expect(markdown).toContain('above its own floor');
    expect(results.targets.map((t) => t.name)).toContain('Signed master calls (RSA-2048) vs the node:https baseline');
    // Four processes measured from outside: a zero would mean the CPU sampling read the wrong process. Summed over
    // the run (handshakes included): a short phase of the floor alone can fall inside one clock tick.
    for (const [name, target] of Object.entries(measured(fleet))) {
      const cpuSec = target.connect.serverCores * target.connect.seconds + target.peak.server.cpuSec + target.steady.server.cpuSec;
      expect(cpuSec, name).toBeGreaterThan(0);
      expect(target.peak.server.rssStartBytes, name).toBeGreaterThan(0);
    }
  });

  it("takes the server's own count of each phase per thread, which agrees with the generator's", () => {
    const { server, baseline } = results.fleet!;
    expect(baseline.fronts).toBeUndefined();
    for (const [phase, fronts] of [[server.peak, server.fronts!.peak], [server.steady, server.fronts!.steady]] as const) {
      expect(fronts.map((f) => f.thread), phase.name).toEqual([0, 1]);
      // Heartbeats are 404s outside the services, so the server's 2xx count is exactly the generator's calls.
      expect(fronts.reduce((n, f) => n + f.answered, 0), phase.name).toBe(phase.ok);
      expect(fronts.reduce((n, f) => n + f.handedOn, 0), phase.name).toBe(fronts.reduce((n, f) => n + f.received, 0));
      expect(fronts.reduce((n, f) => n + f.actors, 0), phase.name).toBe(TERMINALS);
    }
    expect(markdown).toContain('calls handed to the lease holder on another server thread');
  });

  it("collects the generator's garbage before every measured slice, outside it, and reports its own GC pauses", () => {
    const fleet = results.fleet!;
    for (const [name, target] of Object.entries(measured(fleet))) {
      for (const phase of [target.peak, ...target.steadyRounds]) {
        const { gcPauses, gcPauseMaxMs } = phase.generator;
        expect(gcPauses, `${name}: ${phase.name}`).toBe(phase.slices.reduce((n, s) => n + s.generatorGcPauses, 0));
        expect(gcPauseMaxMs === 0 ? gcPauses === 0 : gcPauses > 0 && gcPauseMaxMs > 0, `${name}: ${phase.name}`).toBe(true);
        for (const slice of phase.slices) {
          // The full GC ran (gc is exposed to the generator)…
          expect(slice.generatorCollectedMs, `${name}: ${phase.name}`).toBeGreaterThan(0);
          // …and is not counted as a pause of the slice: a few hundred calls allocate far less than a GC would need.
          expect(slice.generatorGcPauses, `${name}: ${phase.name}`).toBe(0);
        }
      }
    }
    expect(fleet.server.peak.slices).toHaveLength(PEAK_SLICES);
    expect(markdown).toContain('load generator GC pauses at peak / in all open-loop rounds');
  });

  it('reports how much of each process\'s work waited for a CPU, read from every thread\'s schedstat', () => {
    const fleet = results.fleet!;
    const kernelKeepsIt = fs.existsSync(`/proc/${process.pid}/task/${process.pid}/schedstat`);
    for (const [name, target] of Object.entries(measured(fleet))) {
      for (const phase of [target.peak, ...target.steadyRounds]) {
        for (const waited of [phase.server.waitingCores, phase.generator.waitingCores]) {
          if (!kernelKeepsIt) expect(waited, `${name}: ${phase.name}`).toBeNull();
          else expect(Number.isFinite(waited) && waited! >= 0 && waited! < 64, `${name}: ${phase.name}: ${waited}`).toBe(true);
        }
      }
    }
    expect(markdown).toContain('waiting for a CPU');
  });

  it('writes the same cash events durably to the server and then the baseline, finds every one in the store, then removes them', async () => {
    const writes = results.fleet!.writes!;
    for (const [name, target] of Object.entries(writes)) {
      expect(target.phase.failures, name).toEqual({});
      expect(target.phase.ok, name).toBe(WRITE_CALLS);
      expect(target.phase.endedBy, name).toBe('requests-used');
      // One event per terminal before, not measured: V8 compiles the write path there, as the pings' warm-up does theirs.
      expect(target.warmup.failures, name).toEqual({});
      expect(target.warmup.ok, name).toBe(TERMINALS);
      // Counted after each target stopped, and then removed: had the server's stayed, the baseline's count would hold them too.
      expect(target.stored, name).toEqual({ thisRun: TERMINALS + WRITE_CALLS, removed: TERMINALS + WRITE_CALLS });
    }
    const fleetDir = fs.readdirSync(path.join(dir, 'cache')).find((name) => name.startsWith('fleet-'))!;
    const store = Store.open(path.join(dir, 'cache', fleetDir));
    try {
      expect(store.cashEvents.getKeysCount()).toBe(0);
      // The fleet's own store, not an empty one opened at a wrong path.
      expect(store.terminals.getKeysCount()).toBe(TERMINALS);
    } finally {
      await store.close();
    }
    expect(markdown).toContain('## Durable writes: signed cash events');
    expect(markdown).toMatch(new RegExp(`${WRITE_CALLS} of ${WRITE_CALLS}.*${WRITE_CALLS} of ${WRITE_CALLS}`));
  });
});
