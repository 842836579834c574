/** @module CPU time and memory of a process from /proc (Linux): how the fleet benchmark measures the server from outside it. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export interface ProcSample {
  /** performance.now() when sampled, ms. */
  atMs: number;
  /** utime + stime of every thread of the process, seconds. */
  cpuSec: number;
  /**
   * Time its threads spent runnable but waiting for a CPU, summed over the threads alive now, seconds
   * (/proc/<pid>/task/<tid>/schedstat); null where the kernel does not keep it.
   */
  runWaitSec: number | null;
  rssBytes: number;
  /** Peak RSS so far (VmHWM). */
  peakRssBytes: number;
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

function kib(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/** The second field of each thread's schedstat: nanoseconds spent on a run queue waiting for a CPU. */
function runWaitOf(pid: number): number | null {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  let waitedNs = 0;
  let read = 0;
  for (const tid of tids) {
    try {
      waitedNs += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
      read++;
    } catch {
      // The thread ended meanwhile, or the kernel keeps no schedstat.
    }
  }
  return read > 0 ? waitedNs / 1e9 : null;
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
  return { atMs: performance.now(), cpuSec: (utime + stime) / ticks, runWaitSec: runWaitOf(pid), rssBytes: kib(status, 'VmRSS'), peakRssBytes: kib(status, 'VmHWM') };
}

export interface CpuUse {
  cpuSec: number;
  wallSec: number;
  /** Average number of cores busy: 1.0 is one core flat out. */
  cores: number;
  /**
   * Average number of its threads that were ready to run but waiting for a CPU: 0.3 means that on top of `cores`,
   * work worth 0.3 cores was held back by other threads and processes. A latency tail with no GC pause under it
   * is often here. Null without schedstat. Threads that ended between the samples are not counted.
   */
  waitingCores: number | null;
}

export function cpuBetween(a: ProcSample, b: ProcSample): CpuUse {
  const wallSec = (b.atMs - a.atMs) / 1000;
  const cpuSec = b.cpuSec - a.cpuSec;
  const waited = a.runWaitSec === null || b.runWaitSec === null ? null : Math.max(0, b.runWaitSec - a.runWaitSec);
  return { cpuSec, wallSec, cores: wallSec > 0 ? cpuSec / wallSec : 0, waitingCores: waited === null || wallSec <= 0 ? null : waited / wallSec };
}

/** This process's own CPU (all its threads), in the same shape, from process.cpuUsage. */
export function sampleSelf(): ProcSample {
  const usage = process.cpuUsage();
  const memory = process.memoryUsage();
  return { atMs: performance.now(), cpuSec: (usage.user + usage.system) / 1e6, runWaitSec: runWaitOf(process.pid), rssBytes: memory.rss, peakRssBytes: memory.rss };
}
