/** @module `cas login` keeps the session token in an owner-only file so later commands resume it instead of asking for password and TOTP again. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileDurably } from '../durable-file.js';

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

export function loadSession(file: string): SavedSession | null {
  try {
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as SavedSession;
    if (typeof saved.token !== 'string' || Date.parse(saved.expiresAt) <= Date.now()) return null;
    return saved;
  } catch {
    return null;
  }
}

/** The token is a bearer secret: the file is written 0600 inside a 0700 folder, never world-readable even briefly. */
export function saveSession(file: string, session: SavedSession): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileDurably(file, JSON.stringify(session), 0o600, { replace: true });
}

export function removeSession(file: string): void {
  fs.rmSync(file, { force: true });
}
