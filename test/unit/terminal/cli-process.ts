/** @module For the tests of the compiled `terminal` CLI: running it as a child process, and temp dirs removed after each test. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach } from 'vitest';

/** Built by `npx tsc -p tsconfig.json`; the tests run only when the build exists. */
export const CLI = resolve(import.meta.dirname, '../../../dist/src/terminal/cli.js');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

/** One run of the CLI with `args`; `json` is stdout parsed, or null when it is not JSON. */
export function runTerminal(args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((done) => {
    const env = { ...process.env, TERMINAL_STATE: '', ...opts.env };
    const child = execFile(process.execPath, [CLI, ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => {
      let json: unknown = null;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = null;
      }
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr, json });
    });
    child.stdin!.end(opts.stdin ?? '');
  });
}

/**
 * Work to undo after each test of the file that calls this (it registers that file's afterEach), last in first out,
 * and temp dirs named `prefix…` that are removed with it.
 */
export function perTestCleanup(prefix: string): { cleanup: Array<() => Promise<void> | void>; tempDir(): string } {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    while (cleanup.length > 0) await cleanup.pop()!();
  });
  return {
    cleanup,
    tempDir(): string {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      return dir;
    },
  };
}
