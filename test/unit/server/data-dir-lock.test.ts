/** @module The data dir lock: one holder at a time, found through a symlink too, and a pid file that never blocks on its own nor with a reused pid. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { lockDataDir, PID_FILE, PID_START_FILE } from '../../../src/store/data-dir-lock.js';
import { processStartOf } from '../../../src/process-runs.js';

const tempDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'data-dir-lock-'));

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

/** The pid of a process that has ended. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

/** A process that runs until the test kills it: `sh -c script`, whose `$$` is its pid. */
function running(script: string): ChildProcess & { pid: number } {
  const child = spawn('sh', ['-c', script], { stdio: 'ignore' });
  if (child.pid === undefined) throw new Error('sh did not start');
  return child as ChildProcess & { pid: number };
}

/** Until `file` holds a whole line: written by another process, seen once it is. */
async function lineIn(file: string): Promise<string> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (text.endsWith('\n')) return text.trim();
  }
  throw new Error(`${file} was not written`);
}

describe.runIf(process.platform === 'linux')('data dir lock (abstract socket)', () => {
  it('refuses a second holder, naming the first one\'s pid, also through a symlink; released, it can be taken again', async () => {
    const dir = tempDir();
    const lock = await lockDataDir(dir);
    expect(fs.readFileSync(path.join(dir, PID_FILE), 'utf8').trim()).toBe(String(process.pid));
    const second = await refusal(lockDataDir(dir));
    expect(second.code).toBe('conflict');
    expect(second.details).toEqual({ pid: process.pid });
    expect(second.message).toContain(dir);
    const link = path.join(tempDir(), 'link');
    fs.symlinkSync(dir, link);
    expect((await refusal(lockDataDir(link))).code).toBe('conflict');
    // Another data dir whose store is this one's (a symlinked store folder) is the same store.
    const other = tempDir();
    fs.symlinkSync(path.join(dir, 'store'), path.join(other, 'store'));
    expect((await refusal(lockDataDir(other))).code).toBe('conflict');
    await lock.release();
    expect(fs.existsSync(path.join(dir, PID_FILE))).toBe(false);
    await (await lockDataDir(dir)).release();
  });

  it('is not blocked by a pid file left behind, even one naming a live process', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, PID_FILE), `${process.ppid}\n`);
    const lock = await lockDataDir(dir);
    expect(fs.readFileSync(path.join(dir, PID_FILE), 'utf8').trim()).toBe(String(process.pid));
    await lock.release();
  });
});

/** The lock's abstract socket name for `dir`, as data-dir-lock.ts makes it: its store folder's device and inode. */
function lockName(dir: string): string {
  const { dev, ino } = fs.statSync(path.join(dir, 'store'));
  return `\0pairing-server-data-dir:${dev}:${ino}`;
}

/** Another process's way of taking the lock name first: bound before the server, answering however `onConnection` does. */
async function squat(dir: string, onConnection: (socket: net.Socket) => void): Promise<net.Server> {
  fs.mkdirSync(path.join(dir, 'store'), { recursive: true });
  const server = net.createServer(onConnection);
  await new Promise<void>((resolve) => server.listen({ path: lockName(dir) }, resolve));
  return server;
}

describe.runIf(process.platform === 'linux')('data dir lock, its name taken by a process that is not a server of the store', () => {
  for (const [kind, onConnection] of [
    ['hangs up', (socket: net.Socket) => socket.destroy()],
    ['answers garbage', (socket: net.Socket) => socket.end('0'.repeat(64))],
    ['never answers', (socket: net.Socket) => socket.on('error', () => undefined)],
  ] as const) {
    it(`falls back to the pid file when the squatter ${kind}, with a warning, and still keeps a second server out`, async () => {
      const dir = tempDir();
      const squatter = await squat(dir, onConnection);
      try {
        const lock = await lockDataDir(dir);
        expect(lock.warning).toMatch(/held by a process that cannot read the store/);
        expect(fs.readFileSync(path.join(dir, PID_FILE), 'utf8').trim()).toBe(String(process.pid));
        const second = await refusal(lockDataDir(dir));
        expect(second.code).toBe('conflict');
        expect(second.details).toEqual({ pid: process.pid });
        // Every challenge file is gone: none is left in the store folder for a backup to copy.
        expect(fs.readdirSync(path.join(dir, 'store')).filter((f) => f.startsWith('.lock-challenge-'))).toEqual([]);
        await lock.release();
        expect(fs.existsSync(path.join(dir, PID_FILE))).toBe(false);
      } finally {
        squatter.close();
      }
    }, 15_000);
  }

  it('falls back to a pid file that names a reused pid, takes it over, and names both in its warning', async () => {
    const dir = tempDir();
    const squatter = await squat(dir, (socket) => socket.destroy());
    const reuser = running('exec sleep 30');
    try {
      const file = path.join(dir, PID_FILE);
      // A killed server's files: its pid, and its start, which is not the start of the process that has its pid now.
      fs.writeFileSync(file, `${reuser.pid}\n`);
      fs.writeFileSync(path.join(dir, PID_START_FILE), `${reuser.pid} 1\n`);
      const lock = await lockDataDir(dir);
      expect(lock.warning).toMatch(new RegExp(`held by a process that cannot read the store.*; took over the pid file ${file}: pid ${reuser.pid} now runs a process that started at another time`));
      expect(fs.readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
      await lock.release();
    } finally {
      reuser.kill();
      squatter.close();
    }
  }, 15_000);

  // No wait for the flood to be dealt with: lockDataDir's own challenge is queued right behind it, and what it meets
  // says how many places the flood took. net.connect to a Unix socket connects at once, and lockDataDir gets to its
  // challenge's connect without a turn of the event loop (its failed bind is reported on the next tick), so the holder
  // has accepted none of the flood yet; libuv then accepts a Unix socket's whole queue in one go, before any held
  // connection's 2 s timeout can run. Met by a full house, the challenge is closed unanswered and the second holder is
  // refused by the pid file (whose refusal, unlike the proven holder's, says how to tell a reused pid); a place left
  // and it is answered. So however slow the machine, 4 silent connections fill the house and 3 do not (an answer has
  // its 2 s, as in every test of a proven holder). A fixed 500 ms wait for the flood's closes, before, could end first.
  for (const [flooders, full] of [[40, true], [4, true], [3, false]] as const) {
    it(`with ${flooders} connections that never name a file held open, a second server is refused ${full ? 'by the pid file: at most 4 are held' : 'by the holder\'s proof: 4 may be'}`, async () => {
      const dir = tempDir();
      const lock = await lockDataDir(dir);
      // A local user's flood: connections that never name a file.
      const flood = Array.from({ length: flooders }, () => net.connect({ path: lockName(dir) }).on('error', () => undefined));
      try {
        const second = await refusal(lockDataDir(dir));
        expect(second.code).toBe('conflict');
        expect(second.details).toEqual({ pid: process.pid });
        if (full) expect(second.message).toContain(`If pid ${process.pid} is not a pairing-server`);
        else expect(second.message).not.toContain('If pid');
      } finally {
        for (const socket of flood) socket.destroy();
        await lock.release();
      }
    }, 15_000);
  }

  it('is refused, as before, by a real holder that proves it reads the store', async () => {
    const dir = tempDir();
    const lock = await lockDataDir(dir);
    expect(lock.warning).toBeUndefined();
    const second = await refusal(lockDataDir(dir));
    expect(second.details).toEqual({ pid: process.pid });
    await lock.release();
  });
});

describe('data dir lock (pid file, where there is no abstract socket)', () => {
  it('refuses while the pid it names runs, takes over a dead one\'s, and removes its own on release', async () => {
    const dir = tempDir();
    const lock = await lockDataDir(dir, { mechanism: 'pid-file' });
    const second = await refusal(lockDataDir(dir, { mechanism: 'pid-file' }));
    expect(second.code).toBe('conflict');
    expect(second.details).toEqual({ pid: process.pid });
    // The refused start leaves nothing of its own (the pid file is written under another name, then linked).
    expect(fs.readdirSync(dir).filter((f) => f !== PID_START_FILE)).toEqual([PID_FILE]);
    // The pid may be a killed server's, reused: the message says how to tell, and which file to remove.
    expect(second.message).toContain(`If pid ${process.pid} is not a pairing-server (\`ps -p ${process.pid} -o args\``);
    expect(second.message).toContain(`remove ${path.join(dir, PID_FILE)} and start again`);
    await lock.release();
    expect(fs.existsSync(path.join(dir, PID_FILE))).toBe(false);
    const dead = deadPid();
    fs.writeFileSync(path.join(dir, PID_FILE), `${dead}\n`);
    const taken = await lockDataDir(dir, { mechanism: 'pid-file' });
    expect(fs.readFileSync(path.join(dir, PID_FILE), 'utf8').trim()).toBe(String(process.pid));
    expect(taken.warning).toBe(`took over the pid file ${path.join(dir, PID_FILE)}: pid ${dead} no longer runs (a server that was killed?)`);
    await taken.release();
  });

  it('leaves, on release, a pid file that is no longer its own', async () => {
    const dir = tempDir();
    const file = path.join(dir, PID_FILE);
    const lock = await lockDataDir(dir, { mechanism: 'pid-file' });
    // Removed by hand while this server ran, and written by another one since.
    fs.writeFileSync(file, `${process.ppid}\n`);
    await lock.release();
    expect(fs.readFileSync(file, 'utf8')).toBe(`${process.ppid}\n`);
  });

  it('takes over a pid file that names no pid, saying so', async () => {
    const dir = tempDir();
    const file = path.join(dir, PID_FILE);
    fs.writeFileSync(file, 'not a pid\n');
    const lock = await lockDataDir(dir, { mechanism: 'pid-file' });
    expect(lock.warning).toBe(`took over the pid file ${file}: it names no pid`);
    expect(fs.readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
    await lock.release();
  });

  it.runIf(process.platform === 'linux')('records its own start beside the pid file, and removes both on release', async () => {
    const dir = tempDir();
    const lock = await lockDataDir(dir, { mechanism: 'pid-file' });
    expect(fs.readFileSync(path.join(dir, PID_START_FILE), 'utf8')).toBe(`${process.pid} ${processStartOf(process.pid)}\n`);
    await lock.release();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it.runIf(process.platform === 'linux')('takes over a pid file whose pid now runs a process that started at another time (a reused pid), saying why', async () => {
    const dir = tempDir();
    const file = path.join(dir, PID_FILE);
    // A killed server left its pid and start; its pid now belongs to a process started since.
    const reuser = running('exec sleep 30');
    try {
      fs.writeFileSync(file, `${reuser.pid}\n`);
      fs.writeFileSync(path.join(dir, PID_START_FILE), `${reuser.pid} ${Number(processStartOf(process.pid)) - 1}\n`);
      const lock = await lockDataDir(dir, { mechanism: 'pid-file' });
      expect(fs.readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
      expect(lock.warning).toBe(`took over the pid file ${file}: pid ${reuser.pid} now runs a process that started at another time than the server that wrote the file (a killed server's pid, reused)`);
      expect(fs.readFileSync(path.join(dir, PID_START_FILE), 'utf8')).toBe(`${process.pid} ${processStartOf(process.pid)}\n`);
      await lock.release();
    } finally {
      reuser.kill();
    }
  });

  it.runIf(process.platform === 'linux')('holds while the process that wrote the pid file runs: its start recorded, none recorded yet, or an earlier holder\'s', async () => {
    const dir = tempDir();
    const file = path.join(dir, PID_FILE);
    const startFile = path.join(dir, PID_START_FILE);
    const writer = running(`echo $$ > '${file}' && exec sleep 30`);
    try {
      expect(await lineIn(file)).toBe(String(writer.pid));
      const refusedNow = async (): Promise<void> => {
        const refused = await refusal(lockDataDir(dir, { mechanism: 'pid-file' }));
        expect(refused.code).toBe('conflict');
        expect(refused.details).toEqual({ pid: writer.pid });
        expect(fs.readFileSync(file, 'utf8')).toBe(`${writer.pid}\n`);
      };
      // No start beside it: written by an older version, or between the pid file and its start.
      await refusedNow();
      // An earlier holder's start, for another pid: not this file's.
      fs.writeFileSync(startFile, `${deadPid()} 1\n`);
      await refusedNow();
      // Its own start, and the file dated a day back, as a wall clock stepped forward since would make it look: the
      // pid and start still name the writer.
      fs.writeFileSync(startFile, `${writer.pid} ${processStartOf(writer.pid)}\n`);
      const dayBack = new Date(Date.now() - 86_400_000);
      fs.utimesSync(file, dayBack, dayBack);
      await refusedNow();
    } finally {
      writer.kill();
    }
  });
});
