/** @module Starts the real pairing server (compiled CLI) or the baseline as a child process, times its start-up to the "listening" log line, and stops it. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

export const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
export const SERVER_CLI = path.join(ROOT, 'dist', 'src', 'server', 'cli.js');
export const BASELINE = path.join(ROOT, 'dist', 'bench', 'baseline-https-server.js');
export const FLOOR = path.join(ROOT, 'dist', 'bench', 'floor-uws-server.js');

const run = promisify(execFile);

export interface RunningProcess {
  pid: number;
  /** The JSON log line with msg "listening". */
  ready: Record<string, unknown>;
  /** Spawn → "listening", seconds. */
  startupSeconds: number;
  /** Every output line up to the "listening" one: what the start did, e.g. whether it checked the store's indexes. */
  startLines: readonly string[];
  /** The last lines of output, for diagnosing a failure. */
  tail(): string;
  stop(): Promise<void>;
  /** SIGTERM now, without waiting: for a bench that is being interrupted itself. */
  terminate(): void;
}

/** Options the server's --help mentions; the bench passes only what this build understands. */
export async function serverOptions(): Promise<Set<string>> {
  const { stdout } = await run(process.execPath, [SERVER_CLI, '--help']);
  return new Set([...stdout.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
}

/** Node flags from the environment variable `name`, separated by spaces (none when it is unset). */
export function nodeArgsFrom(name: string): string[] {
  return (process.env[name] ?? '').split(' ').filter(Boolean);
}

/** Node flags for the server under test only, e.g. BENCH_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile it under the fleet's load. */
export const serverNodeArgs = (): string[] => nodeArgsFrom('BENCH_SERVER_NODE_ARGS');

/** The same for the node:https baseline and its floor (BENCH_BASELINE_NODE_ARGS): where its CPU per call goes is half of every ratio. */
export const baselineNodeArgs = (): string[] => nodeArgsFrom('BENCH_BASELINE_NODE_ARGS');

/** BENCH_SERVER_OUTPUT=<file>: every output line of the measured processes is appended there too (e.g. with --trace-gc). */
const teeFile = process.env.BENCH_SERVER_OUTPUT;

export function startProcess(script: string, args: string[], nodeArgs: string[] = [], timeoutMs = 60_000): Promise<RunningProcess> {
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PAIRING_LOG_PRETTY: '0' },
  });
  const lines: string[] = [];
  const startLines: string[] = [];
  let ready = false;
  const keep = (line: string): void => {
    if (teeFile) fs.appendFileSync(teeFile, `${path.basename(script)} ${line}\n`);
    if (!ready) startLines.push(line);
    lines.push(line);
    if (lines.length > 40) lines.shift();
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(script)} did not report listening within ${timeoutMs} ms:\n${lines.join('\n')}`));
    }, timeoutMs);
    // MUST keep reading stdout for the whole run: the server logs synchronously and would block on a full pipe.
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
        keep(line);
        if (ready || !line.includes('"listening"')) continue;
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry.msg !== 'listening') continue;
          ready = true;
          clearTimeout(timer);
          resolve({
            pid: child.pid!,
            ready: entry,
            startupSeconds: (performance.now() - started) / 1000,
            startLines,
            tail: () => lines.join('\n'),
            terminate() {
              if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            },
            async stop() {
              if (child.exitCode !== null || child.signalCode !== null) return;
              child.kill('SIGTERM');
              const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
              await exited;
              clearTimeout(killer);
            },
          });
        } catch {
          // not a JSON log line
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => keep(chunk.toString('utf8').trimEnd()));
    void exited.then(() => {
      if (ready) return;
      clearTimeout(timer);
      reject(new Error(`${path.basename(script)} exited before listening:\n${lines.join('\n')}`));
    });
  });
}
