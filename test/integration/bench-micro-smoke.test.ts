/**
 * @module The micro benchmarks end to end, each for a few milliseconds, so a change that breaks one of them fails
 * here rather than in the next `npm run bench`. They run the project's own code (store, actors, crypto pool), so a
 * benchmark that throws is often a real regression. No timing is asserted: 20 ms per task means nothing.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResults } from '../../bench/lib/report.js';
import { runBench } from '../helpers/bench-run.js';

const SUITES = ['fingerprint', 'signature-verify', 'master-call', 'http-layer', 'pairing-code', 'lmdb-lookup', 'nonce-ring', 'actor-hop', 'thread-hop', 'pool-round-trip', 'refusal-log', 'cash-tally'];

describe('npm run bench -- --skip-fleet, every micro benchmark briefly', () => {
  let dir: string;
  let results: RunResults;
  let markdown: string;

  beforeAll(async () => {
    ({ dir, results, markdown } = await runBench('bench-micro-', ['--skip-fleet', '--micro-time', '20', '--openssl-seconds', '1']));
  }, 300_000);

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs every suite, and every task of each measures something', () => {
    expect(results.micro.map((m) => m.id)).toEqual(SUITES);
    for (const suite of results.micro) {
      expect(suite.rows.length, suite.id).toBeGreaterThan(0);
      for (const row of suite.rows) {
        expect(Number.isFinite(row.opsPerSec) && row.opsPerSec > 0, `${suite.id}: ${row.name}`).toBe(true);
        expect(row.samples, `${suite.id}: ${row.name}`).toBeGreaterThan(0);
        expect(Number.isFinite(row.heapBytesPerOp) && row.heapBytesPerOp >= 0, `${suite.id}: ${row.name}`).toBe(true);
      }
    }
  });

  it('holds the whole master call against the verify it contains, in the report', () => {
    const masterCall = results.micro.find((m) => m.id === 'master-call')!;
    expect(masterCall.rows.map((r) => r.name)).toEqual([
      expect.stringContaining('verifySignature alone'),
      expect.stringContaining('authenticateMaster'),
      expect.stringContaining('the whole call'),
    ]);
    // The whole call does the verify and more: it allocates more, a count of zero or a mixed-up row would not.
    const [verify, , whole] = masterCall.rows;
    expect(whole!.heapBytesPerOp).toBeGreaterThan(verify!.heapBytesPerOp + 1000);
    expect(markdown).toContain('**master-call**');
    expect(markdown).toContain('| heap B/op |');
    expect(results.fleet).toBeNull();
  });
});
