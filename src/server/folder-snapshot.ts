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
  /** Null for a folder and a symbolic link. */
  data: Buffer | null;
  /** A symbolic link's target, as written in it (copied as the link, never followed); null for anything else. */
  link: string | null;
}

/** How long a backup waits for a folder to hold still: an `identity promote` writes its few files in well under a second. */
const SETTLE_MS = 10_000;
const RETRY_MS = 50;
/**
 * What one read of a folder may hold, its files' bytes together: each read is kept whole until the next agrees. tls/
 * holds a few keys and certificates, vpn/ a CA, its keys and a CRL of ~50 bytes of PEM per revoked certificate (5 MiB at
 * 100,000): a folder past this is not one the server wrote, and is refused rather than read into memory twice.
 */
export const SNAPSHOT_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Reads `dir` whole again and again until two reads in a row agree (names, inodes, modes, times and bytes), and returns
 * that read; null when there is no such folder. Why two equal reads are one moment: each file held the same inode and
 * bytes from its first read to its second, and every file's interval spans the gap between the two reads, so at any
 * instant of that gap the folder held exactly this. Writers here replace a file by renaming a new one over it (a new
 * inode) or remove it; none writes one in place and back. Throws `conflict` when the folder does not hold still for
 * SETTLE_MS. `afterFile` is told each file read (tests write between two of them).
 */
export async function snapshotFolder(dir: string, opts: { afterFile?: (name: string) => void; settleMs?: number; maxBytes?: number } = {}): Promise<SnapshotEntry[] | null> {
  const deadline = Date.now() + (opts.settleMs ?? SETTLE_MS);
  const budget = { dir, left: 0, max: opts.maxBytes ?? SNAPSHOT_MAX_BYTES };
  const read = (): ReturnType<typeof readFolder> => {
    budget.left = budget.max;
    return readFolder(dir, opts.afterFile, budget);
  };
  let last = read();
  for (;;) {
    if (last === 'gone') return null;
    const again = read();
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
    if (entry.link !== null) fs.symlinkSync(entry.link, file);
    // Owner-only while it is filled (a folder without the owner's write bit could not be): its own mode comes last.
    else if (entry.data === null) fs.mkdirSync(file, { mode: 0o700 });
    // Created with its own mode: a key never lies on disk readable by others, not even briefly.
    else fs.writeFileSync(file, entry.data, { mode: entry.mode & 0o7777, flag: 'wx' });
    if (entry.link === null && entry.data !== null) fs.chmodSync(file, entry.mode & 0o7777);
  }
  // Last, and innermost first: writing into a folder moves its modification time.
  for (const entry of [...entries].reverse()) {
    const file = path.join(target, entry.name);
    if (entry.link !== null) {
      fs.lutimesSync(file, entry.atimeMs / 1000, entry.mtimeMs / 1000);
      continue;
    }
    if (entry.data === null) fs.chmodSync(file, entry.mode & 0o7777);
    fs.utimesSync(file, entry.atimeMs / 1000, entry.mtimeMs / 1000);
  }
}

/** One read of the folder, in name order; null when a file went between the listing and its read (the folder changed). */
function readFolder(dir: string, afterFile: ((name: string) => void) | undefined, budget: Budget, under = ''): SnapshotEntry[] | null | 'gone' {
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
    const entry = readEntry(path.join(dir, name), name, budget);
    if (entry === null) return null;
    entries.push(entry);
    if (entry.data === null && entry.link === null) {
      const inside = readFolder(dir, afterFile, budget, name);
      if (inside === null || inside === 'gone') return null;
      entries.push(...inside);
    } else {
      afterFile?.(name);
    }
  }
  return entries;
}

interface Budget {
  readonly dir: string;
  /** Bytes this read of the folder may still take. */
  left: number;
  readonly max: number;
}

function readEntry(file: string, name: string, budget: Budget): SnapshotEntry | null {
  let fd: number;
  try {
    // O_NOFOLLOW: a link is copied as the link, as `cp -a` does, never followed (out of the data dir, round in a loop, to
    // a device). O_NONBLOCK: opening a FIFO would otherwise wait for a writer, and the backup with it, for ever.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return null;
    if (errnoOf(error) === 'ELOOP') return readLink(file, name);
    throw error;
  }
  try {
    const stat = fs.fstatSync(fd);
    const times = { mode: stat.mode, mtimeMs: stat.mtimeMs, atimeMs: stat.atimeMs, ino: stat.ino, link: null };
    if (stat.isDirectory()) return { name, ...times, data: null };
    if (!stat.isFile()) throw new AppError('invalid_state', `${file} is neither a file, a folder nor a symbolic link: a backup copies only those`);
    // Before the read: a huge file is refused, not read into memory (twice: each read is kept until the next agrees).
    if (stat.size > budget.left) throw tooBig(budget);
    const data = fs.readFileSync(fd);
    // It may have grown since the fstat: what was read is what counts.
    if (data.length > budget.left) throw tooBig(budget);
    budget.left -= data.length;
    return { name, ...times, data };
  } finally {
    fs.closeSync(fd);
  }
}

function readLink(file: string, name: string): SnapshotEntry | null {
  try {
    const stat = fs.lstatSync(file);
    // ELOOP from O_NOFOLLOW means a link; if it is one no longer, the folder changed meanwhile: read it again.
    if (!stat.isSymbolicLink()) return null;
    return { name, mode: stat.mode, mtimeMs: stat.mtimeMs, atimeMs: stat.atimeMs, ino: stat.ino, data: null, link: fs.readlinkSync(file) };
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'EINVAL') return null;
    throw error;
  }
}

function tooBig(budget: Budget): AppError {
  return new AppError('invalid_state', `${budget.dir} holds more than ${budget.max / 1024 / 1024} MiB: not a folder the server wrote (keys, certificates, a CRL); nothing was written. Move what does not belong there out of it`);
}

function sameEntries(a: readonly SnapshotEntry[], b: readonly SnapshotEntry[]): boolean {
  return a.length === b.length && a.every((x, i) => {
    const y = b[i]!;
    // Not atime: reading a file may move it, and reading is what this does.
    return x.name === y.name && x.ino === y.ino && x.mode === y.mode && x.mtimeMs === y.mtimeMs && x.link === y.link
      && (x.data === null ? y.data === null : y.data !== null && x.data.equals(y.data));
  });
}
