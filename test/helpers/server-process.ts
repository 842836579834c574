/** @module Starts the real `pairing-server` CLI (compiled) on loopback ports with a temp data dir, and captures its JSON log lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../src/package-root.js';
import { statusBytes } from '../../src/server/resident-memory.js';
import { PID_FILE } from '../../src/store/data-dir-lock.js';
import { freePort } from './ports.js';

// packageRoot, not a relative path: the soak script runs these helpers compiled, from dist/.
export const ROOT = packageRoot();
export const SERVER_CLI = path.join(ROOT, 'dist', 'src', 'server', 'cli.js');
export const TERMINAL_CLI = path.join(ROOT, 'dist', 'src', 'terminal', 'cli.js');
export const CAS_CLI = path.join(ROOT, 'dist', 'src', 'admin', 'cli.js');

export interface ServerProcess {
  pid: number;
  dataDir: string;
  sfp: string;
  ports: { gate: number; master: number; admin: number };
  gateUrl: string;
  masterUrl: string;
  adminUrl: string;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  /** Resolves with the first log line (so far or to come) that matches. */
  waitForLog(predicate: (entry: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Raw stdout + stderr so far (for secret-leak checks). */
  output(): string;
  /** Stops reading the server's stdout, as a stalled log shipper would: once the pipe is full, its writes fail. */
  pauseOutput(): void;
  resumeOutput(): void;
  /** Resolves with the exit code once the process has exited and its output has ended: resume a paused output first. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Resident memory of a process in bytes, from /proc. */
export function rssBytes(pid: number): number {
  return statusBytes(fs.readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS') ?? 0;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

/**
 * Resolves once a server process has taken `dataDir` (its pid file is written with the data dir lock, before the store
 * opens and hundreds of milliseconds before any port listens), or once `stopped()`. Tests that must meet a port the
 * moment it listens spin only from then: spinning through node's own start as well burnt a core for a second or more,
 * which the test file running beside (two at once on a 2-core CI machine) needed. A pid file left behind (a killed
 * server) only makes the spin start at once, as before.
 */
export async function dataDirTaken(dataDir: string, stopped: () => boolean): Promise<void> {
  while (!stopped() && !fs.existsSync(path.join(dataDir, PID_FILE))) await new Promise((resolve) => setTimeout(resolve, 5));
}

export async function allocatePorts(): Promise<ServerProcess['ports']> {
  return { gate: await freePort(), master: await freePort(), admin: await freePort() };
}

export async function startServerProcess(opts: { dataDir?: string; ports?: ServerProcess['ports']; extraArgs?: string[]; env?: Record<string, string> } = {}): Promise<ServerProcess> {
  const dataDir = opts.dataDir ?? tempDir('pairing-data');
  const ports = opts.ports ?? (await allocatePorts());
  const child: ChildProcess = spawn(process.execPath, [
    SERVER_CLI, '--data-dir', dataDir, '--host', '127.0.0.1',
    '--gate-port', String(ports.gate), '--master-port', String(ports.master), '--admin-port', String(ports.admin),
    // Functional tests send many gate requests from one address; flood tests pass their own, lower limits (later flags win).
    '--log-level', 'debug', '--gate-rate', '1000', '--gate-global-rate', '5000', ...(opts.extraArgs ?? []),
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PAIRING_LOG_PRETTY: '0', ...opts.env } });
  const logs: Record<string, unknown>[] = [];
  const watchers = new Set<(entry: Record<string, unknown>) => void>();
  let raw = '';
  let pending = '';
  // 'close', not 'exit': Node may emit 'exit' while the process's last lines are still in the pipe, and tests read
  // `logs` right after stop() (the lines of a shutdown, a summary written at the very end).
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      raw += chunk.toString();
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          for (const watcher of watchers) watcher(entry);
          if (entry.msg === 'listening') resolve(entry);
        } catch {
          // not a log line
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      raw += chunk.toString();
    });
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening:\n${raw}`)));
  });
  const ready = await listening;
  return {
    pid: child.pid!,
    dataDir,
    sfp: ready.sfp as string,
    ports,
    gateUrl: `https://127.0.0.1:${ports.gate}`,
    masterUrl: `https://127.0.0.1:${ports.master}`,
    adminUrl: `wss://127.0.0.1:${ports.admin}/admin`,
    logs,
    waitForLog(predicate, timeoutMs = 15_000) {
      const seen = logs.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolveLog, rejectLog) => {
        const timer = setTimeout(() => {
          watchers.delete(watcher);
          rejectLog(new Error('no matching log line'));
        }, timeoutMs);
        const watcher = (entry: Record<string, unknown>): void => {
          if (!predicate(entry)) return;
          clearTimeout(timer);
          watchers.delete(watcher);
          resolveLog(entry);
        };
        watchers.add(watcher);
      });
    },
    output: () => raw,
    pauseOutput: () => void child.stdout!.pause(),
    resumeOutput: () => void child.stdout!.resume(),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) {
        await exited;
        return child.exitCode;
      }
      child.kill(signal);
      return exited;
    },
  };
}
