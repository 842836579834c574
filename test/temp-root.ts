/**
 * @module vitest globalSetup: every temp dir of a run (data dirs, `cas` session dirs, terminal states, browser profiles)
 * goes under one directory that the run removes at its end. Before, each run left about a hundred data dirs in /tmp,
 * their keys and stores included: 3,000 of them after a few weeks of runs on one machine.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let root: string | null = null;

export function setup(): void {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pairing-tests-'));
  // os.tmpdir() reads TMPDIR: the test workers, the servers and CLIs they spawn, and Chromium all inherit it.
  process.env.TMPDIR = root;
}

export function teardown(): void {
  if (root === null) return;
  if (process.env.KEEP_TEST_TMP === '1') {
    console.log(`test temp dirs kept in ${root} (KEEP_TEST_TMP=1)`);
    return;
  }
  fs.rmSync(root, { recursive: true, force: true, maxRetries: 3 });
}
