/**
 * @module The server's resident memory, split into what is its own and what are pages of mapped files.
 *
 * lmdb-js maps the whole store into the process, so every page of it that was read counts in RSS: once all of a
 * 100,000-terminal fleet had called (17 minutes of the endurance bench), RSS was 944 MiB of which 431 MiB the
 * process's own and 513 MiB file pages, the store's 494 MB and the program's (bench/JOURNAL.md, session 41). Those are
 * the kernel's to drop under memory pressure and read back, not a leak; an alert on RSS alone would fire on them. Linux
 * says which is which in /proc/PID/status; elsewhere only the whole is known.
 */
import { readFileSync } from 'node:fs';

export interface ResidentMemory {
  /** Resident memory of the whole process: every thread shares it. */
  rssBytes: number;
  /**
   * Of rssBytes, pages of mapped files and shared memory (RssFile + RssShmem): the store's and the program's. rssBytes
   * less this is the process's own memory (heaps, buffers, TLS state). Null where the system does not say.
   */
  rssFileBytes: number | null;
}

/** A `Field:  N kB` line of a /proc/PID/status text, in bytes; null when the text has no such line. */
export function statusBytes(status: string, field: string): number | null {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) * 1024 : null;
}

/** Reads a /proc/PID/status text; null when it has no RSS (not Linux's format). */
export function residentFromStatus(status: string): ResidentMemory | null {
  const rssBytes = statusBytes(status, 'VmRSS');
  if (rssBytes === null) return null;
  const file = statusBytes(status, 'RssFile');
  // RssShmem is absent on kernels without shared memory accounting: none is then counted.
  return { rssBytes, rssFileBytes: file === null ? null : file + (statusBytes(status, 'RssShmem') ?? 0) };
}

/** This process's resident memory, now. */
export function residentMemory(): ResidentMemory {
  try {
    const read = residentFromStatus(readFileSync('/proc/self/status', 'utf8'));
    if (read !== null) return read;
  } catch {
    // Not Linux, or /proc not mounted.
  }
  return { rssBytes: process.memoryUsage.rss(), rssFileBytes: null };
}
