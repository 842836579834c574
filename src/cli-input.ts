/** @module What the three CLIs read from stdin: the first line of a pipe (bounded), or a line typed at a terminal without echo. */
import { StringDecoder } from 'node:string_decoder';
import { UsageError } from './cli-errors.js';

/** Room for the longest password an operator may have (1,024 characters, operators.ts) in any UTF-8; a pipe that never sends a newline is refused here instead of filling memory. */
export const MAX_LINE_BYTES = 4096;

/** A stream the CLIs read lines from: process.stdin, or a PassThrough in tests. */
export type LineSource = NodeJS.ReadableStream & { readonly destroyed?: boolean; readonly readableEnded?: boolean; destroy?(): unknown };

/** A terminal that can stop echoing what is typed. */
export type RawInput = NodeJS.ReadableStream & { readonly isTTY?: boolean; setRawMode(raw: boolean): unknown };

export function isRawInput(stream: NodeJS.ReadableStream & { readonly isTTY?: boolean; setRawMode?: unknown }): stream is RawInput {
  return stream.isTTY === true && typeof stream.setRawMode === 'function';
}

const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const BACKSPACE = '\b';
const DEL = '\u007f';
const NEWLINE = 0x0a;
const CR = 0x0d;

// Refused rather than cut short: a passphrase cut at the limit would seal a backup with a key nobody typed.
const tooLong = (max: number): UsageError => new UsageError(`the line read from standard input is longer than ${max} bytes`);

/**
 * The first line of `stream` without its line ending (`\n` or `\r\n`); null when the input ends with nothing read.
 * Then destroys the stream, so this MUST be its last read: a pipe that is only paused keeps the process alive until
 * its writer closes it.
 */
export function readFirstLine(stream: LineSource, max: number = MAX_LINE_BYTES): Promise<string | null> {
  if (stream.destroyed === true || stream.readableEnded === true) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let bytes = 0;
    const settle = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
      stream.destroy?.();
    };
    const onData = (chunk: Buffer | string): void => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      // Searched in bytes, before decoding: 0x0A never occurs inside a multi-byte UTF-8 character, and a character split across chunks is decoded whole.
      const newline = buffer.indexOf(NEWLINE);
      const part = newline === -1 ? buffer : buffer.subarray(0, newline);
      bytes += part.length;
      parts.push(part);
      // The \r of a \r\n is not the line's; it may end this chunk with the \n in the next one.
      if (bytes - (part.at(-1) === CR ? 1 : 0) > max) {
        settle();
        reject(tooLong(max));
      } else if (newline !== -1) {
        settle();
        resolve(decode(parts));
      }
    };
    const onEnd = (): void => {
      settle();
      resolve(bytes === 0 ? null : decode(parts));
    };
    const onError = (err: Error): void => {
      settle();
      reject(err);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
    stream.resume();
  });
}

const decode = (parts: Buffer[]): string => Buffer.concat(parts).toString('utf8').replace(/\r$/, '');

/**
 * Reads one line typed at `tty` without echoing it; the prompt and the final newline go to `out`. Enter or Ctrl-D ends
 * the line, Backspace removes the last character (a whole code point: an emoji is one), other control characters are
 * ignored. Null when Ctrl-C cancels: what that means (and its exit code) is the caller's. Leaves `tty` paused and out
 * of raw mode, so that another prompt can follow.
 */
export function readHidden(tty: RawInput, prompt: string, out: NodeJS.WritableStream, max: number = MAX_LINE_BYTES): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const typed: string[] = [];
    let bytes = 0;
    const decoder = new StringDecoder('utf8');
    const settle = (): void => {
      tty.off('data', onData);
      tty.setRawMode(false);
      tty.pause();
      out.write('\n');
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of typeof chunk === 'string' ? chunk : decoder.write(chunk)) {
        if (ch === '\r' || ch === '\n' || ch === CTRL_D) {
          settle();
          resolve(typed.join(''));
          return;
        }
        if (ch === CTRL_C) {
          settle();
          resolve(null);
          return;
        }
        if (ch === DEL || ch === BACKSPACE) {
          bytes -= Buffer.byteLength(typed.pop() ?? '');
        } else if (ch >= ' ') {
          typed.push(ch);
          bytes += Buffer.byteLength(ch);
          if (bytes > max) {
            settle();
            reject(tooLong(max));
            return;
          }
        }
      }
    };
    // Echo off before the prompt shows: what is typed as soon as it appears is never echoed (a test typing on seeing
    // it through script(1) on a loaded machine once beat the raw mode set after it).
    tty.setRawMode(true);
    out.write(prompt);
    tty.on('data', onData);
    tty.resume();
  });
}

/** What each caller of readHiddenTwice answers, in its own words, code and exit status: the three ways it reads no line. */
export interface HiddenTwiceRefusals {
  /** Ctrl-C at either prompt. */
  cancelled(): Error;
  /** Enter alone at the first prompt: nothing to confirm, so the second is not shown. */
  empty(): Error;
  /** The second line is not the first. */
  differ(): Error;
}

/**
 * Reads a new secret typed at `tty` twice without echo (readHidden), after `prompts[0]` and then `prompts[1]`, and gives
 * it when both lines are the same; else throws what `refuse` makes. Typed blind once, a slip would be a secret nobody
 * knows. Only for a TTY: piped input is read once (readFirstLine), as a script sends it.
 */
export async function readHiddenTwice(
  tty: RawInput, prompts: readonly [first: string, again: string], out: NodeJS.WritableStream, refuse: HiddenTwiceRefusals,
): Promise<string> {
  const typed = await readHidden(tty, prompts[0], out);
  if (typed === null) throw refuse.cancelled();
  if (typed === '') throw refuse.empty();
  const again = await readHidden(tty, prompts[1], out);
  if (again === null) throw refuse.cancelled();
  if (again !== typed) throw refuse.differ();
  return typed;
}
