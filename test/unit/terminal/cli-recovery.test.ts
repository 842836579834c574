/**
 * @module The terminal CLI when the person at the machine made a mistake or must act: a bad --out path or no passphrase,
 * what "paired" can claim offline, an expired code, a terminal without VPN, set-server on a paired terminal, factory-reset's prompt.
 */
import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CLI, perTestCleanup, runTerminal, type Run } from './cli-process.js';
import { formatFingerprint } from '../../../src/crypto/fingerprint.js';
import { main } from '../../../src/terminal/cli.js';
import { protocolPeer, type ProtocolPeer } from './gate-peer.js';
import { serverIdentity } from './tls-peers.js';

const terminal = (state: string, args: string[], stdin = ''): Promise<Run> => runTerminal(['--state', state, ...args], { stdin });
const { cleanup, tempDir } = perTestCleanup('terminal-cli-recovery-');

async function initialized(serial = 'R1'): Promise<{ dir: string; state: string; tfp: string }> {
  const dir = tempDir();
  const state = join(dir, 'st');
  const init = await terminal(state, ['--json', 'init', '--serial', serial]);
  expect(init.code).toBe(0);
  return { dir, state, tfp: init.json.tfp };
}

async function pairedCli(serial = 'R1'): Promise<{ peer: ProtocolPeer; state: string; tfp: string }> {
  const peer = await protocolPeer(serverIdentity());
  cleanup.push(() => peer.close());
  peer.knownSerials.add(serial);
  const { state, tfp } = await initialized(serial);
  expect((await terminal(state, ['pair', '--gate', peer.gate.url])).code).toBe(0);
  peer.approve([...peer.requests.keys()][0]!);
  expect((await terminal(state, ['--json', 'pair'])).json).toMatchObject({ status: 'trusted' });
  return { peer, state, tfp };
}

describe.skipIf(!existsSync(CLI))('terminal CLI: user mistakes and what to do next', () => {
  it('backup --out into a missing directory is a usage error naming the directory, asked before any passphrase', async () => {
    const { state } = await initialized();
    const run = await terminal(state, ['--json', 'backup', '--out', '/missing/dir/f']);
    expect(run.code).toBe(2);
    expect(run.json).toMatchObject({ error: 'bad_request', usage: true });
    expect(run.json.message).toContain('/missing/dir');
    expect(run.json.message).not.toMatch(/ENOENT|passphrase/);
  });

  it('backup and restore with nothing on stdin say that no passphrase was given', async () => {
    const { dir, state } = await initialized();
    const file = join(dir, 'point.bin');
    const empty = await terminal(state, ['--json', 'backup', '--out', file]);
    expect(empty.code).toBe(2);
    expect(empty.json.message).toMatch(/no passphrase given/);
    expect(existsSync(file)).toBe(false);

    expect((await terminal(state, ['backup', '--out', file], 'a long passphrase\n')).code).toBe(0);
    const restoreEmpty = await terminal(join(dir, 'other'), ['--json', 'restore', '--in', file]);
    expect(restoreEmpty.code).toBe(2);
    expect(restoreEmpty.json.message).toMatch(/no passphrase given/);
    const short = await terminal(join(dir, 'other'), ['--json', 'restore', '--in', file], 'short\n');
    expect(short.json).toMatchObject({ error: 'invalid_field' });
  });

  it('restore --in a directory is a usage error, not an internal one', async () => {
    const { dir } = await initialized();
    const run = await terminal(join(dir, 'other'), ['--json', 'restore', '--in', dir], 'a long passphrase\n');
    expect(run.code).toBe(2);
    expect(run.json).toMatchObject({ error: 'bad_request', usage: true });
    expect(run.json.message).toContain(`${dir} is a directory`);
  });

  it('status says "paired" as of the last contact, with its time, and that ping checks it now', async () => {
    const { state } = await pairedCli();
    const json = (await terminal(state, ['--json', 'status'])).json;
    expect(json).toMatchObject({ paired: true, nextGateUrl: null });
    expect(Date.parse(json.pairedConfirmedAt)).toBeGreaterThan(Date.now() - 60_000);
    const text = (await terminal(state, ['status'])).stdout;
    expect(text).toContain(`paired       yes (as of the last contact, ${json.pairedConfirmedAt}) — \`terminal ping\` checks it now`);
    expect(text).not.toContain('trusted by the server');
  });

  it('pair after the request expired says the earlier code is void before showing the new one', async () => {
    const peer = await protocolPeer(serverIdentity());
    cleanup.push(() => peer.close());
    peer.knownSerials.add('R2');
    const { state } = await initialized('R2');
    const first = await terminal(state, ['--json', 'pair', '--gate', peer.gate.url]);
    peer.expire(first.json.requestId);
    const again = await terminal(state, ['pair']);
    expect(again.code).toBe(0);
    const voidAt = again.stdout.indexOf(`(code ${first.json.code}) expired or the server no longer knows it: that code is void`);
    expect(voidAt).toBeGreaterThanOrEqual(0);
    expect(again.stdout.indexOf('PAIRING CODE')).toBeGreaterThan(voidAt);
  });

  it('vpn-config on a paired terminal without VPN says the operator creates terminals with --vpn, not to pair again', async () => {
    const { state } = await pairedCli();
    const run = await terminal(state, ['--json', 'vpn-config']);
    expect(run.code).toBe(1);
    expect(run.json.error).toBe('not_found');
    expect(run.json.message).toContain('cas terminals create SERIAL --vpn');
    expect(run.json.message).not.toContain('have the operator approve');
  });

  it('set-server on a paired terminal keeps it paired and says until when', async () => {
    const { peer, state } = await pairedCli();
    const run = await terminal(state, ['set-server', 'https://127.0.0.1:9']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`stays paired with ${peer.gate.url}`);
    expect((await terminal(state, ['--json', 'ping'])).code).toBe(0);
    expect((await terminal(state, ['status'])).stdout).toContain('switching to https://127.0.0.1:9 once its gate answers');
  });
});

describe.skipIf(!existsSync(CLI))('terminal CLI: moving a paired terminal to a server with another certificate', () => {
  it('pair --gate refuses it with both fingerprints and where to confirm them; --expect-sfp with that SFP switches', async () => {
    const { peer, state } = await pairedCli();
    const otherId = serverIdentity();
    const other = await protocolPeer(otherId);
    cleanup.push(() => other.close());
    other.knownSerials.add('R1');
    const before = (await terminal(state, ['--json', 'status'])).json;

    const refused = await terminal(state, ['pair', '--gate', other.gate.url]);
    expect(refused.code).toBe(1);
    const presented = formatFingerprint(otherId.sfp);
    expect(refused.stderr).toMatch(/^error: server_pin_mismatch: /);
    expect(refused.stderr).toContain(`presents SFP ${presented}, not the pinned ${formatFingerprint(before.pinnedSfp)}`);
    expect(refused.stderr).toContain('`pairing-server fingerprint` on that server');
    expect(refused.stderr).toContain(`\`--expect-sfp ${presented}\``);
    expect(refused.stderr).toContain(`Still paired with ${peer.gate.url}`);
    expect(other.gate.requests).toHaveLength(0);
    expect((await terminal(state, ['--json', 'status'])).json).toEqual(before);
    expect((await terminal(state, ['--json', 'ping'])).code).toBe(0);

    const malformed = await terminal(state, ['--json', 'pair', '--gate', other.gate.url, '--expect-sfp', 'not-a-fingerprint']);
    expect(malformed.code).toBe(2);
    expect(malformed.json).toMatchObject({ error: 'bad_request', usage: true });

    const switched = await terminal(state, ['--json', 'pair', '--gate', other.gate.url, '--expect-sfp', presented]);
    expect(switched.code).toBe(0);
    expect(switched.json).toMatchObject({ status: 'pending', sfp: otherId.sfp });
  });

  it('set-server --expect-sfp notes the SFP the new gate must present; status shows it', async () => {
    const { state } = await pairedCli();
    const expected = serverIdentity().sfp;
    const run = await terminal(state, ['set-server', 'https://127.0.0.1:9', '--expect-sfp', expected.toUpperCase()]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`That gate must present SFP ${formatFingerprint(expected)}`);
    expect((await terminal(state, ['--json', 'status'])).json).toMatchObject({ nextGateUrl: 'https://127.0.0.1:9', nextGateSfp: expected, paired: true });
  });

  it('pair --help documents --expect-sfp', async () => {
    const { state } = await initialized();
    const help = await terminal(state, ['pair', '--help']);
    expect(help.stdout).toContain('--expect-sfp SFP');
    expect(help.stdout).toContain('pairing-server fingerprint');
  });
});

describe('factory-reset confirmation on a TTY', () => {
  async function typed(state: string, answer: string): Promise<{ code: number; stderr: string }> {
    const stdin = Object.assign(new PassThrough(), { isTTY: true });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (err.includes('Type YES to confirm: ')) stdin.end(`${answer}\n`);
    });
    const code = await main(['--state', state, 'factory-reset'], { stdin, stdout, stderr, env: {} });
    return { code, stderr: err };
  }

  it('names the serial and TFP it destroys; not confirmed exits 2 and deletes nothing', async () => {
    const { state, tfp } = await initialized('R3');
    const cancelled = await typed(state, 'no');
    expect(cancelled.stderr).toContain(`This deletes terminal R3 (TFP ${tfp}) for good`);
    expect(cancelled.code).toBe(2);
    expect(cancelled.stderr).toContain('error: bad_request: factory reset cancelled; nothing was deleted');
    expect(existsSync(join(state, 'key.pem'))).toBe(true);

    const confirmed = await typed(state, 'YES');
    expect(confirmed.code).toBe(0);
    expect(existsSync(join(state, 'key.pem'))).toBe(false);
  });
});

describe('backup passphrase typed at a TTY', () => {
  /** `terminal backup` in-process with a TTY on stdin, each line typed once its prompt shows. */
  async function typed(state: string, file: string, lines: string[]): Promise<{ code: number; stderr: string }> {
    const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => stdin });
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (err.endsWith(': ')) stdin.write(lines.shift() ?? '');
    });
    const code = await main(['--state', state, 'backup', '--out', file], { stdin, stdout: new PassThrough(), stderr, env: {} });
    return { code, stderr: err };
  }

  it('is asked twice and written when both lines are the same; else refused with its own code and exit status, nothing written', async () => {
    const { dir, state } = await initialized('R4');
    const file = join(dir, 'point.bin');
    const differ = await typed(state, file, ['a long passphrase\r', 'a long passphrasf\r']);
    expect([differ.code, differ.stderr]).toEqual([1, 'Passphrase: \nPassphrase again: \nerror: invalid_field: the two passphrases differ\n']);
    const cancelled = await typed(state, file, ['a long passphrase\r', '\u0003']);
    expect([cancelled.code, cancelled.stderr]).toEqual([1, 'Passphrase: \nPassphrase again: \nerror: bad_request: cancelled\n']);
    const empty = await typed(state, file, ['\r']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/^Passphrase: \nerror: bad_request: no passphrase given/);
    expect(existsSync(file)).toBe(false);

    const same = await typed(state, file, ['a long passphrase\r', 'a long passphrase\r']);
    expect(same.code).toBe(0);
    const restored = await terminal(join(dir, 'other'), ['--json', 'restore', '--in', file], 'a long passphrase\n');
    expect(restored.json).toMatchObject({ serial: 'R4' });
  });
});

/** Power loss right before key.pem's temp file is renamed into place: the process dies by SIGKILL there. */
const CRASH_AT_KEY_RENAME = `data:text/javascript,${encodeURIComponent(
  "import fs from 'node:fs'; import { syncBuiltinESMExports } from 'node:module'; const rename = fs.renameSync;" +
    "fs.renameSync = (from, to) => { if (String(from).includes('.key.pem.')) process.kill(process.pid, 'SIGKILL'); return rename(from, to); };" +
    'syncBuiltinESMExports();',
)}`;

function crashedInit(state: string, serial: string): Promise<string | null> {
  return new Promise((done) => {
    execFile(process.execPath, ['--import', CRASH_AT_KEY_RENAME, CLI, '--state', state, 'init', '--serial', serial], (error) => done(error?.signal ?? null));
  });
}

const leftovers = (state: string) => readdirSync(state).filter((name) => name.endsWith('.tmp'));

describe.skipIf(!existsSync(CLI))('a crash between writing a key and renaming it', () => {
  it('factory-reset removes the temp file holding the key', async () => {
    const state = join(tempDir(), 'st');
    expect(await crashedInit(state, 'C1')).toBe('SIGKILL');
    expect(leftovers(state)).toEqual([expect.stringMatching(/^\.key\.pem\.\d+\.[0-9a-f]+\.tmp$/)]);
    const reset = await terminal(state, ['--json', 'factory-reset', '--yes']);
    expect(reset.code).toBe(0);
    expect(leftovers(state)).toEqual([]);
    expect(readdirSync(state)).toEqual([]);
  });

  it('the next write removes it too', async () => {
    const state = join(tempDir(), 'st');
    expect(await crashedInit(state, 'C2')).toBe('SIGKILL');
    expect(leftovers(state)).toHaveLength(1);
    expect((await terminal(state, ['init', '--serial', 'C2'])).code).toBe(0);
    expect(leftovers(state)).toEqual([]);
  });
});

describe.skipIf(!existsSync(CLI))('vpn-config --out over an existing file', () => {
  it('writes a new 0600 file and renames it over the old one; a descriptor open on the old file never sees the key', async () => {
    const { dir, state } = await initialized('V1');
    // A terminal the gate gave a VPN profile, as a trusted answer stores it.
    const stored = JSON.parse(readFileSync(join(state, 'state.json'), 'utf8'));
    stored.paired = true;
    stored.server.vpn = { profile: 'client\nremote vpn 1194\n', masterUrl: 'https://10.8.0.1:7743', serial: '01', expiresAt: '2030-01-01T00:00:00Z' };
    writeFileSync(join(state, 'state.json'), JSON.stringify(stored));

    const out = join(dir, 'vpn.ovpn');
    writeFileSync(out, 'old profile\n', { mode: 0o644 });
    const before = statSync(out);
    const elsewhere = openSync(out, 'r'); // another process that opened the old, readable file
    cleanup.push(() => closeSync(elsewhere));

    const run = await terminal(state, ['--json', 'vpn-config', '--out', out]);
    expect(run.code).toBe(0);
    expect(readFileSync(elsewhere, 'utf8')).toBe('old profile\n');
    const after = statSync(out);
    expect(after.ino).not.toBe(before.ino);
    expect(after.mode & 0o777).toBe(0o600);
    expect(readFileSync(out, 'utf8')).toContain('-----BEGIN PRIVATE KEY-----');
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});
