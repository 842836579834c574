/**
 * @module One terminal command at a time per state directory: a second command that would write the state is refused
 * with `conflict` while another holds the lock (held here by the test itself, so nothing depends on winning a race),
 * `pair --wait` holds it for its whole wait, and a lock whose process is gone is taken over.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, perTestCleanup, runTerminal, type Run } from './cli-process.js';
import { acquireStateLock, LOCK_FILE } from '../../../src/terminal/state-lock.js';
import { protocolPeer } from './gate-peer.js';
import { serverIdentity } from './tls-peers.js';

const terminal = (state: string, args: string[], stdin = ''): Promise<Run> => runTerminal(['--state', state, '--json', ...args], { stdin });
const { cleanup, tempDir } = perTestCleanup('terminal-lock-');

function expectBusy(run: Run, pid: number): void {
  expect(run.code).toBe(1);
  expect(run.json.error).toBe('conflict');
  expect(run.json.message).toContain(`another terminal command (test, pid ${pid}) is running on the state directory`);
}

describe.skipIf(!existsSync(CLI))('the state directory lock', () => {
  it('init while another command holds the lock is refused at once and creates nothing', async () => {
    const state = join(tempDir(), 'st');
    const release = acquireStateLock(state, 'test', { create: true });
    cleanup.push(release);
    expectBusy(await terminal(state, ['init', '--serial', 'L1']), process.pid);
    expect(readdirSync(state)).toEqual([LOCK_FILE]);
    release();
    expect((await terminal(state, ['init', '--serial', 'L1'])).code).toBe(0);
    expect(existsSync(join(state, LOCK_FILE))).toBe(false);
  });

  it('every command that writes the state is refused while the lock is held; the state stays as it was', async () => {
    const state = join(tempDir(), 'st');
    expect((await terminal(state, ['init', '--serial', 'L2'])).code).toBe(0);
    const backupFile = join(state, '..', 'point.bin');
    expect((await terminal(state, ['backup', '--out', backupFile], 'a long passphrase\n')).code).toBe(0);
    const before = readFileSync(join(state, 'state.json'), 'utf8');
    const release = acquireStateLock(state, 'test');
    cleanup.push(release);
    for (const args of [
      ['set-server', 'https://127.0.0.1:9'],
      ['pair', '--gate', 'https://127.0.0.1:9'],
      ['ping'],
      ['cash-event', '--currency', 'USD', '--denomination', '20', '--count', '1'],
      ['deposit-address', '--coin', 'BTC'],
      ['factory-reset', '--yes'],
    ]) {
      expectBusy(await terminal(state, args), process.pid);
    }
    expectBusy(await terminal(state, ['restore', '--in', backupFile, '--force'], 'a long passphrase\n'), process.pid);
    expect(readFileSync(join(state, 'state.json'), 'utf8')).toBe(before);
    expect(existsSync(join(state, 'key.pem'))).toBe(true);
    // Reading is not refused.
    expect((await terminal(state, ['status'])).json).toMatchObject({ serial: 'L2' });
    release();
    expect((await terminal(state, ['set-server', 'https://127.0.0.1:9'])).json).toMatchObject({ gateUrl: 'https://127.0.0.1:9' });
  });

  it('a lock left by a process that is gone is taken over', async () => {
    const state = join(tempDir(), 'st');
    expect((await terminal(state, ['init', '--serial', 'L3'])).code).toBe(0);
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(join(state, LOCK_FILE), JSON.stringify({ pid: gone, start: null, command: 'pair --wait', token: 'killed' }));
    expect((await terminal(state, ['set-server', 'https://127.0.0.1:9'])).code).toBe(0);
    if (existsSync('/proc/self/stat')) {
      // A pid in use again by another process (here: this one, with another start time) is not the holder either.
      writeFileSync(join(state, LOCK_FILE), JSON.stringify({ pid: process.pid, start: '1', command: 'pair --wait', token: 'reused' }));
      expect((await terminal(state, ['set-server', 'https://127.0.0.1:10'])).code).toBe(0);
    }
    expect(existsSync(join(state, LOCK_FILE))).toBe(false);
  });

  it('pair --wait holds the lock for its whole wait: factory-reset meanwhile is refused and says why', async () => {
    const peer = await protocolPeer(serverIdentity());
    cleanup.push(() => peer.close());
    peer.knownSerials.add('L4');
    const state = join(tempDir(), 'st');
    expect((await terminal(state, ['init', '--serial', 'L4'])).code).toBe(0);

    const child = spawn(process.execPath, [CLI, '--state', state, '--json', 'pair', '--gate', peer.gate.url, '--wait', '--interval', '0.05'], {
      env: { ...process.env, TERMINAL_STATE: '' },
    });
    cleanup.push(() => {
      child.kill();
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', done));
    await new Promise<void>((shown) => {
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        if (stderr.includes('PAIRING CODE')) shown();
      });
    });

    const reset = await terminal(state, ['factory-reset', '--yes']);
    expect(reset.code).toBe(1);
    expect(reset.json.error).toBe('conflict');
    expect(reset.json.message).toContain(`(pair --wait, pid ${child.pid})`);
    expect(reset.json.message).toContain('factory-reset is refused while it runs');
    expect(existsSync(join(state, 'key.pem'))).toBe(true);
    expect((await terminal(state, ['init', '--serial', 'NEW'])).json.error).toBe('conflict');

    peer.approve([...peer.requests.keys()][0]!);
    expect(await exited).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ status: 'trusted' });
    expect(existsSync(join(state, LOCK_FILE))).toBe(false);
    expect((await terminal(state, ['factory-reset', '--yes'])).json).toMatchObject({ reset: true, serial: 'L4' });
  });
});
