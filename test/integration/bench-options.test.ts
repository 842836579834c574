/**
 * @module `npm run bench`'s options are checked before anything is measured: a typo costs a line and exit code 2,
 * not the minutes of openssl speed and the micro benchmarks before the fleet would have refused it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..', '..');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-options-'));

async function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(ROOT, 'dist', 'bench', 'run.js'), '--out', out, '--cache-dir', path.join(out, 'cache'), ...args], { cwd: ROOT, timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('npm run bench with a bad option', () => {
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  it.each([
    [['--peak-slices', '0'], '--peak-slices must be a positive whole number, got "0"'],
    [['--warmup-calls=-1'], '--warmup-calls must be a whole number, 0 or more, got "-1"'],
    [['--steady-rate', '0'], '--steady-rate must be a positive whole number, got "0"'],
    [['--write-calls', 'many'], '--write-calls must be a whole number, 0 or more, got "many"'],
    [['--micro', 'fingerprint,nope', '--skip-fleet'], 'unknown micro benchmark "nope"'],
    [['--bogus'], "Unknown option '--bogus'"],
    [['--terminals'], "Option '--terminals <value>' argument missing"],
  ])('%j: says what is wrong in one line, exits 2 and measures nothing', async (args, message) => {
    const { code, stdout, stderr } = await bench(args);
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain(message);
    expect(stderr).toContain('(see --help)');
    // Not even the machine line: nothing ran before the refusal, and no report was written.
    expect(stdout).toBe('');
    expect(fs.existsSync(path.join(out, 'RESULTS.md'))).toBe(false);
  });

  it('lists --peak-slices in --help', async () => {
    const { code, stdout } = await bench(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/--peak-slices N\s+the server's and the baseline's peaks alternate/);
    expect(stdout).toMatch(/--steady-rate N\s+the server's \(and the floor's\) open-loop rate/);
    expect(stdout).toMatch(/--write-calls N\s+signed cash events for the server/);
  });
});
