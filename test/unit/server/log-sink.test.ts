/** @module The log sink on a real FIFO whose reader stalls: the writer never waits, keeps order, and says what it dropped. */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogSink, openLogOutput } from '../../../src/log-sink.js';

const PAD = 'x'.repeat(200);

interface Fifo {
  reader: number;
  /** The write end as a shell would hand it over: a plain blocking descriptor. */
  writer: number;
  /** Everything the reader can read now, as lines. */
  readLines(): string[];
}

let dir: string;
let opened: number[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'log-sink-'));
});

afterEach(() => {
  for (const fd of opened) fs.closeSync(fd);
  opened = [];
  fs.rmSync(dir, { recursive: true, force: true });
});

function fifo(): Fifo {
  const file = path.join(dir, 'stdout');
  execFileSync('mkfifo', [file]);
  // The reader first, non-blocking, so that neither open waits for the other end.
  const reader = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const writer = fs.openSync(file, 'w');
  opened.push(reader, writer);
  let partial = '';
  return {
    reader,
    writer,
    readLines() {
      const chunk = Buffer.alloc(1 << 16);
      for (;;) {
        let n: number;
        try {
          n = fs.readSync(reader, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
          throw err;
        }
        if (n === 0) break;
        partial += chunk.subarray(0, n).toString('utf8');
      }
      const lines = partial.split('\n');
      partial = lines.pop()!;
      return lines;
    },
  };
}

/** The open file description's flags, as the kernel reports them. */
function flagsOf(fd: number): number {
  const match = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return parseInt(match![1]!, 8);
}

function sinkOn(pipe: Fifo, maxHeldBytes: number): LogSink {
  const fd = openLogOutput(pipe.writer);
  if (fd !== pipe.writer) opened.push(fd);
  // Checked before writing: on a blocking descriptor the tests below would hang, not fail.
  expect(flagsOf(fd) & fs.constants.O_NONBLOCK).toBe(fs.constants.O_NONBLOCK);
  return new LogSink(fd, maxHeldBytes);
}

const line = (n: number): string => `${JSON.stringify({ n, msg: 'numbered', pad: PAD })}\n`;

describe('log sink', () => {
  it('reopens a pipe as a description of its own and leaves a regular file as it is', () => {
    const pipe = fifo();
    const own = openLogOutput(pipe.writer);
    opened.push(own);
    expect(own).not.toBe(pipe.writer);
    expect(flagsOf(own) & fs.constants.O_NONBLOCK).toBe(fs.constants.O_NONBLOCK);
    // The shell's descriptor keeps its own flags.
    expect(flagsOf(pipe.writer) & fs.constants.O_NONBLOCK).toBe(0);
    const file = fs.openSync(path.join(dir, 'log.json'), 'a');
    opened.push(file);
    expect(openLogOutput(file)).toBe(file);
  });

  it('never waits for a stalled reader, keeps the lines it holds in order, and reports the ones it dropped where they were', () => {
    const pipe = fifo();
    const sink = sinkOn(pipe, 32 * 1024);
    // 2,000 lines of about 220 bytes: 440 KB against a 64 KiB pipe and 32 KiB held. On the plain blocking
    // descriptor the first write past the pipe's capacity would hang this test.
    for (let n = 0; n < 2000; n += 1) sink.write(line(n));
    const before = pipe.readLines();
    expect(before.length).toBeGreaterThan(100);
    sink.write(`${JSON.stringify({ msg: 'after the reader caught up' })}\n`);
    const lines = [...before, ...pipe.readLines()].map((text) => JSON.parse(text) as Record<string, unknown>);

    const numbered = lines.filter((entry) => entry.msg === 'numbered').map((entry) => entry.n);
    expect(numbered).toEqual(numbered.map((_, i) => i));
    const kept = numbered.length;
    expect(kept).toBeLessThan(2000);
    // What the pipe took (64 KiB in 4 KiB pages, each with a tail no whole line fits) plus close to 32 KiB held.
    expect(kept * line(0).length).toBeGreaterThan(60 * 1024 + 30 * 1024);
    expect(lines.slice(kept).map((entry) => entry.msg)).toEqual(['log lines dropped: stdout did not take them', 'after the reader caught up']);
    let droppedBytes = 0;
    for (let n = kept; n < 2000; n += 1) droppedBytes += line(n).length;
    expect(lines[kept]).toMatchObject({ level: 40, lines: 2000 - kept, bytes: droppedBytes, error: 'EAGAIN' });
  });

  it('writes what it holds and the report on its own once the reader reads again, without another line', async () => {
    const pipe = fifo();
    const sink = sinkOn(pipe, 8 * 1024);
    for (let n = 0; n < 1000; n += 1) sink.write(line(n));
    const first = pipe.readLines();
    // Read until the report comes, which the sink writes last: a fixed 200 ms (four of its retries), before, could end
    // first on a loaded machine. Without a retry of its own the sink never writes it, and this fails.
    const rest: Record<string, unknown>[] = [];
    await expect.poll(() => {
      rest.push(...pipe.readLines().map((text) => JSON.parse(text) as Record<string, unknown>));
      return rest.at(-1)?.msg;
    }).toBe('log lines dropped: stdout did not take them');
    expect(rest.length).toBeGreaterThan(1);
    expect(rest.at(-1)).toMatchObject({ msg: 'log lines dropped: stdout did not take them', lines: 1000 - first.length - (rest.length - 1) });
  });

  it('flush() gives up on a reader that does not come back, and keeps what it holds for when it does', () => {
    const pipe = fifo();
    const sink = sinkOn(pipe, 1024 * 1024);
    for (let n = 0; n < 400; n += 1) sink.write(line(n));
    // Returns (a hang would fail this test on its timeout) with about 24 KB still held.
    sink.flush();
    const numbered: unknown[] = [];
    for (let round = 0; round < 10 && numbered.length < 400; round += 1) {
      numbered.push(...pipe.readLines().map((text) => (JSON.parse(text) as Record<string, unknown>).n));
      sink.flush();
    }
    expect(numbered).toEqual(numbered.map((_, i) => i));
    expect(numbered).toHaveLength(400);
  });

  it('keeps the rest of a non-ASCII line the pipe took in part, even when the bytes taken equal its length in characters', () => {
    const pipe = fifo();
    const sink = sinkOn(pipe, 1024 * 1024);
    // 65,536 characters (a pipe's 64 KiB) but 100 more bytes: 100 of them are é, two bytes each in UTF-8.
    const head = `{"msg":"long","v":"${'é'.repeat(100)}`;
    const long = `${head}${'a'.repeat(65_536 - head.length - 3)}"}\n`;
    expect(long.length).toBe(65_536);
    expect(Buffer.byteLength(long)).toBe(65_636);
    sink.write(long);
    // The empty pipe took 65,536 bytes: as many as the line has characters. Before, that counted as the whole line.
    const taken = pipe.readLines();
    expect(taken).toEqual([]);
    const next = `${JSON.stringify({ msg: 'next' })}\n`;
    sink.write(next);
    const lines = pipe.readLines();
    expect(lines).toHaveLength(2);
    expect(`${lines[0]}\n`).toBe(long);
    expect(JSON.parse(lines[1]!)).toEqual({ msg: 'next' });
  });

  it('does not wait on a socket stdout nobody reads (systemd\'s journal, a parent\'s stdio pipe)', async () => {
    // A real process: fd 1 must be a socket it did not open, as a parent hands it over. 2 MB of lines against a
    // socket buffer of about 200 KB: on a blocking fd 1 the child hangs and the parent's 10 s check fails this test.
    const script = `
      import { LogSink, openLogOutput } from ${JSON.stringify(pathToFileURL(path.resolve('dist/src/log-sink.js')).href)};
      import fs from 'node:fs';
      if (!fs.fstatSync(1).isSocket()) throw new Error('stdout is not a socket');
      const sink = new LogSink(openLogOutput(), 256 * 1024);
      for (let n = 0; n < 8000; n += 1) sink.write(JSON.stringify({ n, pad: '${PAD}' }) + '\\n');
      process.stderr.write('wrote every line\\n');
      process.exit(0);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pause();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => (child.kill('SIGKILL'), resolve('hung on a full socket')), 10_000);
      child.on('exit', (exitCode) => (clearTimeout(timer), resolve(exitCode ?? 'killed')));
    });
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('wrote every line');
  }, 20_000);
});
