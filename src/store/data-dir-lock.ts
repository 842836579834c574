/** @module One `serve` per data dir: a lock the kernel releases when the server dies, however it dies, and a pid file that names the holder. */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { AppError } from '../errors.js';

export const PID_FILE = 'server.pid';

export interface DataDirLock {
  release(): Promise<void>;
}

/**
 * Takes the data dir for this process, or throws `conflict` naming the holder's pid. Two servers on one store would
 * each run their own actors and replay windows over it: replay protection and per-terminal ordering would break.
 *
 * Node has no flock()/fcntl() lock without a native addon. A pid file alone outlives a SIGKILLed server, and its pid
 * may by then belong to any process: a liveness check has to guess (is /proc/PID/cmdline a pairing server?) and a
 * wrong guess blocks the next start or lets two in. So on Linux the lock is a Unix socket bound in the abstract
 * namespace under the store folder's device and inode (a symlink or bind mount to the same folder finds the same lock): the
 * bind is atomic, a second one fails with EADDRINUSE, and the kernel frees the name when the process ends, SIGKILL
 * included. The pid file is only read to name the holder. Limits: abstract names are per network namespace
 * (containers in different ones sharing a volume do not see each other) and per machine (LMDB does not support
 * network file systems anyway). Where there is no abstract namespace (macOS, BSD) the pid file itself is the lock:
 * created exclusively, and taken over when the pid it names no longer runs.
 */
export async function lockDataDir(dataDir: string, opts: { mechanism?: 'socket' | 'pid-file' } = {}): Promise<DataDirLock> {
  const mechanism = opts.mechanism ?? (process.platform === 'linux' ? 'socket' : 'pid-file');
  return mechanism === 'socket' ? lockWithSocket(dataDir) : lockWithPidFile(dataDir);
}

async function lockWithSocket(dataDir: string): Promise<DataDirLock> {
  // Keyed by the store's folder, not the data dir's: two data dirs whose `store` is one folder (a symlink) are one store,
  // and two servers on it would each keep their own replay window. stat follows symlinks to the folder itself.
  const storeDir = path.join(dataDir, 'store');
  fs.mkdirSync(storeDir, { recursive: true, mode: 0o700 });
  const { dev, ino } = fs.statSync(storeDir);
  const server = net.createServer((socket) => socket.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: `\0pairing-server-data-dir:${dev}:${ino}`, exclusive: true }, resolve);
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw inUse(dataDir, readPid(dataDir));
    throw error;
  }
  server.unref();
  // Written after the bind, by the holder only: a renamed file is never seen half-written. Owner-only, like the whole data dir.
  const file = path.join(dataDir, PID_FILE);
  fs.writeFileSync(`${file}.${process.pid}`, `${process.pid}\n`, { mode: 0o600 });
  fs.renameSync(`${file}.${process.pid}`, file);
  return {
    release: async () => {
      if (readPid(dataDir) === process.pid) fs.rmSync(file, { force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function lockWithPidFile(dataDir: string): DataDirLock {
  const file = path.join(dataDir, PID_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { mode: 0o600, flag: 'wx' });
      return { release: async () => void fs.rmSync(file, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const pid = readPid(dataDir);
    if (pid !== null && running(pid)) throw inUse(dataDir, pid);
    // Left by a server that was killed: the pid it names has ended.
    fs.rmSync(file, { force: true });
  }
  throw inUse(dataDir, readPid(dataDir));
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(dataDir: string): number | null {
  try {
    const pid = Number(fs.readFileSync(path.join(dataDir, PID_FILE), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function inUse(dataDir: string, pid: number | null): AppError {
  const holder = pid === null ? 'another pairing-server (its pid is not written yet)' : `another pairing-server (pid ${pid})`;
  return new AppError('conflict', `the data dir ${dataDir} is in use by ${holder}: one server per data dir; stop that one, or give this one its own --data-dir`, { pid });
}
