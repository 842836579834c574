/** @module Console input and output of the terminal CLI: the pairing-code screen, the progress line, reading a passphrase. */
import type { Readable, Writable } from 'node:stream';
import { isRawInput, readFirstLine, readHidden } from '../cli-input.js';
import { AppError } from '../errors.js';

/** The pairing code as a terminal screen would show it: big, boxed, with what to do. */
export function codeScreen(code: string, serial: string): string {
  const inner = [
    '',
    '  PAIRING CODE',
    '',
    `        ${code.split('').join(' ')}`,
    '',
    `  Terminal ${serial} is waiting for the operator's approval.`,
    '  Read this code to the operator calling you. Approve only if the',
    '  operator sees the very same code; a different code means someone',
    '  is in the middle.',
    '',
  ];
  const width = Math.max(...inner.map((line) => line.length)) + 2;
  const border = `+${'-'.repeat(width)}+`;
  return [
    border,
    ...inner.map((line) => `|${line.padEnd(width)}|`),
    border,
    `PAIRING CODE ${code} — read this code to the operator calling you`,
  ].join('\n');
}

/** A one-line progress indicator on stderr, only when stderr is a TTY (scripts get clean output). */
export class ProgressLine {
  private readonly out: Writable & { isTTY?: boolean };
  private shown = false;

  constructor(out: Writable & { isTTY?: boolean }) {
    this.out = out;
  }

  update(text: string): void {
    if (this.out.isTTY !== true) return;
    this.out.write(`\r\x1b[2K${text}`);
    this.shown = true;
  }

  clear(): void {
    if (!this.shown) return;
    this.out.write('\r\x1b[2K');
    this.shown = false;
  }
}

/** Reads the passphrase for backup and restore: typed characters are not echoed on a TTY; '' when a pipe gives none. */
export async function readSecretLine(input: Readable, prompt: string, promptOut: Writable): Promise<string> {
  if (!isRawInput(input)) return (await readFirstLine(input)) ?? '';
  const typed = await readHidden(input, prompt, promptOut);
  if (typed === null) throw typingCancelled();
  return typed;
}

/** Ctrl-C at a passphrase prompt. Exit 1 as it always was here, where cas calls its Ctrl-C a usage mistake (exit 2): scripts may test either. */
export const typingCancelled = (): AppError => new AppError('bad_request', 'cancelled');
