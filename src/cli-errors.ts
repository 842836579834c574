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

/**
 * The message for an error of node:util's parseArgs. Its own text for a mistyped option advises passing it as a
 * positional after `--` (`as in '-- "--minute"'`), which is never what a person typing `--minute` meant and leaves
 * the option they wanted unnamed: this names the option given and, when one of `known` is a slip of the keyboard
 * away, that one. `known`: the option names the command line takes, without dashes.
 */
export function optionMistake(err: unknown, known: readonly string[]): string {
  const message = errorMessageOf(err);
  const unknown = /^Unknown option '(-{1,2}[^']*)'/.exec(message)?.[1];
  if (unknown !== undefined) {
    const closest = closestOption(unknown.replace(/^-+/, ''), known);
    return `unknown option ${unknown}${closest === null ? '' : ` (did you mean --${closest}?)`}`;
  }
  const missing = /^Option '(?:-\w, )?(--[^ ']+) <value>' argument missing/.exec(message)?.[1];
  if (missing !== undefined) return `${missing} needs a value`;
  return message;
}

/** The one of `known` fewest edits from `given`: one edit, or two between longer names (`--gate` is not `--state`); else null. */
function closestOption(given: string, known: readonly string[]): string | null {
  let best: { name: string; distance: number } | null = null;
  for (const name of known) {
    const distance = editDistance(given, name);
    const allowed = Math.max(given.length, name.length) >= 7 ? 2 : 1;
    if (distance <= allowed && (best === null || distance < best.distance)) best = { name, distance };
  }
  return best?.name ?? null;
}

/** Levenshtein distance; option names are short, so the whole table is cheap. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const next = [i];
    for (let j = 1; j <= b.length; j += 1) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}
