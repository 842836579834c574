#!/usr/bin/env node
/** @module The `terminal` command: parses the command line, runs one command, prints text or one JSON object, and sets the exit code. */
import type { Readable, Writable } from 'node:stream';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EXIT_FAILED, EXIT_OK, UsageError, errorJson, errorText, exitCodeOf, optionMistake } from '../cli-errors.js';
import { AppError } from '../errors.js';
import { COMMAND_HELP, COMMANDS, OVERVIEW, type Command } from './cli-help.js';
import { runCommand } from './cli-commands.js';
import { isMainModule } from '../main-module.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export const GLOBAL_OPTIONS = {
  state: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export const COMMAND_OPTIONS: Readonly<Record<Command, Options>> = {
  init: { serial: { type: 'string' }, key: { type: 'string' }, 'rsa-bits': { type: 'string' } },
  status: {},
  pair: {
    gate: { type: 'string' },
    'expect-sfp': { type: 'string' },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
    interval: { type: 'string' },
  },
  ping: {},
  'cash-event': {
    currency: { type: 'string' },
    denomination: { type: 'string' },
    count: { type: 'string' },
    'event-id': { type: 'string' },
  },
  'deposit-address': { coin: { type: 'string' } },
  'vpn-config': { out: { type: 'string' } },
  'set-server': { 'expect-sfp': { type: 'string' } },
  'factory-reset': { yes: { type: 'boolean' } },
  backup: { out: { type: 'string' } },
  restore: { in: { type: 'string' }, force: { type: 'boolean' } },
};

/** How many words follow the command name. */
const POSITIONALS: Partial<Record<Command, number>> = { 'set-server': 1 };

export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
  env: Record<string, string | undefined>;
}

/** The command is the first word that is neither an option nor the value of --state. */
function findCommand(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i += 1) {
    const token = argv[i]!;
    if (token === '--state') i += 1;
    else if (token === '--') return argv[i + 1];
    else if (!token.startsWith('-')) return token;
  }
  return undefined;
}

const isCommand = (word: string | undefined): word is Command => (COMMANDS as readonly string[]).includes(word ?? '');

/** Runs the CLI; returns the exit code. Separate from the process so that it can be driven in-process too. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const json = argv.includes('--json');
  const word = findCommand(argv);
  try {
    if (word === undefined) {
      if (argv.includes('--help') || argv.includes('-h')) {
        io.stdout.write(`${OVERVIEW}\n`);
        return EXIT_OK;
      }
      throw new UsageError('no command given; see `terminal --help`');
    }
    if (!isCommand(word)) throw new UsageError(`unknown command "${word}"; see \`terminal --help\``);

    const options = { ...GLOBAL_OPTIONS, ...COMMAND_OPTIONS[word] };
    let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
    try {
      parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError(`${optionMistake(err, Object.keys(options))}; see \`terminal ${word} --help\``);
    }
    if (parsed.values.help === true) {
      io.stdout.write(`${COMMAND_HELP[word]}\n`);
      return EXIT_OK;
    }
    const positionals = parsed.positionals.slice(1);
    if (positionals.length > (POSITIONALS[word] ?? 0)) {
      throw new UsageError(`unexpected argument "${positionals[POSITIONALS[word] ?? 0]}"; see \`terminal ${word} --help\``);
    }
    // An empty --state or TERMINAL_STATE counts as unset: '' would put key.pem straight into the working directory.
    const stateDir = (parsed.values.state as string | undefined) || io.env.TERMINAL_STATE || './terminal-state';
    const output = await runCommand(word, { ...io, stateDir, json, values: parsed.values, positionals });
    io.stdout.write(json ? `${JSON.stringify(output.json)}\n` : `${output.text}\n`);
    return output.exitCode ?? EXIT_OK;
  } catch (err) {
    return reportError(err, json, io);
  }
}

/** With --json the error is the one JSON object on stdout, so that a script reads it where it reads answers. */
function reportError(err: unknown, json: boolean, io: CliIo): number {
  // A cash event that got no answer names its id, for the retry that must reuse it.
  const eventId = err instanceof AppError && typeof err.details?.eventId === 'string' ? { eventId: err.details.eventId } : {};
  if (json) io.stdout.write(errorJson(err, eventId));
  else io.stderr.write(errorText(err));
  return exitCodeOf(err);
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`error: internal_error: ${String(err)}\n`);
      process.exitCode = EXIT_FAILED;
    },
  );
}
