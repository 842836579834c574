/** @module CPU time and memory of a process from /proc (Linux): how the fleet benchmark measures the server from outside it. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export interface ProcSample {
  /** performance.now() when sampled, ms. */
  atMs: number;
  /** utime + stime of every thread of the process, seconds. */
  cpuSec: number;
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

/** Reads /proc/<pid>/stat and /proc/<pid>/status; throws when the process is gone. */
export function sampleProcess(pid: number): ProcSample {
  const ticks = clockTicks();
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return { atMs: performance.now(), cpuSec: (utime + stime) / ticks, rssBytes: kib(status, 'VmRSS'), peakRssBytes: kib(status, 'VmHWM') };
}

export interface CpuUse {
  cpuSec: number;
  wallSec: number;
  /** Average number of cores busy: 1.0 is one core flat out. */
  cores: number;
}

export function cpuBetween(a: ProcSample, b: ProcSample): CpuUse {
  const wallSec = (b.atMs - a.atMs) / 1000;
  const cpuSec = b.cpuSec - a.cpuSec;
  return { cpuSec, wallSec, cores: wallSec > 0 ? cpuSec / wallSec : 0 };
}

/** This process's own CPU (all its threads), in the same shape, from process.cpuUsage. */
export function sampleSelf(): ProcSample {
  const usage = process.cpuUsage();
  const memory = process.memoryUsage();
  return { atMs: performance.now(), cpuSec: (usage.user + usage.system) / 1e6, rssBytes: memory.rss, peakRssBytes: memory.rss };
}
