/** @module The machine a benchmark ran on (CPU model, cores, memory, Node and OpenSSL versions), printed and stored beside every result. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  /** The `openssl` binary that `openssl speed` ran, and the OpenSSL Node is linked against (they may differ). */
  opensslCli: string;
  opensslNode: string;
  /** 1-minute load average when the run started: other work on the machine makes every number noisier. */
  loadAverage: number;
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  let opensslCli = 'not found';
  try {
    opensslCli = execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim();
  } catch {
    // reported as missing; the openssl reference figures are then absent too
  }
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    opensslCli,
    opensslNode: process.versions.openssl ?? 'unknown',
    loadAverage: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
  };
}

export function formatMachine(m: Machine): string {
  return `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node} (OpenSSL ${m.opensslNode}); ${m.opensslCli}; load average ${m.loadAverage} at start`;
}
