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
 * Clock ticks a second in /proc (USER_HZ): 100 on Linux on every architecture Node runs on; sysconf(_SC_CLK_TCK), which
 * says so, is out of Node's reach without an addon.
 */
const USER_HZ = 100;

/**
 * When the process started, epoch ms: its start in clock ticks since boot (processStartOf) after the boot time (/proc/stat
 * `btime`, in whole seconds, so up to a second early). Null where unknown: no /proc (macOS, BSD), or another user's process
 * hidden from this one (mount option hidepid). The boot time is the wall clock's now less the time since boot, so a wall
 * clock stepped since the process started moves the answer by as much; /proc/PID's own mtime is no start time (it is
 * when the kernel first made that entry, seconds later for a process nobody looked at).
 */
export function processStartedAt(pid: number): number | null {
  const ticks = processStartOf(pid);
  if (ticks === null || !/^\d+$/.test(ticks)) return null;
  let bootSec: string | undefined;
  try {
    bootSec = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1];
  } catch {
    return null;
  }
  return bootSec === undefined ? null : Number(bootSec) * 1000 + (Number(ticks) * 1000) / USER_HZ;
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
