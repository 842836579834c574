/** @module How `cas` reads secrets: the password as the first line of stdin (hidden prompt on a terminal), the TOTP code only from a terminal. */
import { UsageError } from '../cli-errors.js';

/** The streams the CLI talks through; tests hand in their own. */
export interface CliIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown; destroy?: () => unknown };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export function isInteractive(io: CliIo): boolean {
  return io.stdin.isTTY === true && typeof io.stdin.setRawMode === 'function';
}

/** Reads the password: hidden prompt on a terminal, otherwise the first line of stdin. */
export async function readPassword(io: CliIo, user: string): Promise<string> {
  if (isInteractive(io)) return readHidden(io, `password for ${user}: `);
  const line = await readLine(io.stdin);
  // MUST release a piped stdin, or a long-running command (watch) keeps a dead reader around.
  io.stdin.destroy?.();
  if (line === null) throw new UsageError('no password on stdin (pipe it in, e.g. from a password manager, or run on a terminal)');
  return line;
}

/** Asks for the 2FA code on a terminal; callers check `isInteractive` first. */
export async function promptTotp(io: CliIo): Promise<string> {
  io.stderr.write('2FA code: ');
  const line = await readLine(io.stdin);
  io.stdin.pause();
  if (line === null) throw new UsageError('no 2FA code given');
  return line.trim();
}

/** First line of a stream without its line ending; null at end of input with nothing read. */
function readLine(stream: NodeJS.ReadableStream): Promise<string | null> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const finish = (value: string | null): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      resolve(value);
    };
    const onData = (chunk: Buffer | string): void => {
      buffered += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      const nl = buffered.indexOf('\n');
      if (nl !== -1) finish(buffered.slice(0, nl).replace(/\r$/, ''));
    };
    const onEnd = (): void => finish(buffered === '' ? null : buffered.replace(/\r$/, ''));
    const onError = (err: Error): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      reject(err);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.resume();
  });
}

/** Raw-mode read so the password is never echoed; Ctrl-C cancels, Backspace edits. */
function readHidden(io: CliIo, prompt: string): Promise<string> {
  const stdin = io.stdin;
  return new Promise((resolve, reject) => {
    let value = '';
    io.stderr.write(prompt);
    stdin.setRawMode!(true);
    const done = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode!(false);
      stdin.pause();
      io.stderr.write('\n');
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          done();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new UsageError('cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}
