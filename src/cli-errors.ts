/** @module The error contract of the three CLIs (`pairing-server`, `cas`, `terminal`): `error: <code>: <message>` on stderr, exit 2 for a usage mistake, else 1. */
import { AppError, type ErrorCode } from './errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A command-line mistake: `error: bad_request: …` and exit 2. */
export class UsageError extends AppError {
  /** `helpFor`: the command whose help the hint names (`users add`…); null for the program's overview. */
  constructor(message: string, readonly helpFor: string | null = null) {
    super('bad_request', message);
    this.name = 'UsageError';
  }
}

export function errorCodeOf(err: unknown): ErrorCode {
  return err instanceof AppError ? err.code : 'internal_error';
}

/** Unexpected errors keep their text (a file system error says which path); none carries key material. */
export function errorMessageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function exitCodeOf(err: unknown): number {
  return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILED;
}

/**
 * What a CLI prints on stderr for `err` (docs/TROUBLESHOOTING.md): the error line, and after a usage mistake which
 * help to read when `program` is given (`terminal` names its help inside its messages instead).
 */
export function errorText(err: unknown, program?: string): string {
  const line = `error: ${errorCodeOf(err)}: ${errorMessageOf(err)}\n`;
  if (!(err instanceof UsageError) || program === undefined) return line;
  return `${line}(${program} ${err.helpFor === null ? '' : `${err.helpFor} `}--help for usage)\n`;
}

/**
 * `--json`'s error: one JSON object where a script reads answers, with what else the CLI names (`details`) and
 * `"usage": true` for a usage mistake.
 */
export function errorJson(err: unknown, details: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ error: errorCodeOf(err), message: errorMessageOf(err), ...details, ...(err instanceof UsageError ? { usage: true } : {}) })}\n`;
}
