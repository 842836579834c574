/** @module One `serve` per data dir: a lock the kernel releases when the server dies, however it dies, and a pid file that names the holder. */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { writeFileDurably } from '../durable-file.js';
import { AppError, errnoOf } from '../errors.js';
import { processRuns, processStartOf, recordedProcessRuns } from '../process-runs.js';

export const PID_FILE = 'server.pid';
/**
 * Beside the pid file where it is the lock: `PID START`, START being when that process started (/proc/PID/stat, clock
 * ticks since boot). The pid file stays `PID\n`, as operators `kill $(cat server.pid)`.
 */
export const PID_START_FILE = 'server.pid.start';

export interface DataDirLock {
  release(): Promise<void>;
  /** Set when the lock had to fall back to the pid file, and why: the server logs it at start-up. */
  warning?: string;
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
 * created exclusively, and taken over when it is stale (`staleBecause`): the pid it names no longer runs, or runs a
 * process that started at another time than the one that wrote it (PID_START_FILE: a pid reused after a crash or a
 * reboot). A pid and its start time name one process whatever the clocks do; the file's mtime against the start
 * would not (a wall clock stepped forward makes a running writer look started after its file).
 *
 * Any local user may bind an abstract name, and /proc/net/unix shows a running server's to all: one could take the name
 * while the server is stopped and so keep it from starting again. So a name found taken is challenged (`holderProves`):
 * only a process that can read the store folder can answer. A holder that cannot is not a server of this data dir, and
 * the lock falls back to the pid file, with a warning naming what happened.
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
  const name = `\0pairing-server-data-dir:${dev}:${ino}`;
  // Half-open: the challenger ends its side once it has named the file, and the answer follows a file read later.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => answerChallenge(socket, storeDir));
  // Any local user can connect: a few challenges at a time, the rest closed at once, so a flood holds no descriptors
  // the services need. A real second server that meets a full house reads it as no proof and finds the pid file.
  server.maxConnections = 4;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: name, exclusive: true }, resolve);
    });
  } catch (error) {
    if (errnoOf(error) !== 'EADDRINUSE') throw error;
    if (await holderProves(name, storeDir)) throw inUse(dataDir, readPid(dataDir));
    const lock = lockWithPidFile(dataDir);
    const fallback = 'the data dir\'s lock name is held by a process that cannot read the store (another local user keeping the server from starting?), '
      + 'so the pid file is the lock this time: find it with `ss -xlp | grep pairing-server-data-dir`';
    return { ...lock, warning: lock.warning === undefined ? fallback : `${fallback}; ${lock.warning}` };
  }
  server.unref();
  // Written after the bind, by the holder only: a renamed file is never seen half-written. Owner-only, like the whole data dir.
  const file = path.join(dataDir, PID_FILE);
  writeFileDurably(file, `${process.pid}\n`, 0o600, { replace: true });
  return {
    release: async () => {
      if (readPid(dataDir) === process.pid) fs.rmSync(file, { force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Challenge files: named by the challenger, so the holder reads only a name of this shape, in the store folder. */
const CHALLENGE_FILE = /^\.lock-challenge-[0-9a-f]{16}$/;
const CHALLENGE_TIMEOUT_MS = 2_000;

/**
 * Whether the process holding the lock name can read the store folder: a random secret is written there (owner-only,
 * like the folder), its file named to the holder, and a holder that answers with the secret is a server of this
 * store. A squatter, an older build that hangs up, or no answer within 2 s are all "no".
 */
async function holderProves(name: string, storeDir: string): Promise<boolean> {
  const file = `.lock-challenge-${randomBytes(8).toString('hex')}`;
  const secret = Buffer.from(randomBytes(32).toString('hex'));
  fs.writeFileSync(path.join(storeDir, file), secret, { mode: 0o600, flag: 'wx' });
  try {
    const answer = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      const socket = net.connect({ path: name });
      socket.setTimeout(CHALLENGE_TIMEOUT_MS, () => socket.destroy());
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (Buffer.concat(chunks).length > secret.length + 1) socket.destroy();
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(Buffer.concat(chunks)));
      socket.end(`${file}\n`);
    });
    const proof = answer.subarray(0, secret.length);
    return proof.length === secret.length && timingSafeEqual(proof, secret);
  } finally {
    fs.rmSync(path.join(storeDir, file), { force: true });
  }
}

/** The holder's side: reads the challenge file named on the socket and sends back what it holds. */
function answerChallenge(socket: net.Socket, storeDir: string): void {
  socket.unref();
  socket.setTimeout(CHALLENGE_TIMEOUT_MS, () => socket.destroy());
  socket.on('error', () => undefined);
  let request = '';
  socket.on('data', (chunk: Buffer) => {
    request += chunk.toString('latin1');
    if (request.length > 64) socket.destroy();
  });
  socket.on('end', () => {
    const file = request.trim();
    if (!CHALLENGE_FILE.test(file)) return void socket.destroy();
    fs.readFile(path.join(storeDir, file), (error, secret) => (error ? socket.destroy() : socket.end(secret)));
  });
}

function lockWithPidFile(dataDir: string): DataDirLock {
  const file = path.join(dataDir, PID_FILE);
  const unique = `${process.pid}.${randomBytes(6).toString('hex')}`;
  // Written whole under another name, then linked: the pid file never exists empty or half-written (a starter reading
  // it then would take it for stale, remove it, and hold the lock beside its writer), and link fails if it exists.
  const temp = path.join(dataDir, `${PID_FILE}.${unique}`);
  fs.writeFileSync(temp, `${process.pid}\n`, { mode: 0o600, flag: 'wx' });
  let takenOver: string | undefined;
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.linkSync(temp, file);
        return holdingPidFile(dataDir, takenOver);
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') throw error;
      }
      const pid = pidIn(file);
      if (pid === null && !fs.existsSync(file)) continue; // released meanwhile
      const stale = pid === null ? 'it names no pid' : staleBecause(pid, recordedStart(dataDir, pid));
      if (stale === null) throw inUse(dataDir, pid, file);
      // Moved aside, then checked to be the file judged, before it is removed: another starter may have taken the stale
      // one over meanwhile and linked its own, which a plain remove would delete while that starter holds it.
      const aside = path.join(dataDir, `${PID_FILE}.stale.${unique}`);
      try {
        fs.renameSync(file, aside);
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') continue;
        throw error;
      }
      const moved = pidIn(aside);
      if (moved !== pid) {
        try {
          fs.linkSync(aside, file); // the other starter's, put back
        } catch {
          // a third starter linked its own meanwhile: it holds the lock now
        }
        fs.rmSync(aside, { force: true });
        throw inUse(dataDir, moved, file);
      }
      fs.rmSync(aside, { force: true });
      takenOver = `took over the pid file ${file}: ${stale}`;
    }
    throw inUse(dataDir, readPid(dataDir));
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/** The pid file just linked is this process's lock: its start goes beside it (PID_START_FILE), and both go on release. */
function holdingPidFile(dataDir: string, warning: string | undefined): DataDirLock {
  const file = path.join(dataDir, PID_FILE);
  const startFile = path.join(dataDir, PID_START_FILE);
  // After the pid file: until it is written, one left by an earlier holder names another pid and is not read.
  const start = processStartOf(process.pid);
  if (start !== null) writeFileDurably(startFile, `${process.pid} ${start}\n`, 0o600, { replace: true });
  const release = async (): Promise<void> => {
    // Only its own (a file removed by hand and taken by another server meanwhile is that server's). The start first: a
    // starter that meets the pid file alone while this process ends is refused, as it should be.
    if (readPid(dataDir) !== process.pid) return;
    fs.rmSync(startFile, { force: true });
    fs.rmSync(file, { force: true });
  };
  return { release, ...(warning === undefined ? {} : { warning }) };
}

/**
 * Why the pid file naming `pid`, whose writer started at `start` (null: not recorded, or no /proc), holds no lock, or
 * null while its writer may run. Where either start is unknown (a file an older version wrote, no /proc) a pid that
 * runs holds, as it always did.
 */
function staleBecause(pid: number, start: string | null): string | null {
  if (!processRuns(pid)) return `pid ${pid} no longer runs (a server that was killed?)`;
  if (recordedProcessRuns(pid, start)) return null;
  return `pid ${pid} now runs a process that started at another time than the server that wrote the file (a killed server's pid, reused)`;
}

/** The start PID_START_FILE records for `pid`; null when it records none, or another pid's (an earlier holder's). */
function recordedStart(dataDir: string, pid: number): string | null {
  try {
    const [recordedPid, start] = fs.readFileSync(path.join(dataDir, PID_START_FILE), 'utf8').trim().split(' ');
    return recordedPid === String(pid) && start !== undefined && /^\d+$/.test(start) ? start : null;
  } catch {
    return null;
  }
}

/** The pid a pid file names; null when it is gone or names none. */
function pidIn(file: string): number | null {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

const readPid = (dataDir: string): number | null => pidIn(path.join(dataDir, PID_FILE));

/**
 * `pidFile`: the pid file is the lock, so the pid may be a killed server's, reused by another process since where
 * staleBecause cannot tell (no /proc; a file an older version wrote): the message says how to tell and what to remove.
 */
function inUse(dataDir: string, pid: number | null, pidFile?: string): AppError {
  const holder = pid === null ? 'another pairing-server (its pid is not written yet)' : `another pairing-server (pid ${pid})`;
  const reused = pidFile === undefined || pid === null ? ''
    : `. If pid ${pid} is not a pairing-server (\`ps -p ${pid} -o args\`; a killed server's pid can be reused), remove ${pidFile} and start again`;
  return new AppError('conflict', `the data dir ${dataDir} is in use by ${holder}: one server per data dir; stop that one, or give this one its own --data-dir${reused}`, { pid });
}
