/**
 * @module `npm run bench:endurance` end to end on a tiny fleet: 32 terminals paired through gate and admin, then four
 * waves of 8 that connect, call master with calls signed live, and leave, against a server whose actors go idle after
 * 2 s. No timing is asserted; what is: every call answered 2xx, every terminal called, and the actors of past waves
 * evicted — with none evicted, the fourth wave would find all 32 in memory.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnduranceResults } from '../../bench/lib/endurance-report.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..', '..');
const TERMINALS = 32;
const WAVE = 8;

describe('npm run bench:endurance on a 32-terminal fleet', () => {
  let dir: string;
  let results: EnduranceResults;
  let markdown: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-endurance-'));
    await run(process.execPath, [
      path.join(ROOT, 'dist', 'bench', 'endurance.js'), '--terminals', String(TERMINALS), '--active', '8', '--rsa-keys', '2',
      '--seconds', '20', '--rate', '40', '--wave', String(WAVE), '--wave-seconds', '5', '--actor-idle', '2', '--sample-seconds', '2', '--threads', '2',
      '--out', dir, '--cache-dir', path.join(dir, 'cache'),
    ], { cwd: ROOT, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 });
    results = JSON.parse(fs.readFileSync(path.join(dir, 'endurance.json'), 'utf8')) as EnduranceResults;
    markdown = fs.readFileSync(path.join(dir, 'ENDURANCE.md'), 'utf8');
  }, 240_000);

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers every live-signed call 2xx and reaches every terminal of the fleet', () => {
    const { load } = results;
    expect(load.failures).toEqual({});
    expect(load.ok).toBe(load.calls);
    // 40 calls a second for 20 s; a call due while its wave's every connection was busy is skipped, and counted.
    expect(load.calls + load.skipped).toBeGreaterThanOrEqual(790);
    expect(load.waves).toBe(4);
    expect(load.terminals).toBe(TERMINALS);
    expect(load.signed).toBeGreaterThanOrEqual(load.calls);
  });

  it('reads the server every sample: its memory, its own part, and its actors, which past waves leave', () => {
    expect(results.rows.length).toBeGreaterThanOrEqual(8);
    for (const row of results.rows) {
      expect(row.actors, `actors at ${row.elapsedSec} s`).not.toBeNull();
      expect(row.rssOwnBytes).toBeGreaterThan(20 * 2 ** 20);
      expect(row.rssOwnBytes).toBeLessThan(row.rssBytes);
    }
    const { actorsMax } = results.analysis;
    expect(actorsMax).toBeGreaterThanOrEqual(WAVE);
    // Kept in memory, the fourth wave's start would hold all 32.
    expect(actorsMax).toBeLessThan(TERMINALS);
    expect(markdown).toContain('Actors follow activity');
    expect(markdown).toMatch(/\| 2 \| 1 \| \d+ \|/);
  });

  it('refuses a wave that would leave its connections idle long enough for the server to close them', async () => {
    const refused = await run(process.execPath, [path.join(ROOT, 'dist', 'bench', 'endurance.js'), '--rate', '10', '--wave', '1000'], { cwd: ROOT }).then(() => null, (error: { code: number; stderr: string }) => error);
    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toContain('each terminal of a wave would call every 100.0 s');
  });
});
