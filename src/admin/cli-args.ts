/** @module `cas` argument parsing (node:util parseArgs) and the connection settings drawn from flags, environment and the server's data dir. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { parseArgs } from 'node:util';
import { UsageError, optionMistake } from '../cli-errors.js';
import { AppError, errnoOf } from '../errors.js';
import { fingerprint, normalizeFingerprint } from '../crypto/fingerprint.js';
import { totpDigits } from '../crypto/totp.js';
import {
  COMMAND_OPTIONS, COMMANDS, GROUPS, globalHelp, groupHelp,
  type CommandOption, type CommandSpec, type CommandValues,
} from './cli-commands.js';

export const DEFAULT_ADMIN_URL = 'wss://127.0.0.1:7777/admin';

export const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  user: { type: 'string', short: 'u' },
  fingerprint: { type: 'string' },
  'data-dir': { type: 'string' },
  insecure: { type: 'boolean' },
  totp: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface GlobalFlags {
  url?: string;
  user?: string;
  fingerprint?: string;
  dataDir?: string;
  insecure: boolean;
  totp?: string;
  json: boolean;
}

export type CliInvocation =
  | { kind: 'help'; text: string }
  | { kind: 'run'; globals: GlobalFlags; command: CommandSpec; args: Record<string, unknown> | undefined; values: CommandValues };

/** Parses `cas` arguments (without `node` and the script); throws UsageError on any mistake. */
export function parseCli(argv: readonly string[]): CliInvocation {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...GLOBAL_OPTIONS, ...COMMAND_OPTIONS },
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (err) {
    const code = errnoOf(err) ?? '';
    if (code.startsWith('ERR_PARSE_ARGS')) throw new UsageError(optionMistake(err, [...Object.keys(GLOBAL_OPTIONS), ...optionsNear(argv)]));
    throw err;
  }
  const { values, positionals, tokens } = parsed;
  const words = positionals[0] === 'help' ? positionals.slice(1) : positionals;
  const wantsHelp = values.help === true || positionals[0] === 'help';
  const group = words[0];

  if (group === undefined) {
    if (wantsHelp) return { kind: 'help', text: globalHelp() };
    throw new UsageError('no command given');
  }
  // Operators' accounts are the server's: cas talks to a running server as one of them.
  if (group === 'users') throw new UsageError('unknown command "users": operators are managed on the server, with pairing-server users (pairing-server users --help)');
  if (!GROUPS.includes(group)) throw new UsageError(`unknown command ${JSON.stringify(group)}`);
  if (wantsHelp) return { kind: 'help', text: groupHelp(group) };

  const command = commandNamed(words);
  if (command === undefined) {
    const sub = words[1];
    throw new UsageError(`${sub === undefined ? 'missing' : `unknown ${JSON.stringify(sub)} as`} ${group} command\n${groupHelp(group)}`);
  }
  const rest = words.slice(command.name.split(' ').length);
  if (rest.length !== command.positionals.length && !(command.positionalsOptional && rest.length === 0)) {
    throw new UsageError(`usage: cas ${command.name} ${command.usage}`.trimEnd());
  }

  const commandValues: CommandValues = {};
  for (const token of tokens) {
    if (token.kind !== 'option' || Object.hasOwn(GLOBAL_OPTIONS, token.name)) continue;
    const name = token.name as CommandOption;
    if (!command.options.includes(name)) throw new UsageError(`--${name} does not apply to cas ${command.name}`);
    commandValues[name] = values[name];
  }

  const globals: GlobalFlags = {
    insecure: values.insecure === true,
    json: values.json === true,
    ...(values.url !== undefined && { url: values.url }),
    ...(values.user !== undefined && { user: values.user }),
    ...(values.fingerprint !== undefined && { fingerprint: values.fingerprint }),
    ...(values['data-dir'] !== undefined && { dataDir: values['data-dir'] }),
    ...(values.totp !== undefined && { totp: totpFlag(values.totp) }),
  };
  return { kind: 'run', globals, command, args: command.toArgs(rest, commandValues), values: commandValues };
}

/** The command that `words` (the positionals, without a leading `help`) name, if any. */
function commandNamed(words: readonly string[]): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === words[0]) ?? COMMANDS.find((c) => c.name === `${words[0]} ${words[1] ?? ''}`);
}

/**
 * The options a mistyped one is matched against: the named command's when the words name one, so that `gate open
 * --vpm` is not told to mean `--vpn`, which gate open refuses; every command's otherwise.
 */
function optionsNear(argv: readonly string[]): readonly string[] {
  const { positionals } = parseArgs({ args: [...argv], options: GLOBAL_OPTIONS, allowPositionals: true, strict: false });
  return commandNamed(positionals[0] === 'help' ? positionals.slice(1) : positionals)?.options ?? Object.keys(COMMAND_OPTIONS);
}

/** A code that cannot pass is a usage error here, before the password is asked for and a login attempt spent. */
function totpFlag(value: string): string {
  const digits = totpDigits(value);
  if (digits === null) throw new UsageError('--totp must be the 6 digits the authenticator app shows now');
  return digits;
}

export interface ConnectionSettings {
  url: string;
  user: string;
  /** Canonical lowercase hex; absent only when `insecure`. */
  fingerprint?: string;
  insecure: boolean;
}

/** Flags win over the environment; a pin from anywhere wins over `--insecure` unless both were given as flags. */
export function resolveConnection(globals: GlobalFlags, env: NodeJS.ProcessEnv): ConnectionSettings {
  const url = globals.url ?? nonEmpty(env.CAS_URL) ?? DEFAULT_ADMIN_URL;
  const user = globals.user ?? nonEmpty(env.CAS_USER);
  if (user === undefined) throw new UsageError('--user NAME (or CAS_USER) is required');
  if (globals.fingerprint !== undefined && globals.dataDir !== undefined) {
    throw new UsageError('give either --fingerprint or --data-dir, not both');
  }
  if (globals.insecure && (globals.fingerprint !== undefined || globals.dataDir !== undefined)) {
    throw new UsageError('--insecure contradicts --fingerprint / --data-dir');
  }

  let pin: string | undefined;
  if (globals.fingerprint !== undefined) pin = parseFingerprintFlag(globals.fingerprint, '--fingerprint');
  else if (globals.dataDir !== undefined) pin = readServerFingerprint(globals.dataDir);
  else if (nonEmpty(env.CAS_FINGERPRINT) !== undefined) pin = parseFingerprintFlag(env.CAS_FINGERPRINT!, 'CAS_FINGERPRINT');

  if (pin === undefined && !globals.insecure) {
    throw new UsageError(
      'the server certificate must be pinned: pass --fingerprint SFP (print it on the server with ' +
        '`npx pairing-server fingerprint --data-dir DIR`), or --data-dir DIR on the server machine',
    );
  }
  return pin === undefined ? { url, user, insecure: true } : { url, user, fingerprint: pin, insecure: false };
}

/** The SFP of `DIR/tls/server.crt`: SHA-256 over the DER of its (first) PEM certificate. */
export function readServerFingerprint(dataDir: string): string {
  const file = path.join(dataDir, 'tls', 'server.crt');
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    // A usage mistake (exit 2, as TROUBLESHOOTING files it): the wrong --data-dir, or a server that runs on a licence
    // certificate kept outside its data dir.
    throw new UsageError(`cannot read the server certificate ${file} (${errnoOf(err) ?? 'error'}): pass the server's --data-dir, or --fingerprint SFP (a server started with --server-cert has none in its data dir)`);
  }
  try {
    return fingerprint(new X509Certificate(pem).raw);
  } catch {
    throw new AppError('bad_certificate', `${file} does not hold a PEM certificate`);
  }
}

function parseFingerprintFlag(value: string, source: string): string {
  const pin = normalizeFingerprint(value);
  if (pin === null) throw new UsageError(`${source} must be 64 hex digits (colons allowed), as \`pairing-server fingerprint\` prints it`);
  return pin;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
