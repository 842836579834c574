/**
 * @module The note `pairing-server backup` leaves in its copy, so that a server started on the copy knows it is a
 * restore. A restored store has lost what happened after the copy: the nonces of the requests the old server accepted
 * since (its replay window) and the sessions operators logged out of since. The first start on the copy closes both
 * (main.ts), then drops the note: a later restart is an ordinary one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { errnoOf } from '../errors.js';

export const BACKUP_MARKER = 'backup.json';

export interface BackupMarker {
  /** When the snapshot was taken (ISO 8601). */
  takenAt: string;
  /** The data dir it was taken from. */
  from: string;
}

export function writeBackupMarker(dir: string, marker: BackupMarker): void {
  fs.writeFileSync(path.join(dir, BACKUP_MARKER), JSON.stringify(marker) + '\n', { mode: 0o600, flag: 'wx' });
}

/**
 * The note in `dataDir`, or null when there is none. A note that does not parse is still a restore: it is only ever
 * written by `backup`, and taking a restore for an ordinary start would leave the replay window open.
 */
export function readBackupMarker(dataDir: string): BackupMarker | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, BACKUP_MARKER), 'utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return null;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<BackupMarker>;
    return { takenAt: typeof parsed.takenAt === 'string' ? parsed.takenAt : 'unknown', from: typeof parsed.from === 'string' ? parsed.from : 'unknown' };
  } catch {
    return { takenAt: 'unknown', from: 'unknown' };
  }
}

/** Once what the note asks for is committed: a crash before this leaves the note, and the next start does it again. */
export function dropBackupMarker(dataDir: string): void {
  fs.rmSync(path.join(dataDir, BACKUP_MARKER), { force: true });
}
