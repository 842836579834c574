/** @module Whether a process still runs, by its pid: for records a process leaves behind (a pid file, an audit intent). */
import { errnoOf } from '../errors.js';

/** True while a process with this pid runs, one of another user included (EPERM). A pid may have been reused since. */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}
