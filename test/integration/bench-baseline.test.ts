/**
 * @module The fleet benchmark's node:https baseline on its own, against a real server's data dir: with its checks it
 * refuses an unsigned ping as master does, and with `--checks none` (its own floor in the benchmark) it answers the
 * same ping 200, so the difference between the two in a fleet run is the checks and nothing else.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, type RunningProcess } from '../../bench/fleet/server-process.js';
import { freePort } from '../helpers/ports.js';
import { rawRequest } from '../helpers/raw-terminal.js';
import { ROOT, startServerProcess, tempDir } from '../helpers/server-process.js';

// The compiled baseline, as the benchmark starts it (bench/fleet/server-process.ts finds it relative to dist/).
const BASELINE = path.join(ROOT, 'dist', 'bench', 'baseline-https-server.js');

describe('the node:https baseline of the fleet benchmark', () => {
  let dataDir: string;
  const running: RunningProcess[] = [];

  /** The baseline on the server's data dir with `args`, and the URL of its ping. */
  async function baseline(args: string[]): Promise<string> {
    const port = await freePort();
    running.push(await startProcess(BASELINE, ['--data-dir', dataDir, '--port', String(port), ...args]));
    return `https://127.0.0.1:${port}/api/v1/ping`;
  }

  beforeAll(async () => {
    // A real server's data dir: its TLS identity and its store, as the benchmark's fleet has them.
    dataDir = tempDir('bench-baseline');
    const server = await startServerProcess({ dataDir });
    await server.stop();
  }, 60_000);

  afterAll(async () => {
    for (const p of running) await p.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses an unsigned ping with the checks, as master does', async () => {
    const url = await baseline([]);
    const reply = await rawRequest(url, 'POST', { 'x-terminal-serial': 'SN-1' });
    expect(reply.status).toBe(401);
    expect(reply.json.error).toBe('unauthenticated');
  });

  it('answers the same ping 200 with --checks none, as the floor it is', async () => {
    const url = await baseline(['--checks', 'none']);
    const reply = await rawRequest(url, 'POST', { 'x-terminal-serial': 'SN-1' });
    expect(reply.status).toBe(200);
    expect(Date.parse(reply.json.serverTime)).toBeGreaterThan(0);
  });

  it('will not start with --checks of another value', async () => {
    await expect(baseline(['--checks', 'some'])).rejects.toThrow(/--checks is all or none/);
  });
});
