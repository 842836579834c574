/** @module The data dir lock: one holder at a time, found through a symlink too, and a pid file that never blocks on its own. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { lockDataDir, PID_FILE } from '../../../src/store/data-dir-lock.js';

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

describe('data dir lock (pid file, where there is no abstract socket)', () => {
  it('refuses while the pid it names runs, takes over a dead one\'s, and removes its own on release', async () => {
    const dir = tempDir();
    const lock = await lockDataDir(dir, { mechanism: 'pid-file' });
    const second = await refusal(lockDataDir(dir, { mechanism: 'pid-file' }));
    expect(second.code).toBe('conflict');
    expect(second.details).toEqual({ pid: process.pid });
    await lock.release();
    expect(fs.existsSync(path.join(dir, PID_FILE))).toBe(false);
    fs.writeFileSync(path.join(dir, PID_FILE), `${deadPid()}\n`);
    const taken = await lockDataDir(dir, { mechanism: 'pid-file' });
    expect(fs.readFileSync(path.join(dir, PID_FILE), 'utf8').trim()).toBe(String(process.pid));
    await taken.release();
  });
});
