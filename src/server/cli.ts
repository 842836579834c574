#!/usr/bin/env node
/** @module `pairing-server`: starts the server, prints its fingerprint, and manages operators offline on the data dir. */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, errorText, exitCodeOf, optionMistake } from '../cli-errors.js';
import { CONFIG_OPTIONS, ConfigError, loadConfig, type Config, type ConfigFlags } from '../config.js';
import { AppError } from '../errors.js';
import { formatFingerprint } from '../crypto/fingerprint.js';
import { createLogger } from '../logger.js';
import { startServer } from '../main.js';
import { writeBackupMarker } from './backup-marker.js';
import { snapshotFolder, writeSnapshot, type SnapshotEntry } from './folder-snapshot.js';
import { COMMAND_HELP, HELP, type ServerCommand } from './cli-help.js';
import { requireDataDir } from './data-dir.js';
import { gateOpenHint } from './gate-open-hint.js';
import { cliUser } from './os-account.js';
import { certificateFingerprint, identityPaths } from './identity.js';
import { runUsersCommand, USERS_COMMANDS } from './users-cli.js';
import { IDENTITY_COMMANDS, runIdentityCommand } from './identity-cli.js';
import { parseAuditAnchor, verifyAuditChain } from '../store/audit-chain.js';
import { Store } from '../store/store.js';
import { writeKeepingSeal } from '../store/index-seal.js';
import { OPERATOR_ROLES, type OperatorRole } from '../store/records.js';

const isRole = (value: string | undefined): value is OperatorRole => (OPERATOR_ROLES as readonly (string | undefined)[]).includes(value);

/** Every error as cli-errors.ts prints it, and the exit code it goes with. */
function report(error: unknown): never {
  process.stderr.write(errorText(error, 'pairing-server'));
  process.exit(exitCodeOf(error));
}

async function serve(config: Config): Promise<void> {
  const log = createLogger({ level: config.logLevel, pretty: config.logPretty });
  const server = await startServer(config, log);
  const hooks = config.testHooks;
  if (hooks !== null) {
    // SIGUSR2 crashes the first live front thread, or with a stall blocks its event loop that long.
    process.on('SIGUSR2', () => (hooks.stallMs > 0 ? server.stallFrontThread(hooks.stallMs) : server.crashFrontThread()));
  }
  process.stderr.write([
    '',
    `  Server Certificate Fingerprint (SFP): ${formatFingerprint(server.sfp)}`,
    ...(server.nextSfp === null ? [] : [`  next SFP, announced to terminals:     ${formatFingerprint(server.nextSfp)}`]),
    `  gate   ${server.urls.gate}   (${server.gateOpen ? 'open' : `closed — open it with: ${gateOpenHint(server.urls.admin)}`})`,
    `  master ${server.urls.master}`,
    `  admin  ${server.urls.admin}   (web page; WebSocket at /admin)`,
    ...(server.metricsUrl ? [`  metrics ${server.metricsUrl}   (Prometheus, plain HTTP)`] : []),
    `  data   ${config.dataDir}${server.generatedIdentity ? `  (new TLS ${server.generatedIdentity} generated)` : ''}`,
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
  // The end of the terminal or ssh session the server was started from: without a handler Node dies at once, and the
  // nonces of the last half second, still in the write-behind, with it (their requests could be replayed).
  process.on('SIGHUP', () => stop('SIGHUP'));
  // Last: a supervisor (or a test) that signals as soon as it reads this line MUST find the handlers in place.
  log.info({ sfp: server.sfp, ...(server.nextSfp === null ? {} : { nextSfp: server.nextSfp }), urls: server.urls, ports: server.ports, metricsUrl: server.metricsUrl, gateOpen: server.gateOpen, threads: server.threads, dataDir: config.dataDir }, 'listening');
}

async function auditVerify(config: Config, json: boolean, head: string | undefined): Promise<void> {
  const anchor = head === undefined ? undefined : parseAuditAnchor(head);
  if (anchor === null) throw new UsageError('--head takes SEQ:HASH, as the auditHead of a `server status` log line gives them (e.g. 42:3f5c…, 64 hex digits)', 'audit verify');
  requireDataDir(config.dataDir);
  // The chain is hashes of what is stored in the clear: a backup, which rightly lacks secrets.key, can be checked.
  const store = Store.open(config.dataDir, { fieldKey: false });
  try {
    const verdict = verifyAuditChain(store.audit.getRange().map(({ value }) => value), anchor);
    // The anchor as --head takes it back: keep it elsewhere, and a later check proves nothing before it was changed.
    const headAnchor = verdict.ok ? `${store.lastAuditSeq()}:${verdict.head}` : null;
    if (json) process.stdout.write(JSON.stringify(verdict.ok ? { ...verdict, anchor: headAnchor } : verdict) + '\n');
    else if (verdict.ok) process.stdout.write(`audit chain intact: ${verdict.entries} entries, head ${headAnchor} (keep it; audit verify --head ${headAnchor} checks it later)\n`);
    else process.stdout.write(`audit chain BROKEN at entry ${verdict.firstBroken}: ${verdict.reason}\n`);
    if (!verdict.ok) process.exitCode = 1;
  } finally {
    await store.close();
  }
}

/**
 * `backup --out DIR`: the store as lmdb-js's backup() writes it (one read transaction, so consistent while the server
 * writes; compacted), and the data dir's key folders, each as it was at one moment (folder-snapshot.ts: an `identity
 * promote` may be switching tls/ meanwhile, and takes no notice of a backup). Never secrets.key: a backup holding it
 * would reveal the sealed TOTP secrets to whoever reads the backup.
 */
async function backup(config: Config, out: string, json: boolean): Promise<void> {
  requireDataDir(config.dataDir);
  const target = path.resolve(out);
  if (fs.existsSync(target) && fs.readdirSync(target).length > 0) throw new AppError('already_exists', `${target} is not empty: a backup goes into a new or empty folder`);
  // Before anything is written: a folder that does not hold still refuses the backup with the target left empty.
  const folders: [string, SnapshotEntry[]][] = [];
  for (const folder of ['tls', 'vpn']) {
    const entries = await snapshotFolder(path.join(config.dataDir, folder));
    if (entries !== null) folders.push([folder, entries]);
  }
  fs.mkdirSync(path.join(target, 'store'), { recursive: true, mode: 0o700 });
  fs.chmodSync(target, 0o700);
  const store = Store.open(config.dataDir);
  const takenAt = new Date().toISOString();
  try {
    await store.root.backup(path.join(target, 'store'), true);
    // The copy holds every password hash and, beside it, the TLS key: who took one, and where to, is on record. A backup
    // takes no data dir lock (it runs beside a server), yet keeps a stopped server's seal: writeKeepingSeal compares the
    // seal with the last commit inside its own write transaction, so a running server's broken seal stays broken and
    // a server starting meanwhile breaks it before or after this write, never between the check and the write.
    await writeKeepingSeal(store, () => store.appendAuditSync({ at: Date.now(), user: cliUser(), action: 'server.backup', target: null, detail: { result: 'ok', out: target } }));
  } finally {
    await store.close();
  }
  writeBackupMarker(target, { takenAt, from: path.resolve(config.dataDir) });
  for (const file of fs.readdirSync(path.join(target, 'store'))) fs.chmodSync(path.join(target, 'store', file), 0o600);
  const copied = ['store'];
  for (const [folder, entries] of folders) {
    writeSnapshot(entries, path.join(target, folder));
    copied.push(folder);
  }
  const storeBytes = fs.statSync(path.join(target, 'store', 'data.mdb')).size;
  if (json) {
    process.stdout.write(JSON.stringify({ out: target, storeBytes, copied }) + '\n');
    return;
  }
  process.stdout.write(`backup written to ${target}: ${copied.join(', ')} (store ${(storeBytes / 2 ** 20).toFixed(1)} MiB)\n` +
    `secrets.key is not in it: keep a copy of ${path.join(config.dataDir, 'secrets.key')} apart, and restore the two together\n`);
}

/** Reads only: a missing certificate is an error, never a new one (that would be the SFP of a server that does not exist). */
function printFingerprint(config: Config, colons: boolean): void {
  let certFile = config.serverCertFile;
  if (certFile === null) {
    requireDataDir(config.dataDir);
    certFile = identityPaths(config.dataDir).certFile;
    if (!fs.existsSync(certFile)) throw new AppError('not_found', `no server certificate at ${certFile}: a server started with --server-key/--server-cert has none in its data dir; pass them here too`);
  } else if (!fs.existsSync(certFile)) {
    throw new AppError('not_found', `no licence certificate at ${certFile}`);
  }
  const sfp = certificateFingerprint(certFile);
  process.stdout.write((colons ? formatFingerprint(sfp) : sfp) + '\n');
}

/** The command the positionals name, with what follows it; null when they name none. */
function commandOf(positionals: string[]): { command: ServerCommand; args: string[] } | null {
  const [first = 'serve', second, ...rest] = positionals;
  if (first === 'serve' || first === 'fingerprint' || first === 'backup') return { command: first, args: positionals.slice(1) };
  const users = USERS_COMMANDS.find((c) => c === second);
  if (first === 'users' && users) return { command: `users ${users}`, args: rest };
  if (first === 'audit' && second === 'verify') return { command: 'audit verify', args: rest };
  const identity = IDENTITY_COMMANDS.find((c) => c === second);
  if (first === 'identity' && identity) return { command: `identity ${identity}`, args: rest };
  return null;
}

/** The flags that belong to one command; the server's own (CONFIG_OPTIONS) are taken by every command. */
type CommandFlag = 'json' | 'colons' | 'password-stdin' | 'no-2fa' | 'force' | 'out' | 'head' | 'role';
const COMMAND_FLAGS: Record<ServerCommand, readonly CommandFlag[]> = {
  serve: [],
  fingerprint: ['colons'],
  'users add': ['password-stdin', 'no-2fa', 'role', 'json'],
  'users list': ['json'],
  'users disable': ['force', 'json'],
  'users enable': ['json'],
  'users reset-2fa': ['no-2fa', 'json'],
  'users passwd': ['password-stdin', 'json'],
  'users role': ['force', 'json'],
  'audit verify': ['json', 'head'],
  backup: ['out', 'json'],
  'identity prepare': ['force', 'json'],
  'identity promote': ['json'],
  'identity status': ['json'],
};
/** A command's usage line, as its --help page opens: one text to keep true. */
const synopsis = (command: ServerCommand): string => COMMAND_HELP[command].split('\n', 1)[0]!.replace(/^Usage: /, '').replace(/\s{2,}.*$/, '');
/** Every command flag, each taken only by the commands COMMAND_FLAGS gives it to. */
const ALL_COMMAND_FLAGS = [...new Set(Object.values(COMMAND_FLAGS).flat())];

async function main(): Promise<void> {
  const options = {
    ...CONFIG_OPTIONS,
    help: { type: 'boolean', short: 'h' },
    json: { type: 'boolean', default: false },
    colons: { type: 'boolean', default: false },
    'password-stdin': { type: 'boolean', default: false },
    'no-2fa': { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
    out: { type: 'string' },
    head: { type: 'string' },
    role: { type: 'string' },
  } as const;
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options });
  } catch (error) {
    throw new UsageError(optionMistake(error, Object.keys(options)));
  }
  const { values, positionals } = parsed;
  const found = commandOf(positionals);
  if (values.help) {
    const [first] = positionals;
    const pages = first === undefined ? [HELP] : found ? [COMMAND_HELP[found.command]] : first === 'users' ? USERS_COMMANDS.map((c) => COMMAND_HELP[`users ${c}`]) : first === 'audit' ? [COMMAND_HELP['audit verify']]
      : first === 'identity' ? IDENTITY_COMMANDS.map((c) => COMMAND_HELP[`identity ${c}`]) : [HELP];
    process.stdout.write(pages.join('\n\n') + '\n');
    return;
  }
  if (!found) {
    const [first, second] = positionals;
    const which = (group: string): string => (second === undefined ? `${group} needs a command` : `unknown ${group} command "${second}"`);
    if (first === 'users') throw new UsageError(`${which('users')}: users ${USERS_COMMANDS.join(' | ')}`, 'users');
    if (first === 'audit') throw new UsageError(`${which('audit')}: audit verify`, 'audit');
    if (first === 'identity') throw new UsageError(`${which('identity')}: identity ${IDENTITY_COMMANDS.join(' | ')}`, 'identity');
    throw new UsageError(`unknown command "${first}"`);
  }
  const { command, args } = found;
  if (values['new-identity'] === true && command !== 'serve') throw new UsageError(`${command} takes no --new-identity (serve only)`, command);
  for (const flag of ALL_COMMAND_FLAGS) {
    if (values[flag] !== undefined && values[flag] !== false && !COMMAND_FLAGS[command].includes(flag)) throw new UsageError(`${command} takes no --${flag}`, command);
  }
  const expected = command === 'users role' ? 2 : command.startsWith('users ') && command !== 'users list' ? 1 : 0;
  if (args.length !== expected) throw new UsageError(`usage: ${synopsis(command)}`, command);
  const role = command === 'users role' ? args[1] : values.role ?? 'operator';
  if (!isRole(role)) throw new UsageError(`${command === 'users role' ? 'the role' : '--role'} is ${OPERATOR_ROLES.join(' or ')}, not ${JSON.stringify(role)}`, command);
  let config: Config;
  try {
    config = loadConfig(values as ConfigFlags);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message, command);
    throw error;
  }
  const usersFlags = { json: values.json === true, with2fa: values['no-2fa'] !== true, force: values.force === true, role };
  switch (command) {
    case 'serve':
      return serve(config);
    case 'fingerprint':
      return printFingerprint(config, values.colons === true);
    case 'users add':
    case 'users passwd':
      if (values['password-stdin'] !== true) throw new UsageError('give the password on standard input with --password-stdin (never as an argument: it would show in the process list)', command);
      return runUsersCommand(command, config, args[0]!, usersFlags);
    case 'users list':
    case 'users disable':
    case 'users enable':
    case 'users reset-2fa':
    case 'users role':
      return runUsersCommand(command, config, args[0] ?? '', usersFlags);
    case 'audit verify':
      return auditVerify(config, values.json === true, values.head);
    case 'identity prepare':
    case 'identity promote':
    case 'identity status':
      return runIdentityCommand(command, config, { json: values.json === true, force: values.force === true });
    case 'backup':
      if (!values.out) throw new UsageError('give the folder for the copy with --out DIR', command);
      return backup(config, values.out, values.json === true);
  }
}

main().catch(report);
