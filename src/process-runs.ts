/**
 * @module Whether a process still runs, by its pid: for records a process leaves behind (a pid file, a lock file, an
 * audit intent). A pid is reused once its process ends; where the kernel tells a process's start time (Linux /proc),
 * a record that keeps it can tell the process that wrote it from a later one under the same pid.
 */
import { readFileSync } from 'node:fs';
import { errnoOf } from './errors.js';

/** True while a process with this pid runs, one of another user included (EPERM). A pid may have been reused since. */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}

/** When the process started, in clock ticks since boot (/proc/PID/stat field 22), as text; null where unknown. */
export function processStartOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; the fields after it start past the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * True while the process that recorded `pid` and `start` (processStartOf, then) runs: the pid runs, and has the
 * recorded start time where both are known. Another start time means the pid was reused and the recorder is gone.
 */
export function recordedProcessRuns(pid: number, start: string | null): boolean {
  if (!processRuns(pid)) return false;
  const now = start === null ? null : processStartOf(pid);
  return now === null || now === start;
}
