/** @module How `cas` reads secrets: the password as the first line of stdin (hidden prompt on a terminal), the TOTP code only from a terminal. */
import { UsageError } from '../cli-errors.js';
import { isRawInput, readFirstLine, readHidden, type LineSource } from '../cli-input.js';

/** The streams the CLI talks through; tests hand in their own. */
export interface CliIo {
  stdin: LineSource & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export function isInteractive(io: CliIo): boolean {
  return isRawInput(io.stdin);
}

/** Reads the password: hidden prompt on a terminal, otherwise the first line of stdin. */
export async function readPassword(io: CliIo, user: string): Promise<string> {
  if (isRawInput(io.stdin)) {
    const typed = await readHidden(io.stdin, `password for ${user}: `, io.stderr);
    if (typed === null) throw new UsageError('cancelled');
    return typed;
  }
  // readFirstLine releases a piped stdin, or a long-running command (watch) would keep a dead reader around.
  const line = await readFirstLine(io.stdin);
  if (line === null) throw new UsageError('no password on stdin (pipe it in, e.g. from a password manager, or run on a terminal)');
  return line;
}

/** Asks for the 2FA code on a terminal; callers check `isInteractive` first. */
export async function promptTotp(io: CliIo): Promise<string> {
  io.stderr.write('2FA code: ');
  const line = await readFirstLine(io.stdin);
  if (line === null) throw new UsageError('no 2FA code given');
  return line.trim();
}
