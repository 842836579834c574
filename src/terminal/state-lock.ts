/**
 * @module One terminal command at a time per state directory: an exclusive lock file (`.lock`, holding the holder's pid)
 * taken for the whole read → network → save span of every command that writes the state. A second command is refused at
 * once (`conflict`); a lock whose process is gone (killed, power loss) is taken over.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AppError, errnoOf } from '../errors.js';
import { processStartOf, recordedProcessRuns } from '../process-runs.js';

export const LOCK_FILE = '.lock';

/** What the lock file says about its holder. */
interface Holder {
  pid: number;
  /** The holder's start time (Linux: /proc/PID/stat field 22), so that a reused pid is not taken for the holder; null elsewhere. */
  start: string | null;
  command: string;
  token: string;
}

/** Locks this process holds, by resolved directory: a command that holds one may call code that takes it again. */
const held = new Map<string, { token: string; depth: number }>();

/** The holder named in `path`; 'gone' when the file vanished meanwhile, null when it names no holder (stale). */
function readHolder(path: string): Holder | 'gone' | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return 'gone';
    throw err;
  }
  try {
    const v = JSON.parse(text) as Partial<Holder>;
    if (Number.isInteger(v.pid) && (v.pid as number) > 0 && typeof v.token === 'string') {
      return { pid: v.pid as number, start: typeof v.start === 'string' ? v.start : null, command: String(v.command ?? 'terminal'), token: v.token };
    }
  } catch {
    // not ours or torn by hand: nobody holds it
  }
  return null;
}

function busy(dir: string, holder: Holder | null, command: string): AppError {
  const who = holder === null ? 'another terminal command' : `another terminal command (${holder.command}, pid ${holder.pid})`;
  const waiting =
    holder?.command === 'pair --wait'
      ? ` It waits for the operator's approval and holds the state until it ends; ${command === 'factory-reset' ? 'factory-reset is refused while it runs: ' : ''}stop it (Ctrl-C) or let it finish, then run this again.`
      : ' Let it finish, then run this again.';
  return new AppError(
    'conflict',
    `${who} is running on the state directory ${dir}; nothing was changed.${waiting} ` +
      `If no terminal command is running (the lock of one that was killed is taken over by itself; this one names a running process, or cannot be read), remove ${join(dir, LOCK_FILE)}.`,
    holder === null ? {} : { pid: holder.pid, command: holder.command },
  );
}

/**
 * Takes the lock on `dir` for `command` (named in a refusal); returns its release. Refuses with `conflict` at once when a
 * running process holds it. A directory that does not exist is created (0700) only when `create`; otherwise there is
 * nothing to protect and the release does nothing.
 */
export function acquireStateLock(dir: string, command: string, opts: { create?: boolean } = {}): () => void {
  const key = resolve(dir);
  const mine = held.get(key);
  if (mine !== undefined) {
    mine.depth += 1;
    return once(() => release(key));
  }
  if (!existsSync(dir)) {
    if (opts.create !== true) return () => undefined;
    if (mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined) chmodSync(dir, 0o700);
  }
  const lock = join(dir, LOCK_FILE);
  const token = randomBytes(12).toString('hex');
  const holder: Holder = { pid: process.pid, start: processStartOf(process.pid), command, token };
  // Written whole under another name, then linked: the lock file never exists half-written, and link fails if it exists.
  const temp = join(dir, `${LOCK_FILE}.${process.pid}.${token}`);
  writeFileSync(temp, `${JSON.stringify(holder)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        linkSync(temp, lock);
        held.set(key, { token, depth: 1 });
        return once(() => release(key));
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw err;
      }
      const other = readHolder(lock);
      if (other === 'gone') continue;
      if (other !== null && recordedProcessRuns(other.pid, other.start)) throw busy(dir, other, command);
      // Stale: move it aside under a unique name, then make sure it was the stale one that moved, not a fresh lock
      // another command took over meanwhile.
      const aside = join(dir, `${LOCK_FILE}.stale.${process.pid}.${token}`);
      try {
        renameSync(lock, aside);
      } catch (err) {
        if (errnoOf(err) === 'ENOENT') continue;
        throw err;
      }
      const moved = readHolder(aside);
      if (moved !== 'gone' && moved !== null && (other === null || moved.token !== other.token) && recordedProcessRuns(moved.pid, moved.start)) {
        try {
          linkSync(aside, lock); // put the live holder's lock back
        } catch {
          // a third command took the lock meanwhile; it holds it now
        }
        rmSync(aside, { force: true });
        throw busy(dir, moved, command);
      }
      rmSync(aside, { force: true });
    }
    throw busy(dir, null, command);
  } finally {
    rmSync(temp, { force: true });
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

function release(key: string): void {
  const mine = held.get(key);
  if (mine === undefined) return;
  mine.depth -= 1;
  if (mine.depth > 0) return;
  held.delete(key);
  const lock = join(key, LOCK_FILE);
  const holder = readHolder(lock);
  // Only our own lock: a factory-reset may have emptied the directory, or (after a takeover) the file may be another's.
  if (holder !== 'gone' && holder !== null && holder.token === mine.token) rmSync(lock, { force: true });
}

/** Runs `fn` holding the lock on `dir` (see `acquireStateLock`), released however `fn` ends. */
export async function withStateLock<T>(dir: string, command: string, fn: () => T | Promise<T>, opts: { create?: boolean } = {}): Promise<T> {
  const releaseLock = acquireStateLock(dir, command, opts);
  try {
    return await fn();
  } finally {
    releaseLock();
  }
}
