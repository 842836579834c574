/**
 * @module A folder's files as they were at one moment, though another process may be rewriting them: what `backup`
 * copies of `tls/` and `vpn/`. A plain copy reads file after file, and one taken while `identity promote` switched
 * server.key and server.crt could hold the old key beside the new certificate: a copy the server does not start on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError, errnoOf } from '../errors.js';

/** A file or folder under the snapshot's root, by its path from there (folders before what they hold). */
export interface SnapshotEntry {
  name: string;
  mode: number;
  mtimeMs: number;
  atimeMs: number;
  /** The file's inode when read: a file written anew (writeFileDurably renames a new one into place) has another. */
  ino: number;
  /** Null for a folder. */
  data: Buffer | null;
}

/** How long a backup waits for a folder to hold still: an `identity promote` writes its few files in well under a second. */
const SETTLE_MS = 10_000;
const RETRY_MS = 50;

/**
 * Reads `dir` whole again and again until two reads in a row agree (names, inodes, modes, times and bytes), and returns
 * that read; null when there is no such folder. Why two equal reads are one moment: each file held the same inode and
 * bytes from its first read to its second, and every file's interval spans the gap between the two reads, so at any
 * instant of that gap the folder held exactly this. Writers here replace a file by renaming a new one over it (a new
 * inode) or remove it; none writes one in place and back. Throws `conflict` when the folder does not hold still for
 * SETTLE_MS. `afterFile` is told each file read (tests write between two of them).
 */
export async function snapshotFolder(dir: string, opts: { afterFile?: (name: string) => void; settleMs?: number } = {}): Promise<SnapshotEntry[] | null> {
  const deadline = Date.now() + (opts.settleMs ?? SETTLE_MS);
  let last = readFolder(dir, opts.afterFile);
  for (;;) {
    if (last === 'gone') return null;
    const again = readFolder(dir, opts.afterFile);
    if (last !== null && again !== null && again !== 'gone' && sameEntries(last, again)) return again;
    if (Date.now() >= deadline) {
      throw new AppError('conflict', `${dir} kept changing while it was copied (an \`identity prepare\` or \`identity promote\` running?): nothing was written; run the backup again once it is done`);
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    last = again;
  }
}

/** Writes a snapshot under `target` with each file's mode and times, as `cp -p` would: the keys stay owner-only. */
export function writeSnapshot(entries: readonly SnapshotEntry[], target: string): void {
  fs.mkdirSync(target, { recursive: true, mode: 0o700 });
  for (const entry of entries) {
    const file = path.join(target, entry.name);
    if (entry.data === null) fs.mkdirSync(file, { mode: entry.mode & 0o7777 });
    // Created with its own mode: a key never lies on disk readable by others, not even briefly.
    else fs.writeFileSync(file, entry.data, { mode: entry.mode & 0o7777, flag: 'wx' });
    fs.chmodSync(file, entry.mode & 0o7777);
  }
  // Last, and innermost first: writing into a folder moves its modification time.
  for (const entry of [...entries].reverse()) fs.utimesSync(path.join(target, entry.name), entry.atimeMs / 1000, entry.mtimeMs / 1000);
}

/** One read of the folder, in name order; null when a file went between the listing and its read (the folder changed). */
function readFolder(dir: string, afterFile: ((name: string) => void) | undefined, under = ''): SnapshotEntry[] | null | 'gone' {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(dir, under)).sort();
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return under === '' ? 'gone' : null;
    throw error;
  }
  const entries: SnapshotEntry[] = [];
  for (const base of names) {
    const name = path.join(under, base);
    const entry = readEntry(path.join(dir, name), name);
    if (entry === null) return null;
    entries.push(entry);
    if (entry.data === null) {
      const inside = readFolder(dir, afterFile, name);
      if (inside === null || inside === 'gone') return null;
      entries.push(...inside);
    } else {
      afterFile?.(name);
    }
  }
  return entries;
}

function readEntry(file: string, name: string): SnapshotEntry | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return null;
    throw error;
  }
  try {
    const stat = fs.fstatSync(fd);
    const times = { mode: stat.mode, mtimeMs: stat.mtimeMs, atimeMs: stat.atimeMs, ino: stat.ino };
    if (stat.isDirectory()) return { name, ...times, data: null };
    if (!stat.isFile()) throw new AppError('invalid_state', `${file} is neither a file nor a folder: a backup copies only those`);
    return { name, ...times, data: fs.readFileSync(fd) };
  } finally {
    fs.closeSync(fd);
  }
}

function sameEntries(a: readonly SnapshotEntry[], b: readonly SnapshotEntry[]): boolean {
  return a.length === b.length && a.every((x, i) => {
    const y = b[i]!;
    // Not atime: reading a file may move it, and reading is what this does.
    return x.name === y.name && x.ino === y.ino && x.mode === y.mode && x.mtimeMs === y.mtimeMs
      && (x.data === null ? y.data === null : y.data !== null && x.data.equals(y.data));
  });
}
