/** @module The `cas` CLI's kept session against the real server: a new login ends the old token, and `watch` stops when its session ends. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/admin/admin-client.js';
import { casCli, ok } from '../helpers/cli.js';
import { addOperator, connectOperator, nextTotp, type TestOperator } from '../helpers/operator.js';
import type { AdminPush } from '../../src/protocol/types.js';
import { CAS_CLI, startServerProcess, tempDir, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let alice: TestOperator;
let bob: TestOperator;
let carol: TestOperator;
let erin: TestOperator;

beforeAll(async () => {
  server = await startServerProcess();
  alice = await addOperator(server.dataDir, 'alice');
  bob = await addOperator(server.dataDir, 'bob');
  carol = await addOperator(server.dataDir, 'carol');
  erin = await addOperator(server.dataDir, 'erin');
});

afterAll(async () => {
  await server?.stop();
});

/** The real `cas`, with its session kept in `dir`. */
function casIn(dir: string, op: TestOperator) {
  const env = { CAS_SESSION_DIR: dir };
  const base = ['--url', server.adminUrl, '--user', op.user, '--fingerprint', server.sfp];
  return {
    run: (args: string[], stdin?: string) => casCli([...base, '--json', ...args], stdin, env),
    spawn: (args: string[]) => spawn(process.execPath, [CAS_CLI, ...base, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }),
    token: () => JSON.parse(fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]!), 'utf8')).token as string,
  };
}

async function isLive(token: string): Promise<boolean> {
  const client = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
  try {
    await client.resume(token);
    return true;
  } catch (error) {
    expect(error).toMatchObject({ code: 'session_expired' });
    return false;
  } finally {
    await client.close();
  }
}

/**
 * Resolves once the server has logged a refused login sent now. The admin ops run one after another on the server's main
 * thread, which logs each as it runs it: by then the line of any op that ran before (one a finished `cas` sent) is in
 * `server.logs`, so that a check that no such line came is not made before it could have.
 */
async function logsCaughtUp(): Promise<void> {
  // The line names no unknown user (it says '?(unknown user)'): counted instead.
  const refusedLogins = (): number => server.logs.filter((l) => l.msg === 'operator action' && l.action === 'login' && l.result === 'login_failed').length;
  const before = refusedLogins();
  const client = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
  try {
    await expect(client.login(`nobody-${Date.now()}`, 'not a password')).rejects.toMatchObject({ code: 'login_failed' });
  } finally {
    await client.close();
  }
  await expect.poll(refusedLogins).toBeGreaterThan(before);
}

describe('cas connection errors', () => {
  it('says the path is /admin when the URL leads to the web page instead', async () => {
    const pageUrl = server.adminUrl.replace(/\/admin$/, '/');
    const res = await casCli(['--url', pageUrl, '--user', 'alice', '--fingerprint', server.sfp, 'terminals', 'list'], `${alice.password}\n`);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('instead of a WebSocket (is the URL\'s path /admin?');
  });
});

describe('cas sessions', () => {
  it('says so when the kept session has ended, before it asks for a password', async () => {
    const cas = casIn(tempDir('cas-ended'), bob);
    ok(await cas.run(['--totp', (await nextTotp(bob))!, 'login'], `${bob.password}\n`));
    // Ended on the server (here: logged out from another client; users disable, passwd and reset-2fa do the same).
    const other = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
    await other.resume(cas.token());
    await other.logout();
    await other.close();
    const res = await cas.run(['gate', 'status']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('note: the session kept by cas login has ended');
    expect(res.stderr).toContain('run cas login again');
  });

  it('uses only a session file that is the user\'s alone, and leaves it to the server to say when a session has ended', async () => {
    const dir = tempDir('cas-file');
    const cas = casIn(dir, carol);
    ok(await cas.run(['--totp', (await nextTotp(carol))!, 'login'], `${carol.password}\n`));
    const file = path.join(dir, fs.readdirSync(dir)[0]!);
    // The expiry written at login has passed in the file, but the server slid the session: it is still used...
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(file, JSON.stringify({ ...saved, expiresAt: '2000-01-01T00:00:00.000Z' }));
    expect(ok(await cas.run(['gate', 'status']))).toMatchObject({ open: expect.any(Boolean) });
    // ...and a file others may write is not: it could be one another user planted.
    fs.chmodSync(file, 0o666);
    const refused = await cas.run(['gate', 'status']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${file} holds a session token but is not this user's alone (owner uid ${process.getuid!()}, mode 666)`);
    fs.chmodSync(file, 0o600);
    // Nor one reached through a symbolic link.
    const linked = path.join(tempDir('cas-link'), 'session.json');
    fs.renameSync(file, linked);
    fs.symlinkSync(linked, file);
    expect((await cas.run(['gate', 'status'])).stderr).toContain('is not this user\'s alone (a symbolic link)');
    fs.rmSync(file);
    fs.renameSync(linked, file);
    // cas logout ends it on the server, whatever the file said about its expiry.
    const token = cas.token();
    ok(await cas.run(['logout']));
    expect(await isLive(token)).toBe(false);
  });

  it('does not send a kept token written longer ago than a session lives: no refused resume is audited for it', async () => {
    const dir = tempDir('cas-old');
    const cas = casIn(dir, erin);
    ok(await cas.run(['--totp', (await nextTotp(erin))!, 'login'], `${erin.password}\n`));
    const file = path.join(dir, fs.readdirSync(dir)[0]!);
    const thirteenHoursAgo = new Date(Date.now() - 13 * 3600_000);
    fs.utimesSync(file, thirteenHoursAgo, thirteenHoursAgo);
    const before = server.logs.filter((l) => l.msg === 'operator action' && l.action === 'resume').length;
    const res = await cas.run(['gate', 'status']);
    expect(res.stderr).toContain('note: the session kept by cas login has ended');
    expect(fs.existsSync(file)).toBe(false);
    // Read at once, a resume's line still on its way from the server would have passed unseen.
    await logsCaughtUp();
    expect(server.logs.filter((l) => l.msg === 'operator action' && l.action === 'resume').length).toBe(before);
  });

  it('a second cas login ends the token of the first on the server, not only in its file', async () => {
    const cas = casIn(tempDir('cas-relogin'), alice);
    ok(await cas.run(['--totp', (await nextTotp(alice))!, 'login'], `${alice.password}\n`));
    const first = cas.token();
    ok(await cas.run(['--totp', (await nextTotp(alice))!, 'login'], `${alice.password}\n`));
    const second = cas.token();
    expect(second).not.toBe(first);
    expect(await isLive(first)).toBe(false);
    expect(await isLive(second)).toBe(true);
  });

  it('cas watch stops with session_expired when its session is logged out elsewhere, instead of going quiet', async () => {
    const cas = casIn(tempDir('cas-watch'), bob);
    ok(await cas.run(['--totp', (await nextTotp(bob))!, 'login'], `${bob.password}\n`));
    const watch = cas.spawn(['watch', '--topics', 'pairing']);
    let stderr = '';
    watch.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number>((resolve) => watch.on('exit', (code) => resolve(code ?? -1)));
    await expect.poll(() => stderr, { timeout: 15_000 }).toContain('watching pairing');

    ok(await cas.run(['logout']));
    const code = await Promise.race([exited, new Promise<number>((resolve) => setTimeout(() => resolve(-2), 10_000))]);
    if (code === -2) watch.kill();
    expect(code).toBe(1);
    expect(stderr).toContain('error: session_expired:');
  });
});

describe('the gate window', () => {
  it('with --json gives a refusal as one JSON object on stdout too, so that a script can tell already_exists from the rest', async () => {
    const cas = casIn(tempDir('cas-json-errors'), erin);
    ok(await cas.run(['--totp', (await nextTotp(erin))!, 'login'], `${erin.password}\n`));
    ok(await cas.run(['terminals', 'create', 'JSONERR-1']));
    const again = await cas.run(['terminals', 'create', 'JSONERR-1']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ error: 'already_exists', message: 'a terminal with serial JSONERR-1 already exists' });
    expect(again.stderr).toContain('error: already_exists: ');
    const usage = await cas.run(['gate', 'open', '--minutes', '0']);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout)).toMatchObject({ error: 'bad_request', usage: true });
  });

  it('closing a closed gate changes nothing and tells no one, while closing an open one does', async () => {
    const dave = await connectOperator(server, await addOperator(server.dataDir, 'dave'));
    try {
      await dave.request('subscribe', { topics: ['terminals'] });
      const pushes: string[] = [];
      // The gate's own pushes: dave's creation offline may reach him too, as the `operator.created` alert every logged-in
      // operator gets when the server's audit watch (once a second) finds it after his login.
      dave.on('event', (push: AdminPush) => {
        if (push.event.startsWith('gate.')) pushes.push(push.event);
      });
      expect(await dave.request('gate.close')).toMatchObject({ open: false });
      await dave.request('gate.open', { minutes: 5 });
      await dave.request('gate.close');
      await dave.request('gate.close');
      // A ping round trip after the last op: any push it caused has arrived.
      await dave.request('gate.status');
      expect(pushes).toEqual(['gate.opened', 'gate.closed']);
    } finally {
      await dave.close();
    }
  });
});
