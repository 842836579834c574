/** @module The fleet's data dir: a fresh store with one operator, every terminal registered and paired — or all that from an earlier run (--reuse-fleet); and the server's start on an empty store beside it (start-up and RSS baseline). */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Progress } from '../lib/progress.js';
import { cpuBetween, sampleProcess } from '../lib/proc-stats.js';
import type { GeneratorProcess } from './generator-process.js';
import type { IdentityPlan } from './identities.js';
import type { PairingReport } from './pairing-driver.js';
import { SERVER_CLI, startProcess, type RunningProcess } from './server-process.js';
import { sealIntact } from '../../src/store/index-seal.js';
import { Store } from '../../src/store/store.js';

export interface FleetPairing extends PairingReport {
  /** Server cores busy while pairing. */
  serverCores: number;
  /** Taken from an earlier run's marker (--reuse-fleet): this run did not pair. */
  reused: boolean;
}

export interface PreparedFleet {
  dataDir: string;
  pairing: FleetPairing;
}

/** A server's start: seconds from spawn to its `listening` line, and RSS after settling (rssFileBytes: see ProcSample). */
export interface StartSample {
  seconds: number;
  rssBytes: number;
  rssFileBytes: number;
}

const OPERATOR = { user: 'bench', password: 'bench fleet operator passphrase' };
/** Operator connections sharing one session during pairing (the server orders each connection's requests). */
const ADMIN_CONNECTIONS = 8;
const MARKER = 'bench-fleet.json';
/** Bumped when the saved shape changes: an older marker is ignored and the fleet paired again. */
const MARKER_VERSION = 2;
const SETTLE_MS = 1_000;

export const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

/** `pairing-server users add` on the store, offline like any operator's account; resolves with the TOTP secret it printed (null without 2FA). */
export function addOperator(dataDir: string, operator: { user: string; password: string }, opts: { with2fa: boolean }): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const args = [SERVER_CLI, 'users', 'add', operator.user, '--password-stdin', '--json', '--data-dir', dataDir, ...(opts.with2fa ? [] : ['--no-2fa'])];
    const child = execFile(process.execPath, args, (error, stdout, stderr) => {
      if (error) return reject(new Error(`users add ${operator.user} failed: ${stderr}`));
      resolve((JSON.parse(stdout) as { totpSecret?: string | null }).totpSecret ?? null);
    });
    child.stdin!.end(`${operator.password}\n`);
  });
}

export async function prepareFleet(args: {
  plan: IdentityPlan;
  cacheDir: string;
  reuse: boolean;
  pairConcurrency: number;
  serverArgs: (dataDir: string) => string[];
  ports: { gate: number; admin: number };
  gen: GeneratorProcess;
  progress: Progress;
}): Promise<PreparedFleet> {
  const { plan, gen, progress } = args;
  const dataDir = path.join(args.cacheDir, `fleet-${plan.rsa + plan.ec}-${plan.rsa}-k${plan.rsaKeys}`);
  const marker = path.join(dataDir, MARKER);
  const saved = args.reuse && fs.existsSync(marker) ? (JSON.parse(fs.readFileSync(marker, 'utf8')) as Omit<PreparedFleet, 'dataDir'> & { version?: number }) : null;
  if (saved?.version === MARKER_VERSION) {
    progress.done(`pairing: reusing the fleet paired by an earlier run in ${path.basename(dataDir)} (${saved.pairing.terminals} terminals)`);
    return { dataDir, pairing: { ...saved.pairing, reused: true } };
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  let proc: RunningProcess | null = await startProcess(SERVER_CLI, args.serverArgs(dataDir));
  try {
    // Into the running server's store: only `serve` creates a data dir.
    const totpSecret = await addOperator(dataDir, OPERATOR, { with2fa: true });
    if (!totpSecret) throw new Error('users add printed no TOTP secret');
    const before = sampleProcess(proc.pid);
    const report = await gen.run<PairingReport>({
      type: 'pair', plan, concurrency: args.pairConcurrency, adminConnections: ADMIN_CONNECTIONS, signThreads: os.cpus().length,
      admin: { url: `wss://127.0.0.1:${args.ports.admin}/admin`, sfp: String(proc.ready.sfp), user: OPERATOR.user, password: OPERATOR.password, totpSecret },
      gate: { host: '127.0.0.1', port: args.ports.gate },
    });
    const pairing: FleetPairing = { ...report, serverCores: cpuBetween(before, sampleProcess(proc.pid)).cores, reused: false };
    const steps = Object.entries(pairing.stepMs).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ');
    progress.done(`pairing: ${pairing.terminals} terminals trusted in ${pairing.pairSeconds.toFixed(1)} s (${pairing.terminalsPerSec.toFixed(0)}/s; created in ${pairing.createSeconds.toFixed(1)} s; `
      + `server ${pairing.serverCores.toFixed(2)} cores, generator ${pairing.generatorCores.toFixed(2)} cores; ${pairing.gateCalls} gate calls on ${pairing.gateConnections} connections; `
      + `mean ms per step: ${steps}), ${pairing.errors} errors, ${pairing.retries} retries`
      + (pairing.errorSamples.length ? `: ${pairing.errorSamples.join('; ')}` : ''));
    await proc.stop();
    proc = null;
    if (pairing.errors === 0) fs.writeFileSync(marker, JSON.stringify({ version: MARKER_VERSION, pairing }));
    return { dataDir, pairing };
  } catch (error) {
    if (proc) process.stderr.write(`last server output:\n${proc.tail()}\n`);
    throw error;
  } finally {
    await proc?.stop();
  }
}

/**
 * The server started on an empty store, run just before the start with the fleet registered, so that the two RSS
 * figures come from the same code in the same minute. (An earlier run's figure, kept with a reused fleet, came from
 * whatever code paired that fleet.) The fleet's TLS identity and secrets key are copied in, so neither start
 * generates keys, and it gets the same Node flags (BENCH_SERVER_NODE_ARGS): the stores are the only difference.
 */
export async function startOnEmptyStore(fleetDir: string, serverArgs: (dataDir: string) => string[], nodeArgs: string[]): Promise<StartSample> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cas-bench-empty-'));
  try {
    for (const entry of ['tls', 'secrets.key']) {
      const from = path.join(fleetDir, entry);
      if (fs.existsSync(from)) fs.cpSync(from, path.join(dataDir, entry), { recursive: true });
    }
    const proc = await startProcess(SERVER_CLI, serverArgs(dataDir), nodeArgs);
    try {
      await settle();
      const { rssBytes, rssFileBytes } = sampleProcess(proc.pid);
      return { seconds: proc.startupSeconds, rssBytes, rssFileBytes };
    } finally {
      await proc.stop();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * When the fleet's store is not sealed (src/store/index-seal.ts: the baseline's cash events, or an interrupted run,
 * wrote it after the server last stopped), starts the server on it once and stops it cleanly, so that the measured
 * start is a restart after a clean stop, as an operator's restart is. Returns how long that start took: it checked
 * every index entry by entry first, which is what a start after a crash costs. Null: the store was sealed already.
 */
export async function startAfterCleanStop(dataDir: string, serverArgs: (dataDir: string) => string[], nodeArgs: string[]): Promise<number | null> {
  const store = Store.open(dataDir);
  const sealed = sealIntact(store);
  await store.close();
  if (sealed) return null;
  const proc = await startProcess(SERVER_CLI, serverArgs(dataDir), nodeArgs);
  await proc.stop();
  return proc.startupSeconds;
}
