/** @module `cas login` keeps the session token in an owner-only file so later commands resume it instead of asking for password and TOTP again. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileDurably } from '../durable-file.js';
import { AppError, errnoOf } from '../errors.js';
import { SESSION_MAX_AGE_SEC } from '../protocol/types.js';

export interface SavedSession {
  url: string;
  user: string;
  token: string;
  expiresAt: string;
}

/** One file per (admin URL, user): `$CAS_SESSION_DIR` or `~/.config/cas`. */
export function sessionFile(env: NodeJS.ProcessEnv, url: string, user: string): string {
  const dir = env.CAS_SESSION_DIR ?? path.join(env.HOME ?? os.homedir(), '.config', 'cas');
  const id = crypto.createHash('sha256').update(`${url}\n${user}`).digest('hex').slice(0, 24);
  return path.join(dir, `session-${id}.json`);
}

/**
 * The kept session, or null when there is none; `ended` when it was written longer ago than a session can live, so
 * that no dead token is sent (a refused resume is audited as a token tried). Otherwise its `expiresAt` is not trusted
 * to end it: the server slides a session with every op and alone knows when it ends (a token dropped here would stay
 * alive there, with no `cas logout` able to end it). A file this user does not own, or that others can read or write,
 * is refused: with CAS_SESSION_DIR on a shared folder, another user could plant one and have this user's commands run
 * in their session. Opened without following a link, and checked on the descriptor it is read from.
 */
export function loadSession(file: string): (SavedSession & { ended: boolean }) | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (error) {
    if (errnoOf(error) === 'ELOOP') throw notAlone(file, 'a symbolic link');
    return null;
  }
  let text: string;
  let writtenAt: number;
  try {
    const stat = fs.fstatSync(fd);
    const uid = process.getuid?.();
    if ((uid !== undefined && stat.uid !== uid) || (stat.mode & 0o077) !== 0) {
      throw notAlone(file, `owner uid ${stat.uid}, mode ${(stat.mode & 0o777).toString(8)}`);
    }
    text = fs.readFileSync(fd, 'utf8');
    writtenAt = stat.mtimeMs;
  } finally {
    fs.closeSync(fd);
  }
  try {
    const saved = JSON.parse(text) as SavedSession;
    return typeof saved.token === 'string' ? { ...saved, ended: Date.now() - writtenAt > SESSION_MAX_AGE_SEC * 1000 } : null;
  } catch {
    return null;
  }
}

const notAlone = (file: string, what: string): AppError =>
  new AppError('invalid_state', `${file} holds a session token but is not this user's alone (${what}): it was not used. Remove it and run cas login again`);

/** The token is a bearer secret: the file is written 0600 inside a 0700 folder, never world-readable even briefly. */
export function saveSession(file: string, session: SavedSession): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileDurably(file, JSON.stringify(session), 0o600, { replace: true });
}

export function removeSession(file: string): void {
  fs.rmSync(file, { force: true });
}
