#!/usr/bin/env node
/** @module `pairing-server`: starts the server, prints its fingerprint, and manages operators offline on the data dir. */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { CONFIG_OPTIONS, ConfigError, loadConfig, type Config, type ConfigFlags } from './config.js';
import { AppError } from './errors.js';
import { formatFingerprint } from './crypto/fingerprint.js';
import { createLogger } from './logger.js';
import { startServer } from './main.js';
import { createOperator } from './admin/operators.js';
import { certificateFingerprint, ensureServerIdentity } from './server/identity.js';
import { verifyAuditChain } from './store/audit-chain.js';
import { Store } from './store/store.js';

const HELP = `pairing-server — the trust server for fleets of cash and crypto terminals

Usage:
  pairing-server [serve] [options]          start the gate, master and admin services
  pairing-server fingerprint [options]      print the Server Certificate Fingerprint (SFP)
  pairing-server users add NAME --password-stdin [--no-2fa] [--json]
                                            create an operator (works while the server runs)
  pairing-server users list [--json]        list operators
  pairing-server audit verify [--json]      check the audit log's hash chain; names the first broken entry

Options (every command; environment variable in brackets):
  --data-dir DIR        store, generated TLS key and certificate    [PAIRING_DATA_DIR]  default ./data
  --host ADDR           address the services bind to                [PAIRING_HOST]      default 0.0.0.0
  --public-host NAME    host name terminals use to reach master     [PAIRING_PUBLIC_HOST]
  --gate-port N         pairing service for new terminals           [PAIRING_GATE_PORT]   default 7741
  --master-port N       service for paired terminals                [PAIRING_MASTER_PORT] default 7743
  --admin-port N        operators' web page and WebSocket channel   [PAIRING_ADMIN_PORT]  default 7777
  --server-key FILE     licence key; with --server-cert: servers sharing a licence share one SFP
  --server-cert FILE    licence certificate (PEM)
  --clock-skew SEC      accepted terminal clock difference, ≤ 1200   default 300
  --pairing-ttl SEC     how long a pairing request stays pending    default 86400
  --actor-idle SEC      an idle terminal's actor leaves memory after   default 60
  --status-log SEC      log every thread's counts (server.status) every SEC, 0: never   default 60
  --refusal-log-window SEC
                        refused terminal requests: the first 100 of a kind per thread
                        and window get a line each, the rest one summary line at the
                        window's end; 0: a line for every refusal     default 10
  --min-free-disk MB    below this much free space on the data dir's disk, cash
                        events are refused (503 storage_unavailable) while
                        operators' writes still fit; 0: no check     default 64
  --threads N           front-end threads for gate and master            default: CPU cores
                        (a terminal's actor runs on the thread its connection reached)
  --gate-rate N         gate requests per second per address (429 beyond)   default 5
  --gate-global-rate N  gate requests per second in all                     default 200
  --master-rate N       master calls per second per address                 default 2000
  --log-level LEVEL     trace|debug|info|warn|error                 default info
  --log-pretty          human-readable logs (default when stdout is a terminal)
  -h, --help            this help

The gate is closed on a new install: an operator opens it for a time window
(cas gate open --minutes 60) while terminals pair. Create the first operator with
  echo 'a long passphrase' | pairing-server users add alice --password-stdin
and enrol the printed otpauth URI in an authenticator app.`;

function fail(message: string, exitCode = 2): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(exitCode);
}

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

async function serve(config: Config): Promise<void> {
  const log = createLogger({ level: config.logLevel, pretty: config.logPretty });
  const server = await startServer(config, log);
  if (process.env.PAIRING_TEST_HOOKS === '1') {
    // SIGUSR2 crashes the first live front thread, or with PAIRING_TEST_STALL_MS blocks its event loop that long.
    const stallMs = Number(process.env.PAIRING_TEST_STALL_MS ?? 0);
    process.on('SIGUSR2', () => (stallMs > 0 ? server.stallFrontThread(stallMs) : server.crashFrontThread()));
  }
  process.stderr.write([
    '',
    `  Server Certificate Fingerprint (SFP): ${formatFingerprint(server.sfp)}`,
    `  gate   ${server.urls.gate}   (${server.gateOpen ? 'open' : 'closed — open it with: cas gate open --minutes 60'})`,
    `  master ${server.urls.master}`,
    `  admin  ${server.urls.admin}   (web page; WebSocket at /admin)`,
    `  data   ${config.dataDir}${server.generatedIdentity ? '  (new TLS key and certificate generated)' : ''}`,
    `  ${server.threads} front-end thread${server.threads === 1 ? '' : 's'}`,
    '',
  ].join('\n') + '\n');
  // Ends the process without the usual exit, which stops the front threads first and aborts (exit 134, a core dump)
  // on any that still holds uWS sockets. JSON lines are written synchronously (logger.ts), but --log-pretty's go
  // through a transport thread: a quarter second lets them out, and is bounded if stdout is stuck. (When JSON lines
  // were written asynchronously, killing at once lost the line before the last, 2 runs in 8 with stdout on a pipe.)
  const kill = (): void => void setTimeout(() => process.kill(process.pid, 'SIGKILL'), 250);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      // The operator asked twice: what the shutdown has not written yet (at most the last half second of nonces) is lost.
      log.warn({ signal }, 'second signal during shutdown; stopping at once without waiting for it');
      kill();
      return;
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    server.close().then(
      ({ stuckThreads }) => {
        if (stuckThreads.length > 0) {
          // Everything else is closed and on disk; the blocked threads cannot be stopped in-process.
          log.fatal({ threads: stuckThreads }, 'stopped, except front threads that were not responding; killing the process');
          kill();
          return;
        }
        log.info('stopped');
        log.flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Last: a supervisor (or a test) that signals as soon as it reads this line MUST find the handlers in place.
  log.info({ sfp: server.sfp, urls: server.urls, ports: server.ports, gateOpen: server.gateOpen, threads: server.threads, dataDir: config.dataDir }, 'listening');
}

async function users(config: Config, args: string[], flags: { json: boolean; 'password-stdin': boolean; 'no-2fa': boolean }): Promise<void> {
  const [action, name] = args;
  const store = Store.open(config.dataDir);
  try {
    if (action === 'list') {
      const list = [...store.operators.getRange().map(({ value }) => ({ user: value.name, has2fa: value.totpSecret !== null, createdAt: new Date(value.createdAt).toISOString() }))];
      process.stdout.write(flags.json ? JSON.stringify(list) + '\n' : list.map((u) => `${u.user}\t2fa=${u.has2fa ? 'yes' : 'no'}\t${u.createdAt}`).join('\n') + '\n');
      return;
    }
    if (action !== 'add' || !name) fail('usage: pairing-server users add NAME --password-stdin [--no-2fa] [--json]');
    if (!flags['password-stdin']) fail('give the password on standard input with --password-stdin (never as an argument: it would show in the process list)');
    const password = await readStdinLine();
    const created = await createOperator(store, name, password, { with2fa: !flags['no-2fa'], by: `cli:${process.env.USER ?? 'local'}` });
    if (flags.json) {
      process.stdout.write(JSON.stringify(created) + '\n');
    } else {
      process.stdout.write(`operator ${created.user} created\n`);
      if (created.otpauthUri) process.stdout.write(`enrol this URI in an authenticator app (it is shown once):\n${created.otpauthUri}\n`);
      else process.stdout.write('no 2FA: this operator can look but cannot approve pairing until TOTP is enrolled\n');
    }
  } finally {
    await store.close();
  }
}

async function auditVerify(config: Config, args: string[], json: boolean): Promise<void> {
  if (args[0] !== 'verify') fail('usage: pairing-server audit verify [--data-dir DIR] [--json]');
  if (!fs.existsSync(config.dataDir)) fail(`no data dir at ${config.dataDir}`, 1);
  const store = Store.open(config.dataDir);
  try {
    const verdict = verifyAuditChain(store.audit.getRange().map(({ value }) => value));
    if (json) process.stdout.write(JSON.stringify(verdict) + '\n');
    else if (verdict.ok) process.stdout.write(`audit chain intact: ${verdict.entries} entries, head ${verdict.head}\n`);
    else process.stdout.write(`audit chain BROKEN at entry ${verdict.firstBroken}: ${verdict.reason}\n`);
    if (!verdict.ok) process.exitCode = 1;
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      ...CONFIG_OPTIONS,
      help: { type: 'boolean', short: 'h' },
      json: { type: 'boolean', default: false },
      colons: { type: 'boolean', default: false },
      'password-stdin': { type: 'boolean', default: false },
      'no-2fa': { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return;
  }
  const config = loadConfig(values as ConfigFlags);
  const [command = 'serve', ...rest] = positionals;
  switch (command) {
    case 'serve':
      return serve(config);
    case 'fingerprint': {
      const identity = config.serverCertFile ? { sfp: certificateFingerprint(config.serverCertFile) } : ensureServerIdentity(config);
      process.stdout.write((values.colons ? formatFingerprint(identity.sfp) : identity.sfp) + '\n');
      return;
    }
    case 'audit':
      return auditVerify(config, rest, values.json === true);
    case 'users':
      if (!fs.existsSync(config.dataDir)) fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
      return users(config, rest, { json: values.json === true, 'password-stdin': values['password-stdin'] === true, 'no-2fa': values['no-2fa'] === true });
    default:
      fail(`unknown command "${command}"; see pairing-server --help`);
  }
}

main().catch((error: unknown) => {
  if (error instanceof AppError) fail(`${error.code}: ${error.message}`, 1);
  if (error instanceof ConfigError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) fail(error.message);
  fail(error instanceof Error ? error.message : String(error), 1);
});
