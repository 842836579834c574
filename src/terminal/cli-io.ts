/** @module Console input and output of the terminal CLI: the pairing-code screen, the progress line, reading a passphrase or a confirmation. */
import type { Readable, Writable } from 'node:stream';
import type { ReadStream } from 'node:tty';
import { AppError } from '../errors.js';

const MAX_LINE = 4096;

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

/** Reads one line from `input`: the passphrase for backup and restore. Typed characters are not echoed on a TTY. */
export async function readSecretLine(input: Readable, prompt: string, promptOut: Writable): Promise<string> {
  const tty = input as Partial<ReadStream>;
  if (tty.isTTY === true && typeof tty.setRawMode === 'function') return readHidden(tty as ReadStream, prompt, promptOut);
  return readLine(input);
}

/** Reads one line (without its newline) from `input`; '' when the input ends first. */
export async function readLine(input: Readable): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    const newline = text.search(/\r?\n/);
    if (newline >= 0) return text.slice(0, newline);
    if (text.length > MAX_LINE) break;
  }
  return text.slice(0, MAX_LINE);
}

function readHidden(input: ReadStream, prompt: string, out: Writable): Promise<string> {
  out.write(prompt);
  input.setRawMode(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let line = '';
    const done = (err: Error | null): void => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      out.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003') return done(new AppError('bad_request', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else if (line.length < MAX_LINE) line += ch;
      }
    };
    input.on('data', onData);
  });
}
