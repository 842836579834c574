/** @module The compiled `terminal` CLI as a child process: help, usage errors, exit codes, JSON output, backup/restore through stdin, pairing against a protocol peer. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, perTestCleanup, runTerminal } from './cli-process.js';
import { protocolPeer } from './gate-peer.js';
import { serverIdentity } from './tls-peers.js';

const terminal = runTerminal;
const { cleanup, tempDir } = perTestCleanup('terminal-cli-');

describe.skipIf(!existsSync(CLI))('terminal CLI (compiled)', () => {
  it('helps globally and per command', async () => {
    const all = await terminal(['--help']);
    expect(all.code).toBe(0);
    for (const command of ['init', 'status', 'pair', 'ping', 'cash-event', 'deposit-address', 'set-server', 'factory-reset', 'backup', 'restore']) {
      expect(all.stdout).toContain(command);
    }
    const pair = await terminal(['pair', '--help']);
    expect(pair.code).toBe(0);
    expect(pair.stdout).toMatch(/PAIRING CODE/);
    expect(pair.stdout).toMatch(/operator/);
  });

  it('exits 2 on usage errors, with a JSON error under --json', async () => {
    expect((await terminal([])).code).toBe(2);
    const unknown = await terminal(['--json', 'fly']);
    expect(unknown.code).toBe(2);
    expect(unknown.json).toMatchObject({ error: 'bad_request', usage: true });
    const badOption = await terminal(['init', '--serial', 'T1', '--colour', 'red']);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/^error: bad_request: /);
    expect((await terminal(['cash-event', '--currency', 'USD', '--denomination', 'x', '--count', '1'])).code).toBe(2);
    // As the server: a denomination is more than 0.
    const zero = await terminal(['cash-event', '--currency', 'USD', '--denomination', '0', '--count', '1']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--denomination must be a number ≥ 0.001 and ≤ 1000000');
    expect((await terminal(['cash-event', '--currency', 'USD', '--denomination', '1.2345', '--count', '1'])).stderr).toContain('at most 3 decimal places');
    expect((await terminal(['set-server', 'https://a:1', 'extra'])).code).toBe(2);
    // A value the server or the key generator would refuse is a usage error too, before anything is read or sent.
    const tooMany = await terminal(['cash-event', '--currency', 'USD', '--denomination', '20', '--count', '100000000']);
    expect([tooMany.code, tooMany.stderr]).toEqual([2, 'error: bad_request: --count must be a whole number ≥ 1 and ≤ 10000\n']);
    expect((await terminal(['cash-event', '--currency', 'US', '--denomination', '20', '--count', '1'])).stderr).toContain('--currency must be an ISO 4217 code');
    const weak = await terminal(['init', '--serial', 'T1', '--key', 'rsa', '--rsa-bits', '1024']);
    expect([weak.code, weak.stderr]).toEqual([2, 'error: bad_request: --rsa-bits must be a whole number ≥ 2048 and ≤ 4096\n']);
    expect((await terminal(['init', '--serial', 'T1', '--key', 'rsa', '--rsa-bits', '2050'])).code).toBe(2);
    // A gate that is not an https:// URL, before the state directory is looked at.
    expect(await terminal(['--state', join(tempDir(), 'none'), 'set-server', 'notaurl'])).toMatchObject({ code: 2, stderr: expect.stringContaining('set-server: not a URL') });
    expect(await terminal(['--state', join(tempDir(), 'none'), 'pair', '--gate', 'http://gate:7741'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--gate: server URLs must start with https://') });
  });

  it('initializes, reports status as JSON, and never prints the private key', async () => {
    const state = join(tempDir(), 'st');
    const init = await terminal(['--state', state, 'init', '--serial', 'BT7', '--key', 'ed25519', '--json']);
    expect(init.code).toBe(0);
    expect(init.json).toMatchObject({ serial: 'BT7', keyKind: 'ed25519', alg: 'ed25519' });
    expect(statSync(join(state, 'key.pem')).mode & 0o777).toBe(0o600);

    const status = await terminal(['status', '--json'], { env: { TERMINAL_STATE: state } });
    expect(status.json).toMatchObject({ serial: 'BT7', tfp: init.json.tfp, paired: false, pinnedSfp: null });
    const human = await terminal(['--state', state, 'status']);
    expect(human.stdout).toContain(init.json.tfp);
    for (const run of [init, status, human]) expect(run.stdout + run.stderr).not.toMatch(/PRIVATE KEY/);

    const again = await terminal(['--state', state, '--json', 'init', '--serial', 'BT7']);
    expect(again.code).toBe(1);
    expect(again.json).toMatchObject({ error: 'conflict' });
    const ping = await terminal(['--state', state, 'ping']);
    expect(ping.code).toBe(1);
    expect(ping.stderr).toMatch(/^error: not_paired: /);
  });

  it('factory-reset needs --yes when nobody can confirm, then removes the identity', async () => {
    const state = join(tempDir(), 'st');
    await terminal(['--state', state, 'init', '--serial', 'BT8']);
    expect((await terminal(['--state', state, 'factory-reset'])).code).toBe(2);
    expect(existsSync(join(state, 'key.pem'))).toBe(true);
    const reset = await terminal(['--state', state, 'factory-reset', '--yes', '--json']);
    expect(reset.code).toBe(0);
    expect(reset.json).toMatchObject({ reset: true, serial: 'BT8' });
    expect(existsSync(join(state, 'key.pem'))).toBe(false);
    expect((await terminal(['--state', state, '--json', 'status'])).json).toMatchObject({ error: 'not_initialized' });
  });

  it('backs up and restores through a passphrase on stdin', async () => {
    const dir = tempDir();
    const state = join(dir, 'a');
    const file = join(dir, 'restore-point.bin');
    const init = await terminal(['--state', state, '--json', 'init', '--serial', 'BT9']);
    const backup = await terminal(['--state', state, '--json', 'backup', '--out', file], { stdin: 'a long passphrase\n' });
    expect(backup.code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file).includes(Buffer.from('PRIVATE KEY'))).toBe(false);
    expect((await terminal(['--state', state, '--json', 'backup', '--out', file], { stdin: 'a long passphrase\n' })).json).toMatchObject({ error: 'conflict' });

    const other = join(dir, 'b');
    const wrong = await terminal(['--state', other, '--json', 'restore', '--in', file], { stdin: 'not the passphrase\n' });
    expect(wrong.code).toBe(1);
    expect(wrong.json).toMatchObject({ error: 'unauthenticated' });
    const restored = await terminal(['--state', other, '--json', 'restore', '--in', file], { stdin: 'a long passphrase\n' });
    expect(restored.code).toBe(0);
    expect(restored.json).toMatchObject({ serial: 'BT9', tfp: init.json.tfp });
    expect((await terminal(['--state', other, '--json', 'restore', '--in', file], { stdin: 'a long passphrase\n' })).json).toMatchObject({ error: 'conflict' });
  });

  it('pairs: shows the code like a terminal screen, resumes on the second run, exits 3 when --wait times out', async () => {
    const peer = await protocolPeer(serverIdentity());
    cleanup.push(() => peer.close());
    peer.knownSerials.add('BT10');
    const state = join(tempDir(), 'st');
    await terminal(['--state', state, 'init', '--serial', 'BT10']);

    const first = await terminal(['--state', state, 'pair', '--gate', peer.gate.url]);
    expect(first.code).toBe(0);
    const code = [...peer.requests.values()][0]!.code!;
    expect(first.stdout).toContain(`PAIRING CODE ${code} — read this code to the operator calling you`);

    const waited = await terminal(['--state', state, '--json', 'pair', '--wait', '--timeout', '0.3', '--interval', '0.05']);
    expect(waited.code).toBe(3);
    expect(waited.json).toMatchObject({ status: 'pending', code, timedOut: true });
    expect(waited.stderr).toContain(`PAIRING CODE ${code}`);

    peer.approve([...peer.requests.keys()][0]!);
    const trusted = await terminal(['--state', state, '--json', 'pair']);
    expect(trusted.code).toBe(0);
    expect(trusted.json).toMatchObject({ status: 'trusted', masterUrl: peer.master.url });
    const ping = await terminal(['--state', state, '--json', 'ping']);
    expect(ping.json.serverTime).toMatch(/^\d{4}-/);
    const cash = await terminal(['--state', state, '--json', 'cash-event', '--currency', 'USD', '--denomination', '20', '--count', '2', '--event-id', 'e1']);
    expect(cash.json).toEqual({ eventId: 'e1', accepted: true, duplicate: false });
  });
});
