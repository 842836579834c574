/**
 * @module The `pairing-server` command line with a real server: one server per data dir (a second is refused, a killed
 * one does not block the next), the offline commands refuse a data dir that is not there instead of creating one,
 * the public-host warning, each subcommand's help, the error format, and the audit of `users add`.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { createSelfSignedCertificate, generateKeyPair } from '../../src/crypto/certificates.js';
import { fingerprint } from '../../src/crypto/fingerprint.js';
import { ok, runCli, serverCli } from '../helpers/cli.js';
import { addOperator, connectOperator, nextTotp, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { freePort } from '../helpers/ports.js';
import { allocatePorts, CAS_CLI, SERVER_CLI, startServerProcess, tempDir, type ServerProcess } from '../helpers/server-process.js';

const PASSWORD = 'correct horse battery staple\n';
const started: ServerProcess[] = [];
const clients: AdminClient[] = [];

async function start(opts: Parameters<typeof startServerProcess>[0] = {}): Promise<ServerProcess> {
  const server = await startServerProcess(opts);
  started.push(server);
  return server;
}

afterAll(async () => {
  for (const client of clients) await client.close();
  for (const server of started) await server.stop();
});

const noDataDir = (dir: string): string =>
  `error: not_found: no data dir at ${dir}: start the server once (pairing-server serve --data-dir ${dir}) or pass the right --data-dir\n`;

describe('one server per data dir', () => {
  it('refuses a second serve on the same data dir at once, naming the running server\'s pid and the dir', async () => {
    const first = await start();
    const other = await allocatePorts();
    const t0 = Date.now();
    const second = await serverCli(['serve', '--data-dir', first.dataDir, '--host', '127.0.0.1',
      '--gate-port', String(other.gate), '--master-port', String(other.master), '--admin-port', String(other.admin)]);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/^error: conflict: /);
    expect(second.stderr).toContain(`(pid ${first.pid})`);
    expect(second.stderr).toContain(first.dataDir);
    // The first server's gate window and store were left alone: it still answers its operators.
    const admin = await connectOperator(first, await addOperator(first.dataDir, 'alice'));
    clients.push(admin);
    expect(await admin.request('gate.status', {})).toMatchObject({ open: false });
  }, 90_000);

  it('keeps the offline commands working while the server runs', async () => {
    const server = await start();
    expect((await serverCli(['users', 'add', 'bob', '--password-stdin', '--no-2fa', '--data-dir', server.dataDir], PASSWORD)).code).toBe(0);
    const list = await serverCli(['users', 'list', '--json', '--data-dir', server.dataDir]);
    expect(list.code).toBe(0);
    expect(list.json).toEqual([expect.objectContaining({ user: 'bob', has2fa: false, enrolmentCodeUntil: expect.any(String) })]);
    expect((await serverCli(['users', 'list', '--data-dir', server.dataDir])).stdout).toMatch(/^bob\t2fa=no \(enrolment code until \S+\)\t/);
    const printed = await serverCli(['fingerprint', '--data-dir', server.dataDir]);
    expect(printed.stdout.trim()).toBe(server.sfp);
    const verify = await serverCli(['audit', 'verify', '--json', '--data-dir', server.dataDir]);
    expect(verify.json).toMatchObject({ ok: true, entries: 1 });
  });

  it('does not outlive a SIGKILLed server, nor stop a graceful restart; a stale pid file blocks nothing', async () => {
    const killed = await start();
    const { dataDir, ports } = killed;
    expect(await killed.stop('SIGKILL')).toBe(null);
    // A pid file from a killed server, naming a live process (this one): the lock is not the pid file.
    fs.writeFileSync(path.join(dataDir, 'server.pid'), `${process.pid}\n`);
    const next = await start({ dataDir, ports });
    expect(next.sfp).toBe(killed.sfp);
    expect(fs.readFileSync(path.join(dataDir, 'server.pid'), 'utf8').trim()).toBe(String(next.pid));
    expect(await next.stop()).toBe(0);
    expect(fs.existsSync(path.join(dataDir, 'server.pid'))).toBe(false);
    await start({ dataDir, ports });
  });
});

describe('only serve creates a data dir', () => {
  it('fingerprint, the users commands and audit verify refuse a missing or empty data dir, and create nothing', async () => {
    const parent = tempDir('no-data-dir');
    const missing = path.join(parent, 'typo');
    const empty = tempDir('empty-data-dir');
    for (const dir of [missing, empty]) {
      for (const [args, stdin] of [
        [['fingerprint'], undefined],
        [['users', 'add', 'alice', '--password-stdin'], PASSWORD],
        [['users', 'list'], undefined],
        [['users', 'disable', 'alice'], undefined],
        [['users', 'enable', 'alice'], undefined],
        [['users', 'reset-2fa', 'alice'], undefined],
        [['users', 'passwd', 'alice', '--password-stdin'], PASSWORD],
        [['audit', 'verify'], undefined],
      ] as const) {
        const result = await serverCli([...args, '--data-dir', dir], stdin);
        expect({ args, code: result.code, stderr: result.stderr, stdout: result.stdout }).toEqual({ args, code: 1, stderr: noDataDir(dir), stdout: '' });
      }
    }
    expect(fs.readdirSync(parent)).toEqual([]);
    expect(fs.readdirSync(empty)).toEqual([]);
  });

  it('fingerprint of a licence certificate needs no data dir', async () => {
    const pair = generateKeyPair('ec');
    const cert = createSelfSignedCertificate({ privateKeyPem: pair.privateKeyPem, commonName: 'licence', days: 30, altNames: ['localhost'] });
    const dir = tempDir('licence');
    fs.writeFileSync(path.join(dir, 'server.key'), pair.privateKeyPem, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'server.crt'), cert.certPem);
    const result = await serverCli(['fingerprint', '--server-key', path.join(dir, 'server.key'), '--server-cert', path.join(dir, 'server.crt'), '--data-dir', path.join(dir, 'none')]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(fingerprint(cert.der));
    expect(fs.existsSync(path.join(dir, 'none'))).toBe(false);
  });
});

describe('public host', () => {
  const warning = (entry: Record<string, unknown>): boolean => entry.level === 40 && /--public-host/.test(String(entry.msg));

  it('warns once at start-up when the services bind to every address and no --public-host was given', async () => {
    const wildcard = await start({ extraArgs: ['--host', '0.0.0.0'] });
    const lines = wildcard.logs.filter(warning);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toContain(`https://127.0.0.1:${wildcard.ports.master}`);
    const named = await start({ extraArgs: ['--host', '0.0.0.0', '--public-host', 'pairing.example.test'] });
    const loopback = await start();
    expect([...named.logs, ...loopback.logs].filter(warning)).toEqual([]);
  });

  it('warns when the certificate made at the first start does not name the --public-host of a later one', async () => {
    const first = await start({ extraArgs: ['--public-host', 'pairing.example.test'] });
    const { dataDir, ports } = first;
    await first.stop();
    const moved = await start({ dataDir, ports, extraArgs: ['--public-host', 'atm-trust.example.test'] });
    expect(moved.logs.filter(warning).map((l) => l.msg)).toEqual([expect.stringContaining('the server certificate does not name --public-host atm-trust.example.test')]);
    await moved.stop();
    const same = await start({ dataDir, ports, extraArgs: ['--public-host', 'pairing.example.test'] });
    expect(same.logs.filter(warning)).toEqual([]);
  });
});

describe('a TLS identity half written', () => {
  it('a key left without its certificate (a crash between the two writes) gets a certificate for it: the server starts', async () => {
    const first = await start();
    const { dataDir, ports } = first;
    expect(await first.stop('SIGKILL')).toBe(null);
    const tls = path.join(dataDir, 'tls');
    const key = fs.readFileSync(path.join(tls, 'server.key'));
    fs.rmSync(path.join(tls, 'server.crt'));
    // And what a crash in the middle of a write leaves now: a temporary file beside the target.
    fs.writeFileSync(path.join(tls, '.server.key.12345.0badc0de.tmp'), key.subarray(0, 40), { mode: 0o600 });
    // Before: every start failed with "internal_error: EEXIST: file already exists, open '…/tls/server.key'".
    const next = await start({ dataDir, ports });
    expect(next.sfp).not.toBe(first.sfp);
    expect(fs.readFileSync(path.join(tls, 'server.key')).equals(key)).toBe(true);
    expect(fs.readdirSync(tls).sort()).toEqual(['server.crt', 'server.key']);
    const cert = new crypto.X509Certificate(fs.readFileSync(path.join(tls, 'server.crt')));
    expect(cert.checkPrivateKey(crypto.createPrivateKey(key))).toBe(true);
    expect(fingerprint(cert.raw)).toBe(next.sfp);
    expect((await serverCli(['fingerprint', '--data-dir', dataDir])).stdout.trim()).toBe(next.sfp);
    // Kept from then on.
    expect(await next.stop()).toBe(0);
    expect((await start({ dataDir, ports })).sfp).toBe(next.sfp);
  }, 60_000);

  it('is not made anew for a data dir whose terminals met the old one: the server refuses to start, unless --new-identity', async () => {
    const first = await start();
    const admin = await connectOperator(first, await addOperator(first.dataDir, 'alice'));
    await admin.request('gate.open', { minutes: 5 });
    await pairRawTerminal(admin, first, RawTerminal.create('IDENT-1', 'ec'));
    await admin.close();
    const { dataDir, ports } = first;
    expect(await first.stop()).toBe(0);
    const tls = path.join(dataDir, 'tls');
    fs.renameSync(tls, `${tls}.lost`);
    const args = ['serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--gate-port', String(ports.gate), '--master-port', String(ports.master), '--admin-port', String(ports.admin)];
    const refused = await serverCli(args);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: conflict: .*server\.crt is missing or cut short, but 1 terminal certificate\(s\) in the store .*--new-identity/);
    expect(fs.existsSync(tls)).toBe(false);
    // Restored, the same identity starts; --new-identity makes a new one, and says what that means.
    fs.renameSync(`${tls}.lost`, tls);
    const restored = await start({ dataDir, ports });
    expect(restored.sfp).toBe(first.sfp);
    expect(await restored.stop()).toBe(0);
    fs.rmSync(tls, { recursive: true });
    const renewed = await start({ dataDir, ports, extraArgs: ['--new-identity'] });
    expect(renewed.sfp).not.toBe(first.sfp);
    expect(renewed.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('a new TLS identity (--new-identity)'))).toBe(true);
  }, 90_000);
});

describe('the start-up banner', () => {
  it('hints at opening the closed gate with a cas command that reaches this server: CAS_URL in front on another admin port', async () => {
    const server = await start();
    // The banner goes to stderr before the listening line goes to stdout: two pipes, read in no set order.
    await expect.poll(() => server.output()).toContain('open it with: ');
    const hint = /closed — open it with: (.*)\)$/m.exec(server.output())?.[1];
    expect(hint).toBe(`CAS_URL=${server.adminUrl} cas gate open --minutes 60`);

    // Copied as printed, after the login the hand pairing starts with (README), it opens this server's gate.
    const [assignment, command, ...args] = hint!.split(' ');
    const [name, value] = [assignment!.slice(0, assignment!.indexOf('=')), assignment!.slice(assignment!.indexOf('=') + 1)];
    expect(command).toBe('cas');
    const operator = await addOperator(server.dataDir, 'hinted');
    const env = { [name]: value, CAS_USER: operator.user, CAS_FINGERPRINT: server.sfp, CAS_SESSION_DIR: tempDir('banner-cas') };
    const loggedIn = await runCli(CAS_CLI, ['login', '--totp', (await nextTotp(operator))!], `${operator.password}\n`, env);
    expect(loggedIn.code, loggedIn.stderr).toBe(0);
    const opened = await runCli(CAS_CLI, args, undefined, env);
    expect(opened.code, opened.stderr).toBe(0);
    expect((await runCli(CAS_CLI, ['--json', 'gate', 'status'], undefined, env)).json).toMatchObject({ open: true, port: server.ports.gate });
  });
});

describe('empty environment variables', () => {
  /** `serve` run the way a unit file or compose template runs it: options from the environment, in a working directory of its own. */
  async function listeningLine(cwd: string, args: string[], env: Record<string, string>): Promise<Record<string, unknown>> {
    const child = spawn(process.execPath, [SERVER_CLI, 'serve', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PAIRING_LOG_PRETTY: '0', ...env } });
    let output = '';
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      return await new Promise((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          for (const line of output.split('\n')) {
            if (line.includes('"msg":"listening"')) resolve(JSON.parse(line) as Record<string, unknown>);
          }
        });
        child.stderr!.on('data', (chunk: Buffer) => void (output += chunk.toString()));
        void exited.then(() => reject(new Error(`server exited before listening:\n${output}`)));
      });
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }

  it('starts with the defaults when PAIRING_DATA_DIR, _HOST, _PUBLIC_HOST, _GATE_PORT and _MIN_FREE_DISK are empty', async () => {
    const cwd = tempDir('empty-env-cwd');
    const master = await freePort();
    const admin = await freePort();
    const ready = await listeningLine(cwd, ['--master-port', String(master), '--admin-port', String(admin)], {
      PAIRING_DATA_DIR: '', PAIRING_HOST: '', PAIRING_PUBLIC_HOST: '', PAIRING_GATE_PORT: '', PAIRING_MIN_FREE_DISK: '',
    });
    // Before: the data dir was the working directory itself, the gate port 0 (random) and the URLs https://:PORT.
    expect(ready.dataDir).toBe(path.join(fs.realpathSync(cwd), 'data'));
    expect(ready.ports).toEqual({ gate: 7741, master, admin });
    expect(ready.urls).toEqual({ gate: 'https://127.0.0.1:7741', master: `https://127.0.0.1:${master}`, admin: `https://127.0.0.1:${admin}` });
    expect(fs.existsSync(path.join(cwd, 'data', 'store'))).toBe(true);
    expect(fs.existsSync(path.join(cwd, 'store'))).toBe(false);
  }, 60_000);

  it('refuses a number that is not plain digits, an empty --host/--public-host and a history shorter than two pairing TTLs, naming the option (exit 2)', async () => {
    const dataDir = tempDir('empty-env-refused');
    const ports = await allocatePorts();
    const serve = (args: string[], env: Record<string, string> = {}) => runCli(SERVER_CLI, ['serve', '--data-dir', dataDir, '--gate-port', String(ports.gate),
      '--admin-port', String(ports.admin), ...args], undefined, { PAIRING_MASTER_PORT: String(ports.master), ...env });
    const [hex, exponent, host, publicHost, history] = await Promise.all([
      serve([], { PAIRING_MASTER_PORT: '0x1cfd' }),
      serve(['--host', '127.0.0.1'], { PAIRING_MIN_FREE_DISK: '1e3' }),
      serve(['--host', '']),
      serve(['--host', '127.0.0.1', '--public-host', '']),
      serve(['--host', '127.0.0.1', '--pairing-ttl', '172800', '--pairing-history-days', '3']),
    ]);
    expect(hex.code).toBe(2);
    expect(hex.stderr).toMatch(/^error: bad_request: --master-port must be a port number 0\.\.65535, got "0x1cfd" \(from PAIRING_MASTER_PORT\)\n/);
    expect(exponent.code).toBe(2);
    expect(exponent.stderr).toContain('--min-free-disk must be a whole number of MiB (0: no check), got "1e3" (from PAIRING_MIN_FREE_DISK)');
    expect(host.code).toBe(2);
    expect(host.stderr).toMatch(/^error: bad_request: --host needs a value, got an empty one\n/);
    expect(publicHost.code).toBe(2);
    expect(publicHost.stderr).toMatch(/^error: bad_request: --public-host needs a value, got an empty one\n/);
    expect(history.code).toBe(2);
    expect(history.stderr).toMatch(/^error: bad_request: --pairing-history-days must be at least 4 with a pairing TTL of 172800 s /);
    // Refused before anything was created.
    expect(fs.readdirSync(dataDir)).toEqual([]);
  }, 90_000);
});

describe('help and errors', () => {
  it('gives each subcommand its own usage and keeps the global help', async () => {
    const global = await serverCli(['--help']);
    expect(global.stdout).toMatch(/^pairing-server — the trust server/);
    expect(global.stdout).toContain('--threads N');
    for (const [args, synopsis] of [
      [['serve', '--help'], 'pairing-server serve [options]'],
      [['fingerprint', '--help'], 'pairing-server fingerprint'],
      [['users', 'add', '--help'], 'pairing-server users add NAME --password-stdin'],
      [['users', 'list', '--help'], 'pairing-server users list'],
      [['users', 'disable', '--help'], 'pairing-server users disable NAME [--force]'],
      [['users', 'enable', '--help'], 'pairing-server users enable NAME'],
      [['users', 'reset-2fa', '--help'], 'pairing-server users reset-2fa NAME [--no-2fa]'],
      [['users', 'passwd', '--help'], 'pairing-server users passwd NAME --password-stdin'],
      [['users', 'role', '--help'], 'pairing-server users role NAME operator|viewer'],
      [['audit', 'verify', '--help'], 'pairing-server audit verify'],
    ] as const) {
      const help = await serverCli([...args]);
      expect(help.code).toBe(0);
      expect(help.stdout.startsWith(`Usage: ${synopsis}`)).toBe(true);
      expect(help.stdout).toContain('Example');
      expect(help.stdout).not.toBe(global.stdout);
    }
    expect((await serverCli(['users', 'add', '--help'])).stdout).not.toContain('--gate-port');
    const users = (await serverCli(['users', '--help'])).stdout;
    for (const command of ['add', 'list', 'disable', 'enable', 'reset-2fa', 'passwd', 'role']) expect(users).toContain(`Usage: pairing-server users ${command}`);
  });

  it('prints usage mistakes as error: bad_request: … with exit 2', async () => {
    const server = await start();
    for (const args of [
      ['users', 'add', 'carol', '--data-dir', server.dataDir],
      ['users', 'add', '--password-stdin', '--data-dir', server.dataDir],
      ['users', 'remove', 'carol', '--data-dir', server.dataDir],
      ['users', 'disable', '--data-dir', server.dataDir],
      ['users', 'enable', 'carol', '--force', '--data-dir', server.dataDir],
      ['users', 'passwd', 'carol', '--data-dir', server.dataDir],
      ['users', 'reset-2fa', 'carol', 'dave', '--data-dir', server.dataDir],
      ['users', 'role', 'carol', '--data-dir', server.dataDir],
      ['users', 'role', 'carol', 'admin', '--data-dir', server.dataDir],
      ['users', 'add', 'carol', '--password-stdin', '--role', 'root', '--data-dir', server.dataDir],
      ['users', 'passwd', 'carol', '--password-stdin', '--role', 'viewer', '--data-dir', server.dataDir],
      ['fingerprint', '--json', '--data-dir', server.dataDir],
      ['bogus'],
      ['--gate-port', 'seven'],
      ['--no-such-flag'],
    ]) {
      const result = await serverCli(args, PASSWORD);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toMatch(/^error: bad_request: .+\n\(pairing-server .*--help for usage\)\n$/);
    }
    // Nothing on stdin is the pipe forgotten, not a password too short: said so, with the pipe to add.
    for (const command of ['add', 'passwd']) {
      const empty = await serverCli(['users', command, 'carol', '--password-stdin', '--data-dir', server.dataDir]);
      expect({ command, code: empty.code }).toEqual({ command, code: 2 });
      expect(empty.stderr).toBe(`error: bad_request: no password on standard input: pipe it in, e.g. echo '…' | pairing-server users ${command} carol --password-stdin\n`
        + `(pairing-server users ${command} --help for usage)\n`);
    }
    // A group without its command names the commands, not an empty one.
    expect((await serverCli(['users'])).stderr).toBe('error: bad_request: users needs a command: users add | list | disable | enable | reset-2fa | passwd | role\n(pairing-server users --help for usage)\n');
    expect((await serverCli(['audit'])).stderr).toMatch(/^error: bad_request: audit needs a command: audit verify\n/);
  });
});

describe('a password typed at a terminal', () => {
  /**
   * Runs `pairing-server ARGS` on a pseudo-terminal through script(1), as an administrator's shell would, types each
   * step's line and Enter once its prompt shows, and answers what the screen showed.
   */
  async function typedAtTerminal(args: string, steps: [prompt: string, line: string][]): Promise<string> {
    const child = spawn('script', ['-qfc', `${process.execPath} ${SERVER_CLI} ${args}`, '/dev/null'], { stdio: 'pipe' });
    let screen = '';
    child.stdout.on('data', (chunk: Buffer) => (screen += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let shown = 0;
    for (const [prompt, line] of steps) {
      // Typed only after its prompt: before it, the terminal would still echo (its raw mode is set with the prompt).
      const waitFrom = shown;
      for (const deadline = Date.now() + 20_000; !screen.includes(prompt, waitFrom) && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 50));
      shown = screen.indexOf(prompt, waitFrom) + prompt.length;
      child.stdin.write(`${line}\r`);
    }
    await exited;
    return screen;
  }

  const listed = async (dataDir: string): Promise<string[]> =>
    (ok(await serverCli(['users', 'list', '--json', '--data-dir', dataDir])) as { user: string }[]).map((u) => u.user);

  it('is read twice without echo after a prompt, and is the password the operator logs in with', async () => {
    const server = await start();
    const password = 'typed by hand at a terminal';
    const screen = await typedAtTerminal(`users add dora --password-stdin --data-dir ${server.dataDir}`,
      [['password for dora (not shown): ', password], ['password for dora again: ', password]]);
    expect(screen).toContain('operator dora created');
    expect(screen).not.toContain(password);
    const totpSecret = /secret=([A-Z2-7]+)/.exec(screen)?.[1] ?? null;
    const dora = await connectOperator(server, { user: 'dora', password, totpSecret, enrolmentCode: null });
    clients.push(dora);
  }, 60_000);

  it('is refused when Enter alone was typed, as no password typed (not as a pipe forgotten), and nothing is created', async () => {
    const server = await start();
    const screen = await typedAtTerminal(`users add erin --password-stdin --data-dir ${server.dataDir}`, [['password for erin (not shown): ', '']]);
    expect(screen).toContain('error: bad_request: no password typed; nothing was changed');
    expect(screen).not.toContain('pipe it in');
    expect(screen).not.toContain('again: ');
    expect(await listed(server.dataDir)).not.toContain('erin');
  }, 60_000);

  it('is refused when the second line typed differs from the first, and nothing is created', async () => {
    const server = await start();
    const screen = await typedAtTerminal(`users add fay --password-stdin --data-dir ${server.dataDir}`,
      [['password for fay (not shown): ', 'a password typed by hand'], ['password for fay again: ', 'a password typed by hanf']]);
    expect(screen).toContain('error: bad_request: the two passwords typed differ; nothing was changed');
    expect(screen).not.toContain('a password typed');
    expect(await listed(server.dataDir)).not.toContain('fay');
  }, 60_000);
});

describe('users add audit', () => {
  it('audits a created operator with result ok, and refusals with their code', async () => {
    const server = await start();
    const alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
    clients.push(alice);
    const again = await serverCli(['users', 'add', 'alice', '--password-stdin', '--data-dir', server.dataDir], PASSWORD);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: already_exists: /);
    // Attributed to the account of the process's user id: $USER is anyone's to set.
    const invalid = await runCli(SERVER_CLI, ['users', 'add', 'Not A Name', '--password-stdin', '--data-dir', server.dataDir], PASSWORD, { USER: 'someone-else' });
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^error: invalid_field: /);
    const entries = (await alice.request('audit.list', { limit: 10 })) as { user: string; action: string; target: string; detail: Record<string, unknown> }[];
    const byAccount = new RegExp(`^cli:${os.userInfo().username}(\\(sudo:[^)]+\\))?$`);
    expect(entries.filter((e) => e.action === 'users.add').map((e) => byAccount.test(e.user))).toEqual([true, true, true]);
    expect(entries.filter((e) => e.action === 'users.add').map(({ target, detail }) => ({ target, detail })).reverse()).toEqual([
      { target: 'alice', detail: { has2fa: true, role: 'operator', result: 'ok' } },
      { target: 'alice', detail: { has2fa: true, role: 'operator', result: 'already_exists' } },
      { target: 'Not A Name', detail: { has2fa: true, role: 'operator', result: 'invalid_field' } },
    ]);
  });
});

describe('backup', () => {
  it('copies a running server\'s data dir without secrets.key, and the copy serves the same fleet once the key is put back', async () => {
    const server = await start();
    const keeper = await addOperator(server.dataDir, 'keeper');
    const admin = await connectOperator(server, keeper);
    clients.push(admin);
    await admin.request('gate.open', { minutes: 10 });
    const terminal = RawTerminal.create('BACKUP-1', 'ec');
    await pairRawTerminal(admin, server, terminal);
    const event = { eventId: 'before-backup', currency: 'EUR', denomination: 50, count: 2, at: new Date().toISOString() };
    expect((await terminal.send(server.masterUrl, '/api/v1/cash-events', { body: JSON.stringify(event) })).json).toEqual({ accepted: true, duplicate: false });

    const out = path.join(tempDir('backup-parent'), 'copy');
    const made = await serverCli(['backup', '--out', out, '--json', '--data-dir', server.dataDir]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.json).toMatchObject({ out, copied: ['store', 'tls'] });
    expect(JSON.parse(fs.readFileSync(path.join(out, 'backup.json'), 'utf8'))).toEqual({ takenAt: expect.any(String), from: server.dataDir });
    expect(fs.existsSync(path.join(out, 'secrets.key'))).toBe(false);
    expect(fs.statSync(out).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(out, 'tls', 'server.key')).mode & 0o777).toBe(0o600);
    // A second backup into the same folder is refused: nothing is overwritten.
    expect((await serverCli(['backup', '--out', out, '--data-dir', server.dataDir])).stderr).toMatch(/^error: already_exists: .* is not empty/);

    // Who took it, and where to, is audited on the server it was taken from.
    const [backupEntry] = (await admin.request('audit.list', { action: 'server.backup' })) as { user: string; detail: Record<string, unknown> }[];
    expect(backupEntry).toMatchObject({ user: expect.stringMatching(/^cli:/), detail: { out, result: 'ok' } });
    // Its audit chain can be checked without the key (it holds nothing sealed), and that creates no key.
    const verified = await serverCli(['audit', 'verify', '--json', '--data-dir', out]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.json).toMatchObject({ ok: true });
    expect(fs.existsSync(path.join(out, 'secrets.key'))).toBe(false);
    // Without the key the copy refuses to open (its operator has 2FA); with it, the copy is the same server.
    const refused = await serverCli(['users', 'list', '--data-dir', out]);
    expect(refused.stderr).toContain('secrets.key is missing');
    fs.copyFileSync(path.join(server.dataDir, 'secrets.key'), path.join(out, 'secrets.key'));
    // Taken by the old server after the copy was made: the copy holds neither this nonce nor this logout.
    const captured = terminal.replayableAnywhere('/api/v1/ping');
    expect((await captured(server.masterUrl)).status).toBe(200);
    const loggedOut = admin.token!;
    await admin.request('logout', {});
    await server.stop();
    // The restored server refuses what was signed before the second it starts in: let that second be a later one.
    await new Promise((resolve) => setTimeout(resolve, 1_010 - (Date.now() % 1_000)));
    const restored = await start({ dataDir: out });
    expect(restored.sfp).toBe(server.sfp);
    const told = await restored.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('started on a restored backup'));
    expect(told).toMatchObject({ level: 40, sessionsEnded: 1, from: server.dataDir });
    expect(fs.existsSync(path.join(out, 'backup.json'))).toBe(false);
    // The ping the old server took, sent again: its nonce is not in the copy, but it was signed before this start.
    expect((await captured(restored.masterUrl)).status).toBe(401);
    const again = await connectOperator(restored, keeper);
    clients.push(again);
    await expect(again.resume(loggedOut)).rejects.toMatchObject({ code: 'session_expired' });
    expect(await again.request('terminals.get', { serial: 'BACKUP-1' })).toMatchObject({ state: 'paired', tfp: terminal.tfp });
    const [restoredEntry] = (await again.request('audit.list', { action: 'server.restored' })) as { user: string; detail: Record<string, unknown> }[];
    expect(restoredEntry).toMatchObject({ user: expect.stringMatching(/^cli:/), detail: { takenAt: expect.any(String), from: server.dataDir, sessionsEnded: 1, result: 'ok' } });
    expect((await terminal.send(restored.masterUrl, '/api/v1/cash-events', { body: JSON.stringify(event) })).json).toEqual({ accepted: true, duplicate: true });
  }, 90_000);

  it('needs --out, and a data dir', async () => {
    const missing = await serverCli(['backup', '--data-dir', tempDir('backup-none')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--out DIR');
    const nowhere = tempDir('backup-nowhere');
    expect((await serverCli(['backup', '--out', path.join(nowhere, 'x'), '--data-dir', nowhere])).stderr).toBe(noDataDir(nowhere));
  });
});
