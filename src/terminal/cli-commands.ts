/** @module What each terminal CLI command does: calls the Terminal library and shapes its answer as JSON and as text for the person at the machine. */
import { chmodSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { UsageError } from '../cli-errors.js';
import { isRawInput, readFirstLine, readHiddenTwice } from '../cli-input.js';
import { writeFileDurably } from '../durable-file.js';
import { AppError, errnoOf } from '../errors.js';
import { MAX_RSA_BITS, MIN_RSA_BITS } from '../crypto/certificates.js';
import { formatFingerprint, normalizeFingerprint } from '../crypto/fingerprint.js';
import { CASH_EVENT_LIMITS, inThousandths } from '../protocol/schemas.js';
import type { KeyKind } from '../protocol/types.js';
import type { Command } from './cli-help.js';
import { codeScreen, ProgressLine, readSecretLine, typingCancelled } from './cli-io.js';
import { parseServerUrl } from './pinned-https.js';
import { StateDir } from './state-dir.js';
import { withStateLock } from './state-lock.js';
import { Terminal, type TerminalOptions, type TerminalStatus } from './terminal.js';

export interface CommandContext {
  stateDir: string;
  json: boolean;
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  stdin: Readable;
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
}

export interface CommandOutput {
  json: Record<string, unknown>;
  text: string;
  exitCode?: number;
}

export const EXIT_PENDING = 3;

function str(ctx: CommandContext, name: string, required: true): string;
function str(ctx: CommandContext, name: string, required?: false): string | undefined;
function str(ctx: CommandContext, name: string, required = false): string | undefined {
  const value = ctx.values[name];
  if (typeof value === 'string') return value;
  if (required) throw new UsageError(`--${name} is required`);
  return undefined;
}

/** `max`: the bound the server or the key generator would refuse past, so that such a value is a usage error (exit 2) too. */
function num(ctx: CommandContext, name: string, opts: { integer?: boolean; min?: number; above?: number; max?: number }): number | undefined {
  const text = str(ctx, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  const low = opts.above !== undefined ? `> ${opts.above}` : opts.min !== undefined ? `≥ ${opts.min}` : '';
  const bound = [low, opts.max !== undefined ? `≤ ${opts.max}` : ''].filter(Boolean).join(' and ');
  if (text.trim() === '' || !Number.isFinite(value) || (opts.integer === true && !Number.isInteger(value)) || value < (opts.min ?? -Infinity)
    || value <= (opts.above ?? -Infinity) || value > (opts.max ?? Infinity)) {
    throw new UsageError(`--${name} must be ${opts.integer === true ? 'a whole number' : 'a number'}${bound ? ` ${bound}` : ''}`);
  }
  return value;
}

/** A denomination as the server takes it: in thousandths at most (ISO 4217's smallest unit). */
function thousandths(value: number): number {
  if (!inThousandths(value)) throw new UsageError('--denomination must have at most 3 decimal places');
  return value;
}

/** A gate URL given on the command line: one that is not an https:// URL is a command-line mistake (exit 2). */
function gateUrlArgument(url: string | undefined, what: string): string | undefined {
  if (url === undefined) return undefined;
  try {
    parseServerUrl(url);
  } catch (error) {
    if (error instanceof AppError) throw new UsageError(`${what}: ${error.message}`);
    throw error;
  }
  return url;
}

/** `--expect-sfp`: a malformed fingerprint is a command-line mistake (exit 2), caught before anyone is contacted. */
function sfpOption(ctx: CommandContext): string | undefined {
  const text = str(ctx, 'expect-sfp');
  if (text === undefined) return undefined;
  const sfp = normalizeFingerprint(text);
  if (sfp === null) throw new UsageError('--expect-sfp must be a SHA-256 fingerprint: 64 hex digits, colons allowed, as `pairing-server fingerprint` prints it');
  return sfp;
}

const missing = (name: string): never => {
  throw new UsageError(`--${name} is required`);
};

/** Commands that reach the server: what the library notes besides its result (a certificate rollover) goes to stderr. */
const talking = (ctx: CommandContext): TerminalOptions => ({ onNote: (text) => void ctx.stderr.write(`note: ${text}\n`) });

const fp = (hex: string | null): string => (hex === null ? '(none)' : `${hex}\n${' '.repeat(13)}${formatFingerprint(hex)}`);

/** `paired` is what the server said last; offline the terminal cannot know whether an operator has unpaired it since. */
function pairedText(s: TerminalStatus): string {
  if (!s.paired) return 'no';
  const asOf = s.pairedConfirmedAt === null ? 'as of the last contact with the server' : `as of the last contact, ${s.pairedConfirmedAt}`;
  return `yes (${asOf}) — \`terminal ping\` checks it now`;
}

function statusText(s: TerminalStatus, dir: string): string {
  const pairing = s.pairing === null ? 'none' : `${s.pairing.stage === 'approval' ? 'waiting for operator approval' : 'reveal pending'}, code ${s.pairing.code}`;
  const expecting = s.nextGateSfp === null ? '' : ` (expecting SFP ${formatFingerprint(s.nextGateSfp)})`;
  const next = s.nextGateUrl === null ? [] : [`             switching to ${s.nextGateUrl}${expecting} once its gate answers \`terminal pair\``];
  return [
    `serial       ${s.serial}   (state in ${dir})`,
    `key          ${s.keyKind} (${s.alg})`,
    `TFP          ${fp(s.tfp)}`,
    `gate         ${s.gateUrl ?? '(not set: terminal pair --gate URL)'}`,
    ...next,
    `master       ${s.masterUrl ?? '(none yet)'}`,
    `pinned SFP   ${fp(s.pinnedSfp)}`,
    ...(s.announcedSfp === null ? [] : [`next SFP     ${fp(s.announcedSfp)}`, '             (announced by the server: accepted in place of the pinned SFP once it switches)']),
    `paired       ${pairedText(s)}`,
    `pairing      ${pairing}`,
  ].join('\n');
}

// An empty stdin (`< /dev/null`, a script that forgot the pipe) is a missing argument, not a short passphrase.
const noPassphrase = (): UsageError => new UsageError('no passphrase given: the first line of standard input is empty or missing; pipe it in (e.g. `printf \'%s\\n\' "$PASSPHRASE" | terminal …`) or type it at a terminal');

/** `confirm` (a backup's new passphrase): typed at a terminal, it is asked twice; piped, it is read once. */
async function passphrase(ctx: CommandContext, confirm: boolean): Promise<string> {
  if (confirm && isRawInput(ctx.stdin)) {
    return readHiddenTwice(ctx.stdin, ['Passphrase: ', 'Passphrase again: '], ctx.stderr, {
      cancelled: typingCancelled,
      empty: noPassphrase,
      differ: () => new AppError('invalid_field', 'the two passphrases differ'),
    });
  }
  const line = await readSecretLine(ctx.stdin, 'Passphrase: ', ctx.stderr);
  if (line === '') throw noPassphrase();
  return line;
}

async function pair(ctx: CommandContext): Promise<CommandOutput> {
  const wait = ctx.values.wait === true;
  const timeout = num(ctx, 'timeout', { min: 0 });
  const interval = num(ctx, 'interval', { min: 0.05 });
  const expectSfp = sfpOption(ctx);
  gateUrlArgument(str(ctx, 'gate'), '--gate');
  // The lock is held for the whole wait: a factory-reset meanwhile would otherwise be undone by the next save.
  return withStateLock(ctx.stateDir, wait ? 'pair --wait' : 'pair', () => pairLocked(ctx, { wait, timeout, interval, expectSfp }));
}

async function pairLocked(
  ctx: CommandContext,
  { wait, timeout, interval, expectSfp }: { wait: boolean; timeout?: number; interval?: number; expectSfp?: string },
): Promise<CommandOutput> {
  const terminal = Terminal.open(ctx.stateDir, talking(ctx));
  const progress = new ProgressLine(ctx.stderr);
  let serial = terminal.status().serial;
  const result = await terminal
    .pair(str(ctx, 'gate'), {
      wait,
      expectSfp,
      timeoutMs: timeout === undefined ? undefined : timeout * 1000,
      pollIntervalMs: interval === undefined ? undefined : interval * 1000,
      onCode: (code) => {
        progress.clear();
        // With --json, stdout holds only the final object; the code still reaches the person, on stderr.
        if (ctx.json) ctx.stderr.write(`PAIRING CODE ${code} — read this code to the operator calling you\n`);
        else ctx.stdout.write(`${codeScreen(code, serial)}\n`);
      },
      onPoll: (polls) => progress.update(`waiting for operator approval… (polled ${polls} times)`),
      onRestart: (previous) => {
        progress.clear();
        const note = `The earlier pairing request (code ${previous.code}) expired or the server no longer knows it: that code is void. A new request was made; read the new code to the operator.`;
        if (ctx.json) ctx.stderr.write(`${note}\n`);
        else ctx.stdout.write(`${note}\n`);
      },
    })
    .finally(() => progress.clear());
  serial = result.serial;
  if (result.status === 'trusted') {
    return {
      json: { ...result },
      text: `TRUSTED — terminal ${serial} is paired.\nmaster       ${result.masterUrl}\npinned SFP   ${fp(result.sfp)}`,
    };
  }
  if (result.timedOut) {
    return {
      json: { ...result },
      text: `Still waiting for the operator (code ${result.code}). Run \`terminal pair --wait\` to keep waiting; the code stays the same.`,
      exitCode: EXIT_PENDING,
    };
  }
  return {
    json: { ...result },
    text: 'The pairing request is waiting for the operator. Run `terminal pair` again to check, or `terminal pair --wait` to wait.',
  };
}

/**
 * Writes `data` as a new owner-only file that replaces `path` by rename (writeFileDurably). MUST NOT write into an
 * existing file: its inode may be open elsewhere since it was readable (such a descriptor would read the key), and a
 * crash mid-write would leave a truncated profile. The temp file is owner-only from its first byte: the file carries
 * this terminal's private key.
 */
function replaceFile(path: string, data: string): void {
  writeFileDurably(path, data, 0o600, { replace: true });
  chmodSync(path, 0o600); // the umask may have narrowed it; never wider
}

async function vpnConfig(ctx: CommandContext): Promise<CommandOutput> {
  const terminal = Terminal.open(ctx.stateDir);
  const vpn = terminal.vpnConfig();
  const out = str(ctx, 'out');
  if (out === undefined) return { json: { ...vpn }, text: vpn.profile.trimEnd() };
  const complete = terminal.vpnProfileWithKey(); // before writing: a refusal must leave an existing file alone
  try {
    replaceFile(out, complete);
  } catch (err) {
    throw fileMistake(err, '--out', out);
  }
  return {
    json: { out, serial: vpn.serial, masterUrl: vpn.masterUrl, expiresAt: vpn.expiresAt },
    text: `VPN profile with this terminal's key written to ${out} (mode 0600).\nStart the tunnel: openvpn --config ${out}\nmaster inside the tunnel: ${vpn.masterUrl}`,
  };
}

/** Holds the lock from reading what it names to the wipe: what the prompt shows is what gets deleted. */
async function factoryReset(ctx: CommandContext): Promise<CommandOutput> {
  return withStateLock(ctx.stateDir, 'factory-reset', () => factoryResetLocked(ctx));
}

async function factoryResetLocked(ctx: CommandContext): Promise<CommandOutput> {
  const dir = new StateDir(ctx.stateDir);
  let before: { serial: string; tfp: string } | null = null;
  try {
    before = dir.exists() ? dir.read() : null;
  } catch {
    before = null; // a damaged state is exactly what a reset is for
  }
  if (ctx.values.yes !== true) {
    if ((ctx.stdin as { isTTY?: boolean }).isTTY !== true) throw new UsageError('factory-reset deletes the private key for good; pass --yes to confirm');
    const what = before === null ? `whatever terminal files are in ${ctx.stateDir}` : `terminal ${before.serial} (TFP ${before.tfp})`;
    ctx.stderr.write(`This deletes ${what} for good: its private key, certificate and pairing. Type YES to confirm: `);
    // Not confirmed is a usage outcome (exit 2), as without --yes where nobody can confirm.
    if ((await readFirstLine(ctx.stdin))?.trim() !== 'YES') throw new UsageError('factory reset cancelled; nothing was deleted');
  }
  Terminal.factoryReset(ctx.stateDir);
  return {
    json: { reset: true, serial: before?.serial ?? null, tfp: before?.tfp ?? null },
    text: before === null
      ? `Nothing to reset in ${ctx.stateDir}; it holds no terminal now.`
      : `Factory reset done: terminal ${before.serial} (TFP ${before.tfp}) is gone. \`terminal init\` makes a new identity.`,
  };
}

/** A path the user gave that cannot be used is their mistake to fix (exit 2), not an internal error. */
function fileMistake(err: unknown, option: string, path: string): unknown {
  const why: Record<string, string> = {
    ENOENT: `the directory ${dirname(path)} does not exist`,
    ENOTDIR: `${dirname(path)} is not a directory`,
    EISDIR: `${path} is a directory`,
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'the file system is read-only',
  };
  const reason = why[errnoOf(err) ?? ''];
  return reason === undefined ? err : new UsageError(`${option} ${path}: ${reason}`);
}

async function checkOutDirectory(out: string): Promise<void> {
  const dir = dirname(out);
  const info = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'ENOENT' ? new UsageError(`--out ${out}: the directory ${dir} does not exist; create it or choose another`) : fileMistake(err, '--out', out);
  });
  if (!info.isDirectory()) throw new UsageError(`--out ${out}: ${dir} is not a directory`);
}

function switchedText(s: TerminalStatus): string {
  const pin = s.pinnedSfp === null ? 'its first contact pins the SFP it presents' : `it must present SFP ${formatFingerprint(s.pinnedSfp)}`;
  return `Gate set to ${s.gateUrl}; ${pin}. Any pairing is forgotten; run \`terminal pair\` to pair with it.`;
}

/** set-server on a terminal with something to lose: what it keeps, until when, and which certificate the new gate must show. */
function notedText(before: TerminalStatus, s: TerminalStatus): string {
  const kept = before.paired
    ? `stays paired with ${before.gateUrl} (master ${before.masterUrl ?? 'unknown'})`
    : before.pairing !== null
      ? `keeps its pairing request at ${before.gateUrl}`
      : `keeps gate ${before.gateUrl}`;
  const pin =
    s.nextGateSfp !== null
      ? `That gate must present SFP ${formatFingerprint(s.nextGateSfp)} (--expect-sfp).`
      : before.pinnedSfp !== null
        ? `That gate must present the pinned SFP ${formatFingerprint(before.pinnedSfp)}` +
          `${before.announcedSfp === null ? '' : `, or the next one its server announced, ${formatFingerprint(before.announcedSfp)}`}; a server with another one is refused ` +
          "unless given `--expect-sfp` with the fingerprint its operator confirms (`pairing-server fingerprint`)."
        : '';
  return (
    `Gate ${s.nextGateUrl} noted. This terminal ${kept} until that gate answers: run \`terminal pair\` ` +
    '(the operator opens the gate); only then are the old pin, master URL and pairing forgotten. ' +
    `${pin}${pin === '' ? '' : ' '}\`terminal pair --gate ${before.gateUrl}\` cancels the switch.`
  );
}

/**
 * Every command that may write the state holds the state directory's lock from reading it to its last save (master calls
 * write too: `paired=false` after `not_paired`, the confirmation time). A second one is refused at once with `conflict`.
 * `init` and `restore` take it inside the library. Read-only commands (status, backup, vpn-config) do not.
 */
const locked = <T>(ctx: CommandContext, command: string, fn: () => T | Promise<T>): Promise<T> => withStateLock(ctx.stateDir, command, fn);

export async function runCommand(command: Command, ctx: CommandContext): Promise<CommandOutput> {
  switch (command) {
    case 'init': {
      const key = str(ctx, 'key') ?? 'ec';
      if (!['rsa', 'ec', 'ed25519'].includes(key)) throw new UsageError('--key must be rsa, ec or ed25519');
      const rsaBits = num(ctx, 'rsa-bits', { integer: true, min: MIN_RSA_BITS, max: MAX_RSA_BITS });
      if (rsaBits !== undefined && key !== 'rsa') throw new UsageError('--rsa-bits applies to --key rsa only');
      if (rsaBits !== undefined && rsaBits % 8 !== 0) throw new UsageError(`--rsa-bits must be a multiple of 8 from ${MIN_RSA_BITS} to ${MAX_RSA_BITS}`);
      const result = await Terminal.init(ctx.stateDir, { serial: str(ctx, 'serial', true), key: key as KeyKind, rsaBits });
      return {
        json: { ...result, stateDir: ctx.stateDir },
        text: `Terminal ${result.serial} initialized in ${ctx.stateDir}\nkey          ${result.keyKind} (${result.alg})\nTFP          ${fp(result.tfp)}\nNext: terminal pair --gate https://SERVER:7741`,
      };
    }
    case 'status': {
      const status = Terminal.open(ctx.stateDir).status();
      return { json: { ...status, stateDir: ctx.stateDir }, text: statusText(status, ctx.stateDir) };
    }
    case 'pair':
      return pair(ctx);
    case 'ping': {
      const reply = await locked(ctx, 'ping', () => Terminal.open(ctx.stateDir, talking(ctx)).ping());
      return { json: { ...reply }, text: `pong — server time ${reply.serverTime}` };
    }
    case 'cash-event': {
      // Command-line mistakes first (exit 2), before the state directory is even looked at.
      // ISO 4217 codes are upper case; `usd` is what was meant.
      const currency = str(ctx, 'currency', true).toUpperCase();
      if (!CASH_EVENT_LIMITS.currency.test(currency)) throw new UsageError('--currency must be an ISO 4217 code, e.g. USD');
      const event = {
        currency,
        denomination: thousandths(num(ctx, 'denomination', CASH_EVENT_LIMITS.denomination) ?? missing('denomination')),
        count: num(ctx, 'count', { integer: true, ...CASH_EVENT_LIMITS.count }) ?? missing('count'),
        eventId: str(ctx, 'event-id'),
      };
      const reply = await locked(ctx, 'cash-event', () => Terminal.open(ctx.stateDir, talking(ctx)).cashEvent(event));
      return { json: { ...reply }, text: `cash event ${reply.eventId} ${reply.duplicate ? 'was already recorded (duplicate)' : 'accepted'}` };
    }
    case 'deposit-address': {
      const coin = str(ctx, 'coin', true);
      const reply = await locked(ctx, 'deposit-address', () => Terminal.open(ctx.stateDir, talking(ctx)).depositAddress(coin));
      return { json: { ...reply }, text: `${reply.coin} deposit address: ${reply.address}` };
    }
    case 'set-server': {
      const url = ctx.positionals[0];
      if (url === undefined) throw new UsageError('set-server needs the new gate URL');
      gateUrlArgument(url, 'set-server');
      const expectSfp = sfpOption(ctx);
      return locked(ctx, 'set-server', () => {
        const terminal = Terminal.open(ctx.stateDir);
        const before = terminal.status();
        const { switched } = terminal.setServer(url, { expectSfp });
        const status = terminal.status();
        return { json: { ...status, switched }, text: switched ? switchedText(status) : notedText(before, status) };
      });
    }
    case 'vpn-config':
      return vpnConfig(ctx);
    case 'factory-reset':
      return factoryReset(ctx);
    case 'backup': {
      const out = str(ctx, 'out', true);
      const terminal = Terminal.open(ctx.stateDir);
      await checkOutDirectory(out); // before the passphrase is typed (twice) for nothing
      const sealed = await terminal.backup(await passphrase(ctx, true));
      try {
        await writeFile(out, sealed, { mode: 0o600, flag: 'wx' }); // never overwrite an older restore point
      } catch (err) {
        if (errnoOf(err) === 'EEXIST') throw new AppError('conflict', `${out} already exists`);
        throw fileMistake(err, '--out', out);
      }
      const { serial, tfp } = terminal.status();
      return { json: { out, bytes: sealed.length, serial, tfp }, text: `Restore point of ${serial} written to ${out}. Keep the file and its passphrase apart.` };
    }
    case 'restore': {
      const file = str(ctx, 'in', true);
      const sealed = await readFile(file).catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'ENOENT' ? new AppError('not_found', `${file} does not exist`) : fileMistake(err, '--in', file);
      });
      const terminal = await Terminal.restore(ctx.stateDir, sealed, await passphrase(ctx, false), { force: ctx.values.force === true });
      const status = terminal.status();
      return { json: { ...status, stateDir: ctx.stateDir }, text: `Restored.\n${statusText(status, ctx.stateDir)}` };
    }
  }
}
