/** @module The one error contract of the three CLIs: the `error: <code>: <message>` line, the help hint after a usage mistake, the exit code. */
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EXIT_FAILED, EXIT_USAGE, UsageError, errorText, exitCodeOf, optionMistake } from '../../../src/cli-errors.js';
import { AppError } from '../../../src/errors.js';
import { casCli, runCli, serverCli } from '../../helpers/cli.js';
import { TERMINAL_CLI } from '../../helpers/server-process.js';

describe('errorText and exitCodeOf', () => {
  it('a usage mistake is bad_request, exit 2, with the help of the command it names', () => {
    expect(errorText(new UsageError('--out is required', 'backup'), 'pairing-server')).toBe('error: bad_request: --out is required\n(pairing-server backup --help for usage)\n');
    expect(errorText(new UsageError('no command'), 'cas')).toBe('error: bad_request: no command\n(cas --help for usage)\n');
    expect(errorText(new UsageError('no command given; see `terminal --help`'))).toBe('error: bad_request: no command given; see `terminal --help`\n');
    expect(exitCodeOf(new UsageError('x'))).toBe(EXIT_USAGE);
  });

  it('a domain error keeps its code and gets no help hint; anything else is internal_error; both exit 1', () => {
    expect(errorText(new AppError('not_found', 'no such terminal'), 'cas')).toBe('error: not_found: no such terminal\n');
    expect(errorText(new Error('EACCES: permission denied, open /x'), 'cas')).toBe('error: internal_error: EACCES: permission denied, open /x\n');
    expect(errorText('thrown string')).toBe('error: internal_error: thrown string\n');
    expect(exitCodeOf(new AppError('not_found', 'x'))).toBe(EXIT_FAILED);
    expect(exitCodeOf(new Error('x'))).toBe(EXIT_FAILED);
  });
});

/** What parseArgs throws for `args` against these options. */
function parseError(args: string[], options: Record<string, { type: 'string' | 'boolean' }>): unknown {
  try {
    parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    return err;
  }
  throw new Error(`parseArgs took ${args.join(' ')}`);
}

describe('optionMistake', () => {
  const options = { minutes: { type: 'string' }, gate: { type: 'string' }, 'expect-sfp': { type: 'string' }, json: { type: 'boolean' } } as const;
  const known = Object.keys(options);

  it('names a mistyped option and the one meant, never parseArgs\'s advice to pass it after --', () => {
    expect(optionMistake(parseError(['--minute', '5'], options), known)).toBe('unknown option --minute (did you mean --minutes?)');
    expect(optionMistake(parseError(['--expect-spf', 'ab'], options), known)).toBe('unknown option --expect-spf (did you mean --expect-sfp?)');
    expect(optionMistake(parseError(['--xyzzy'], options), known)).toBe('unknown option --xyzzy');
    // Two edits between short names is another word, not a slip: --gate is no --state.
    expect(optionMistake(parseError(['--state', 'x'], options), known)).toBe('unknown option --state');
  });

  it('says that an option needs a value, and keeps any other message', () => {
    expect(optionMistake(parseError(['--minutes'], options), known)).toBe('--minutes needs a value');
    expect(optionMistake(parseError(['--json=1'], options), known)).toBe("Option '--json' does not take an argument");
  });
});

describe('a mistyped option on the three command lines', () => {
  it('is a usage error naming the option meant', async () => {
    const cas = await casCli(['gate', 'open', '--minute', '5']);
    expect(cas.code).toBe(EXIT_USAGE);
    expect(cas.stderr).toBe('error: bad_request: unknown option --minute (did you mean --minutes?)\n(cas --help for usage)\n');
    // Matched against the named command's options: gate open takes no --vpn, so --vpm is not said to mean it; a
    // command that takes it is.
    expect((await casCli(['gate', 'open', '--vpm'])).stderr).toBe('error: bad_request: unknown option --vpm\n(cas --help for usage)\n');
    expect((await casCli(['terminals', 'create', 'ATM-1', '--vpm'])).stderr).toMatch(/^error: bad_request: unknown option --vpm \(did you mean --vpn\?\)\n/);
    expect((await casCli(['--usr', 'bob', 'gate', 'status'])).stderr).toMatch(/^error: bad_request: unknown option --usr \(did you mean --user\?\)\n/);
    const server = await serverCli(['fingerprint', '--colon']);
    expect(server.code).toBe(EXIT_USAGE);
    expect(server.stderr).toBe('error: bad_request: unknown option --colon (did you mean --colons?)\n(pairing-server --help for usage)\n');
    const terminal = await runCli(TERMINAL_CLI, ['pair', '--expect-spf', 'ab']);
    expect(terminal.code).toBe(EXIT_USAGE);
    expect(terminal.stderr).toBe('error: bad_request: unknown option --expect-spf (did you mean --expect-sfp?); see `terminal pair --help`\n');
  });
});
