/** @module CPU time and memory of a process from /proc (Linux): how the fleet benchmark measures the server from outside it. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { residentFromStatus, statusBytes } from '../../src/server/resident-memory.js';

export interface ProcSample {
  /** performance.now() when sampled, ms. */
  atMs: number;
  /** utime + stime of every thread of the process, ended ones included, seconds (in clock ticks: 10 ms steps). */
  cpuSec: number;
  /** Per live thread, from /proc/<pid>/task/<tid>/schedstat: ns on a CPU and ns ready to run but waiting for one. Null without schedstat. */
  threads: Map<string, { runNs: number; waitNs: number }> | null;
  rssBytes: number;
  /**
   * Of rssBytes, the pages of mapped files and shared memory (RssFile + RssShmem): LMDB's store, which lmdb-js maps
   * whole, and the binaries. The kernel drops them under memory pressure and reads them back, so RSS less this is the
   * process's own memory (RssAnon: heaps, buffers, TLS state). Zero where the kernel gives no split.
   */
  rssFileBytes: number;
  /** Peak RSS so far (VmHWM). */
  peakRssBytes: number;
}

/** A process's own memory: its RSS less the pages of mapped files (ProcSample.rssFileBytes), which are the kernel's to drop. */
export function ownBytes(sample: Pick<ProcSample, 'rssBytes' | 'rssFileBytes'>): number {
  return sample.rssBytes - sample.rssFileBytes;
}

let ticksPerSec = 0;

function clockTicks(): number {
  if (ticksPerSec === 0) {
    try {
      ticksPerSec = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSec = 100; // the Linux default
    }
  }
  return ticksPerSec;
}

/** Each live thread's schedstat: time on a CPU and time waiting on a run queue for one, in ns. */
function threadsOf(pid: number): ProcSample['threads'] {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  const threads = new Map<string, { runNs: number; waitNs: number }>();
  for (const tid of tids) {
    try {
      const [runNs, waitNs] = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      if (Number.isFinite(runNs) && Number.isFinite(waitNs)) threads.set(tid, { runNs: runNs!, waitNs: waitNs! });
    } catch {
      // The thread ended meanwhile, or the kernel keeps no schedstat.
    }
  }
  return threads.size > 0 ? threads : null;
}

/** Reads /proc/<pid>/stat and /proc/<pid>/status; throws when the process is gone. */
export function sampleProcess(pid: number): ProcSample {
  const ticks = clockTicks();
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  // The same split as the server's own server.status gives.
  const resident = residentFromStatus(status);
  return {
    atMs: performance.now(), cpuSec: (utime + stime) / ticks, threads: threadsOf(pid),
    rssBytes: resident?.rssBytes ?? 0, rssFileBytes: resident?.rssFileBytes ?? 0, peakRssBytes: statusBytes(status, 'VmHWM') ?? 0,
  };
}

export interface CpuUse {
  cpuSec: number;
  wallSec: number;
  /** Average number of cores busy: 1.0 is one core flat out. */
  cores: number;
  /**
   * Average number of its threads that were ready to run but waiting for a CPU: 0.3 means that on top of `cores`,
   * work worth 0.3 cores was held back by other threads and processes. A latency tail with no GC pause under it
   * is often here. Over the threads alive at both samples; null without schedstat.
   */
  waitingCores: number | null;
}

/**
 * CPU between two samples: to the nanosecond from schedstat when the same threads were alive at both (a server
 * phase), else from utime + stime, whose 10 ms ticks are coarse for a short or light phase but count threads
 * that ended in between.
 */
export function cpuBetween(a: ProcSample, b: ProcSample): CpuUse {
  const wallSec = (b.atMs - a.atMs) / 1000;
  let cpuSec = b.cpuSec - a.cpuSec;
  let waitingCores: number | null = null;
  if (a.threads && b.threads) {
    let runNs = 0;
    let waitNs = 0;
    // The kernel adds a thread's wait to schedstat when the thread gets a CPU, so a thread queued before `a` brings
    // its earlier wait into this window; no thread waits longer than the window within it (a 20 ms phase of a
    // smoke test on a loaded machine once read as 103 cores waiting).
    const wallNs = wallSec * 1e9;
    let same = a.threads.size === b.threads.size;
    for (const [tid, before] of a.threads) {
      const after = b.threads.get(tid);
      if (!after) {
        same = false;
        continue;
      }
      runNs += after.runNs - before.runNs;
      waitNs += Math.min(after.waitNs - before.waitNs, wallNs);
    }
    if (same) cpuSec = runNs / 1e9;
    waitingCores = wallSec > 0 ? waitNs / 1e9 / wallSec : null;
  }
  return { cpuSec, wallSec, cores: wallSec > 0 ? cpuSec / wallSec : 0, waitingCores };
}

/** This process's own CPU (all its threads), in the same shape, from process.cpuUsage; its memory unsplit (rssFileBytes 0). */
export function sampleSelf(): ProcSample {
  const usage = process.cpuUsage();
  const memory = process.memoryUsage();
  return { atMs: performance.now(), cpuSec: (usage.user + usage.system) / 1e6, threads: threadsOf(process.pid), rssBytes: memory.rss, rssFileBytes: 0, peakRssBytes: memory.rss };
}
