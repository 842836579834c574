/** @module Runs `npm run bench` (dist/bench/run.js) into a temp dir of its own, as the bench smoke tests do, and reads both reports. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { RunResults } from '../../bench/lib/report.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..', '..');

export interface BenchRun {
  /** Holds the reports and the run's cache (identities, paired fleets); the caller removes it. */
  dir: string;
  results: RunResults;
  markdown: string;
}

/** `args` are the bench's own flags; `--out` and `--cache-dir` point into the temp dir, so the repository's bench/ is untouched. */
export async function runBench(prefix: string, args: string[]): Promise<BenchRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    await run(process.execPath, [path.join(ROOT, 'dist', 'bench', 'run.js'), ...args, '--out', dir, '--cache-dir', path.join(dir, 'cache')],
      { cwd: ROOT, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 });
    return {
      dir,
      results: JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as RunResults,
      markdown: fs.readFileSync(path.join(dir, 'RESULTS.md'), 'utf8'),
    };
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
