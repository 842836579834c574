/** @module The one error contract of the three CLIs: the `error: <code>: <message>` line, the help hint after a usage mistake, the exit code. */
import { describe, expect, it } from 'vitest';
import { EXIT_FAILED, EXIT_USAGE, UsageError, errorText, exitCodeOf } from '../../../src/cli-errors.js';
import { AppError } from '../../../src/errors.js';

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
