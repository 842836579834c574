/** @module Files written whole or not at all (the server's identity and secrets.key, the terminal's state directory): a temporary file beside the target, flushed, then moved or linked into place. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { errnoOf } from './errors.js';

/** Temporary files of this module: `.NAME.PID.RANDOM.tmp` beside NAME, exactly as writeFileDurably names them. */
const TEMPORARY = /^\.(.+)\.\d+\.[0-9a-f]{8}\.tmp$/;

const isTemporaryOf = (name: string, entry: string): boolean => TEMPORARY.exec(entry)?.[1] === name;

/**
 * Writes `data` to `file` so that a crash, a short write or a full disk leaves either no file or the whole new one
 * (with `replace`, the old one or the new one), never a torn one. The temporary file is created with its final mode
 * before any byte is written: a key is never on disk with wider permissions, not even briefly.
 *
 * `replace: false` puts the file in place only if there is none yet (link(2) refuses an existing name), for files
 * that processes without the data dir's lock may create at the same time (`secrets.key`: `users add` beside a starting
 * `serve`); it returns false when another was there first, and that one is the file.
 */
export function writeFileDurably(file: string, data: string | Buffer, mode: number, opts: { replace: boolean }): boolean {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = fs.openSync(temp, 'wx', mode);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (opts.replace) {
      fs.renameSync(temp, file);
    } else {
      try {
        fs.linkSync(temp, file);
      } catch (error) {
        if (errnoOf(error) === 'EEXIST') return false;
        throw error;
      }
    }
  } finally {
    fs.rmSync(temp, { force: true });
  }
  syncDir(dir);
  return true;
}

/** Removes what a crash in the middle of writeFileDurably(dir/NAME) left behind; only where no one else writes NAME. */
export function removeTemporaries(dir: string, names: readonly string[]): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (names.some((name) => isTemporaryOf(name, entry))) fs.rmSync(path.join(dir, entry), { force: true });
  }
}

function syncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename or link is still atomic there.
  }
}
