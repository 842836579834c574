/**
 * @module Free space on the store's disk, checked every second, so that the writes a fleet drives (cash events,
 * written-behind nonces) are refused while some room is left instead of being handed to lmdb on a full disk.
 */
import { statfs, statfsSync } from 'node:fs';

/** How often the free space is read again: one statfs(2) a second per thread. */
export const FREE_SPACE_CHECK_MS = 1_000;

export class FreeSpaceWatch {
  /** Bytes an unprivileged writer can still use (f_bavail × f_bsize), as of the last check. */
  private freeBytes: number;
  private readonly timer: NodeJS.Timeout;
  /** Told when the free space falls below the minimum and when it is back above it. */
  onChange: ((low: boolean, freeBytes: number) => void) | null = null;

  constructor(private readonly dir: string, readonly minFreeBytes: number) {
    // Read once now: the first write after start-up is judged like any other.
    this.freeBytes = available(statfsSync(dir));
    this.timer = setInterval(() => this.check(), FREE_SPACE_CHECK_MS);
    this.timer.unref();
  }

  /** True while fewer than `minFreeBytes` are free. */
  get low(): boolean {
    return this.freeBytes < this.minFreeBytes;
  }

  get free(): number {
    return this.freeBytes;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    statfs(this.dir, (err, stats) => {
      // A failed statfs (the directory gone, say) changes nothing: the writes themselves will say what is wrong.
      if (err) return;
      const wasLow = this.low;
      this.freeBytes = available(stats);
      if (this.low !== wasLow) this.onChange?.(this.low, this.freeBytes);
    });
  }
}

function available(stats: { bavail: number; bsize: number }): number {
  return stats.bavail * stats.bsize;
}
