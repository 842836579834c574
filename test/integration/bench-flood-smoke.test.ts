/**
 * @module `npm run flood` end to end on a few hundred refusals, so a change that breaks it fails here rather than
 * when a performance engineer runs it. No timing is asserted; what is checked is what the figures rest on: every
 * answer a 401, and log bytes only where every refusal is logged.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/server-process.js';

const run = promisify(execFile);
const FLOOD = path.join(ROOT, 'dist', 'bench', 'refusal-flood.js');

describe('npm run flood, briefly', () => {
  it('measures both kinds under both settings, all refused, and compares them', async () => {
    // The budget's window is an hour, not the default 10 s: windows end on a timer, and a flood slow enough to span
    // several 10 s windows was allowed 100 lines per thread in each, so how many bytes it logged depended on the
    // machine's speed. Within one window it is at most 100 lines per thread, however long the flood takes.
    const { stdout } = await run(process.execPath, [FLOOD, '--refusals', '1000', '--warmup', '0', '--connections', '4', '--windows', '3600,0'], { timeout: 120_000 });
    const rows = stdout.split('\n').filter((l) => /^\| (replay|unknown) \|/.test(l)).map((l) => l.split('|').map((c) => c.trim()));
    expect(rows.map((r) => `${r[1]} ${r[2]} ${r[3]}`)).toEqual(['replay 3600 1000 × 401', 'unknown 3600 1000 × 401', 'replay 0 1000 × 401', 'unknown 0 1000 × 401']);
    // With the budget at most 100 lines per thread (2 threads) of the 1,000: under 50 bytes a refusal; with window 0
    // every refusal has its line, about 220 bytes.
    for (const row of rows) {
      const bytesPerRefusal = Number(row[6]);
      if (row[2] === '0') expect(bytesPerRefusal).toBeGreaterThan(150);
      else expect(bytesPerRefusal).toBeLessThan(150);
      expect(Number(row[5])).toBeGreaterThan(0);
    }
    expect(stdout).toMatch(/replay: window 0 costs [\d.]+× the server CPU per refusal of window 3600/);
    expect(stdout).toMatch(/unknown: window 0 costs [\d.]+× the server CPU per refusal of window 3600/);
  }, 150_000);

  it('refuses a bad option with usage and exit code 2', async () => {
    const failed = await run(process.execPath, [FLOOD, '--windows', 'often']).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toContain('--windows must be a whole number');
  });
});
