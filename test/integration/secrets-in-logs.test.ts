/**
 * @module Secrets stay secret: a full run with the real CLIs (operator created, logins right and wrong, pairing, approval, cash
 * events, backup and restore with a passphrase, logout and reuse of the dead token), then every log and CLI output is searched
 * for every secret it used, the store is searched for those that must not rest in it, and file modes are checked — all under
 * umask 000, so only modes the code sets explicitly count.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/admin/admin-client.js';
import { totpCode } from '../../src/crypto/totp.js';
import { casCli, ok, serverCli, terminalCli, type CliResult } from '../helpers/cli.js';
import { writeSection } from '../helpers/reliability.js';
import { startServerProcess, tempDir, type ServerProcess } from '../helpers/server-process.js';

const SERIAL = 'ATM-SECRET-1';
const PASSWORD = 'tr0ub4dor & 3 horses, stapled';
const WRONG_PASSWORD = 'guessed-Pa55word-that-is-wrong';
const PASSPHRASE = 'restore point passphrase 7f3a';
const WRONG_PASSPHRASE = 'not the restore passphrase 19c2';

let server: ServerProcess;
let previousUmask = 0;
const root = tempDir('secrets');
const dataDir = path.join(root, 'data');
const atm = path.join(root, 'atm');
const casDir = path.join(root, 'cas');
const backupFile = path.join(root, 'atm.restore');
/** Every CLI output that is a log or a status, i.e. all but the one that prints the TOTP secret by design. */
const outputs: Array<{ what: string; text: string }> = [];
const secrets = new Map<string, string[]>();
const checks: Array<[string, string, string]> = [];
let totpSecret = '';
let step = Math.floor(Date.now() / 30_000);

function record(what: string, result: CliResult): CliResult {
  outputs.push({ what, text: `${result.stdout}\n${result.stderr}` });
  return result;
}


const term = async (args: string[], stdin?: string) => record(`terminal ${args[0]}`, await terminalCli(atm, args, stdin));
const cas = async (args: string[], stdin?: string) =>
  record(`cas ${args.filter((a) => !a.startsWith('-') && !/^\d{6}$/.test(a)).slice(0, 2).join(' ')}`, await casCli(['--url', server.adminUrl, '--user', 'alice', '--fingerprint', server.sfp, '--json', ...args], stdin));

/** A fresh TOTP code, one per 30-second step (each is accepted once). */
async function nextCode(): Promise<string> {
  step = Math.max(step + 1, Math.floor(Date.now() / 30_000));
  const code = await totpCode(totpSecret, step * 30_000 + 1_000);
  addSecret('TOTP code', code);
  return code;
}

function addSecret(kind: string, value: string): void {
  if (value.length === 0) throw new Error(`empty secret for ${kind}`);
  secrets.set(kind, [...(secrets.get(kind) ?? []), value]);
}

/** Whole-token match for short numeric secrets (a 6-digit code inside a 13-digit timestamp is not a leak). */
function contains(text: string, secret: string): boolean {
  if (/^\d+$/.test(secret)) return new RegExp(`(?<!\\d)${secret}(?!\\d)`).test(text);
  return text.includes(secret);
}

/** Every form in which a secret could be printed: as given, and the base64 lines of a PEM body. */
function pemBodyLines(pem: string): string[] {
  return pem.split('\n').filter((line) => line.length >= 32 && !line.startsWith('-----'));
}

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? [full, ...walk(full)] : [full];
  });
}

beforeAll(async () => {
  // MUST come first: every file the server and the CLIs create below is then as open as their own code leaves it.
  previousUmask = process.umask(0o000);
  process.env.CAS_SESSION_DIR = casDir;
  // The server first: only `serve` creates a data dir; `users add` then writes into the running server's store.
  server = await startServerProcess({ dataDir });
  const created = await serverCli(['users', 'add', 'alice', '--password-stdin', '--json', '--data-dir', dataDir], `${PASSWORD}\n`);
  if (created.code !== 0) throw new Error(created.stderr);
  totpSecret = created.json.totpSecret;
  addSecret('operator password', PASSWORD);
  addSecret('operator password (wrong attempt)', WRONG_PASSWORD);
  addSecret('TOTP secret', totpSecret);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  process.umask(previousUmask);
  const leaked = checks.filter((c) => c[2] !== 'absent').length;
  writeSection({
    name: 'secrets-in-logs',
    title: 'Secrets in logs, outputs and at rest; file modes',
    summary: [
      'A full run with the real server and CLIs under umask 000 (operator created, a wrong and a right login, pairing, approval, cash events, backup and restore with a right and a wrong passphrase, logout, reuse of the dead token).',
      `Searched the server log (debug level) and ${outputs.length} CLI outputs for ${[...secrets.values()].flat().length} secret values of ${secrets.size} kinds; searched the store for those that must not rest in it; ${leaked} found.`,
      'Data dir, TLS key, sealing key, store, terminal state, restore point and cas session are owner-only; only public certificates may be readable by others.',
    ],
    numbers: { secretsChecked: checks.length, secretsLeaked: leaked },
    table: { columns: ['secret', 'searched in', 'result'], rows: checks },
  });
  fs.rmSync(root, { recursive: true, force: true });
});

describe('a full run', () => {
  it('logs in, pairs, records cash, backs up and restores, logs out', async () => {
    const refused = await cas(['--totp', '000000', 'login'], `${WRONG_PASSWORD}\n`);
    expect(refused.code).toBe(1);
    ok(await cas(['--totp', await nextCode(), 'login'], `${PASSWORD}\n`));
    const [sessionFileName] = fs.readdirSync(casDir);
    const token = JSON.parse(fs.readFileSync(path.join(casDir, sessionFileName!), 'utf8')).token as string;
    addSecret('session token', token);

    ok(await cas(['gate', 'open', '--minutes', '30']));
    ok(await cas(['terminals', 'create', SERIAL]));
    ok(await term(['init', '--serial', SERIAL, '--key', 'ec']));
    addSecret('terminal private key (PEM body line)', pemBodyLines(fs.readFileSync(path.join(atm, 'key.pem'), 'utf8'))[0]!);
    for (const line of pemBodyLines(fs.readFileSync(path.join(atm, 'key.pem'), 'utf8')).slice(1)) addSecret('terminal private key (PEM body line)', line);
    const pending = ok(await term(['pair', '--gate', server.gateUrl]));
    const nonce = JSON.parse(fs.readFileSync(path.join(atm, 'state.json'), 'utf8')).pairing.terminalNonce as string;
    addSecret('terminal nonce (reveal), base64', nonce);
    addSecret('terminal nonce (reveal), hex', Buffer.from(nonce, 'base64').toString('hex'));

    const [request] = ok(await cas(['pairing', 'list', '--state', 'pending']));
    ok(await cas(['pairing', 'approve', request.requestId, '--code', pending.code]));
    expect(ok(await term(['pair', '--gate', server.gateUrl])).status).toBe('trusted');
    ok(await term(['cash-event', '--currency', 'USD', '--denomination', '50', '--count', '2']));
    ok(await term(['ping']));

    addSecret('restore-point passphrase', PASSPHRASE);
    addSecret('restore-point passphrase (wrong attempt)', WRONG_PASSPHRASE);
    ok(await term(['backup', '--out', backupFile], `${PASSPHRASE}\n`));
    const wrong = await term(['restore', '--in', backupFile, '--force'], `${WRONG_PASSPHRASE}\n`);
    expect(wrong.json.error).toBe('unauthenticated');
    ok(await term(['restore', '--in', backupFile, '--force'], `${PASSPHRASE}\n`));
    expect(ok(await term(['ping'])).serverTime).toBeTruthy();

    ok(await cas(['logout']));
    const reuse = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
    await expect(reuse.resume(token)).rejects.toMatchObject({ code: 'session_expired' });
    await reuse.close();

    const tlsKey = fs.readFileSync(path.join(dataDir, 'tls', 'server.key'), 'utf8');
    for (const line of pemBodyLines(tlsKey)) addSecret('server TLS private key (PEM body line)', line);
    for (const file of walk(dataDir).filter((f) => path.basename(f) === 'secrets.key')) {
      const key = fs.readFileSync(file);
      addSecret('TOTP sealing key', key.toString('hex'));
      addSecret('TOTP sealing key', key.toString('base64'));
    }
    // A graceful stop flushes the server's log.
    expect(await server.stop()).toBe(0);
  });
});

describe('no secret in any log or output', () => {
  it.each(['server log', 'CLI outputs'] as const)('%s', (where) => {
    const texts = where === 'server log' ? [{ what: 'server', text: server.output() }] : outputs;
    // Positive control: the search does see what is printed on purpose.
    expect(texts.some((t) => t.text.includes(SERIAL))).toBe(true);
    const found: string[] = [];
    for (const [kind, values] of secrets) {
      const hit = texts.find((t) => values.some((v) => contains(t.text, v)));
      checks.push([kind, where, hit ? `FOUND in ${hit.what}` : 'absent']);
      if (hit) found.push(`${kind} in ${hit.what}`);
    }
    expect(found).toEqual([]);
  });

  it('every audited op of the run is an operator action line in the server log (refusals at warn), and the search above covered them', () => {
    const actions = server.logs.filter((l) => l.msg === 'operator action');
    const seen = new Set(actions.map((l) => `${String(l.action)} ${String(l.result)}`));
    for (const expected of ['users.add ok', 'login login_failed', 'login ok', 'gate.open ok', 'terminals.create ok', 'pairing.approve ok', 'logout ok', 'resume session_expired']) {
      expect(seen).toContain(expected);
    }
    expect(actions.filter((l) => l.result !== 'ok').every((l) => l.level === 40)).toBe(true);
    expect(actions.filter((l) => l.action !== 'users.add').every((l) => typeof l.remoteAddress === 'string')).toBe(true);
  });

  it('the store holds no password, TOTP secret, session token, terminal key, nonce or passphrase', () => {
    const mustNotRest = ['operator password', 'operator password (wrong attempt)', 'TOTP secret', 'session token', 'terminal private key (PEM body line)', 'terminal nonce (reveal), base64', 'restore-point passphrase'];
    const files = walk(path.join(dataDir, 'store')).filter((f) => fs.statSync(f).isFile());
    expect(files.length).toBeGreaterThan(0);
    const bytes = Buffer.concat(files.map((f) => fs.readFileSync(f)));
    const found: string[] = [];
    for (const kind of mustNotRest) {
      const hit = (secrets.get(kind) ?? []).some((v) => bytes.includes(Buffer.from(v)));
      checks.push([kind, 'store files', hit ? 'FOUND' : 'absent']);
      if (hit) found.push(kind);
    }
    expect(found).toEqual([]);
  });
});

describe('owner-only files', () => {
  it('the data dir, keys and store are owner-only; only public certificates are readable by others', () => {
    const open: string[] = [];
    for (const file of [dataDir, ...walk(dataDir)]) {
      const stat = fs.statSync(file);
      const others = stat.mode & 0o077;
      if (others === 0) continue;
      const publicCertificate = stat.isFile() && /^(?:-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\s*)+$/.test(fs.readFileSync(file, 'utf8'));
      if (!publicCertificate) open.push(`${path.relative(root, file)} ${(stat.mode & 0o777).toString(8)}`);
    }
    checks.push(['file modes', 'data dir', open.length === 0 ? 'absent' : `OPEN: ${open.join(', ')}`]);
    expect(open).toEqual([]);
    expect(fs.statSync(path.join(dataDir, 'tls', 'server.key')).mode & 0o777).toBe(0o600);
  });

  it('the terminal state, its restore point and the cas session are owner-only', () => {
    expect(fs.existsSync(path.join(atm, 'key.pem')) && fs.existsSync(backupFile) && fs.existsSync(casDir)).toBe(true);
    const open = [atm, ...walk(atm), backupFile, casDir, ...walk(casDir)]
      .filter((f) => (fs.statSync(f).mode & 0o077) !== 0)
      .filter((f) => !f.endsWith('cert.pem'))
      .map((f) => `${path.relative(root, f)} ${(fs.statSync(f).mode & 0o777).toString(8)}`);
    checks.push(['file modes', 'terminal state, restore point, cas session', open.length === 0 ? 'absent' : `OPEN: ${open.join(', ')}`]);
    expect(open).toEqual([]);
  });
});
