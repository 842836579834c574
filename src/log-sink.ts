/** @module Where JSON log lines go: stdout, one write(2) per line on the calling thread, never waiting for a reader that has stalled. */
import { constants, fstatSync, openSync, writeSync } from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';
import { errnoOf } from './errors.js';

/** What a thread holds for a stalled reader before it drops lines: about 4,000 lines of 250 bytes. */
export const DEFAULT_MAX_HELD_BYTES = 1024 * 1024;
/** How often held lines are offered again when nothing new is logged. */
const RETRY_MS = 50;
/** How long a final flush (shutdown, a crashing thread) waits for a stalled reader before giving up on its lines. */
const FLUSH_WAIT_MS = 500;

/**
 * fd 1, or when fd 1 is a pipe or a terminal, a file description of the same pipe or terminal that does not block.
 * write(2) to a pipe or terminal that nobody reads (a paused pager, Ctrl-S, a stuck log shipper) waits until it is
 * read, and so does the thread that logs: with stdout on a pipe left unread, 287 refusals filled it and every front
 * thread and the admin page stopped answering (bench/JOURNAL.md, session 23). Opening /proc/self/fd/1 makes a new open
 * file description, so its O_NONBLOCK is ours alone: the shell or parent holding fd 1 keeps its own flags. A regular
 * file never waits for a reader, and stays fd 1.
 *
 * A socket (systemd's journal, a parent's stdio pipe, which Node makes a socketpair) cannot be reopened, so fd 1 itself
 * is made non-blocking, for every thread: Node has no fcntl(), but its stdout stream does it (libuv's uv_pipe_open sets
 * O_NONBLOCK on the descriptor it wraps, and that stream never closes fd 1). Only the main thread has that stream; the
 * fronts' threads log after it made fd 1 non-blocking. The flag is on the socket's description, which is shared with
 * whatever else holds it: under systemd that is fd 2 (stdout and stderr are one stream), so a native write to stderr
 * (V8's last words on running out of memory) may be cut short by a journal that does not read; and a parent that
 * handed over its own socket (`stdio: 'inherit'`) finds it non-blocking too. A server that never waits on its log is
 * worth both.
 */
export function openLogOutput(fd = 1): number {
  try {
    const stat = fstatSync(fd);
    if (stat.isSocket()) {
      if (fd === 1 && isMainThread) void process.stdout;
      return fd;
    }
    if (!stat.isFIFO() && !stat.isCharacterDevice()) return fd;
    return openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_APPEND | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    // No /proc, a pipe owned by another user (EACCES) or one whose reader is gone (ENXIO): write as before.
    return fd;
  }
}

/** Lines dropped in a row, reported in one line once the output takes lines again. */
interface Gap {
  lines: number;
  bytes: number;
  from: number;
  until: number;
  error: string;
}

/**
 * A pino destination. When the output does not take a line (EAGAIN from a full pipe, or any other error), the line
 * is held, in order, and offered again with the next line or after RETRY_MS; past `maxHeldBytes` lines are dropped
 * and counted, and where they were missing the output gets one warn line (`log lines dropped`) with their number.
 * The usual case is one write(2) and nothing held.
 */
export class LogSink {
  private readonly held: Buffer[] = [];
  private heldBytes = 0;
  private gap: Gap | null = null;
  private retry: NodeJS.Timeout | null = null;
  private lastError = '';

  constructor(
    private readonly fd: number,
    private readonly maxHeldBytes = DEFAULT_MAX_HELD_BYTES,
  ) {}

  write(line: string): void {
    // Behind: what is held goes first, and may all go now.
    if (this.held.length > 0 || this.gap !== null) this.drain();
    if (this.held.length === 0 && this.gap === null) {
      this.writeNow(line);
      return;
    }
    const bytes = Buffer.byteLength(line);
    if (this.heldBytes + bytes > this.maxHeldBytes) {
      this.drop(bytes);
      return;
    }
    this.closeGap();
    this.hold(Buffer.from(line));
  }

  /** pino's `flush`: offers what is held until it is written or FLUSH_WAIT_MS have passed; a stalled reader loses it. */
  flush(done?: (err?: Error) => void): void {
    const deadline = Date.now() + FLUSH_WAIT_MS;
    this.drain();
    while ((this.held.length > 0 || this.gap !== null) && Date.now() < deadline) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      this.drain();
    }
    done?.();
  }

  private writeNow(line: string): void {
    let written: number;
    try {
      written = writeSync(this.fd, line);
    } catch (err) {
      this.lastError = errnoOf(err) ?? String(err);
      const buffer = Buffer.from(line);
      if (buffer.length > this.maxHeldBytes) this.drop(buffer.length);
      else this.hold(buffer);
      return;
    }
    // A pipe takes a line under 4 KiB whole or not at all; a longer one (a stack trace) may go in part. `written` counts
    // bytes, not characters: a non-ASCII line the pipe took in part may have been taken for whole by line.length.
    if (written === Buffer.byteLength(line)) return;
    const buffer = Buffer.from(line);
    if (written < buffer.length) this.hold(buffer.subarray(written));
  }

  /** Writes held lines, oldest first, until the output refuses one; then tries again later. */
  private drain(): void {
    while (this.held.length > 0 || this.gap !== null) {
      if (this.held.length === 0) this.closeGap();
      const head = this.held[0]!;
      let written: number;
      try {
        written = writeSync(this.fd, head);
      } catch (err) {
        this.lastError = errnoOf(err) ?? String(err);
        break;
      }
      this.heldBytes -= written;
      if (written < head.length) this.held[0] = head.subarray(written);
      else this.held.shift();
    }
    if (this.held.length > 0 || this.gap !== null) this.scheduleRetry();
  }

  private hold(buffer: Buffer): void {
    this.held.push(buffer);
    this.heldBytes += buffer.length;
    this.scheduleRetry();
  }

  private drop(bytes: number): void {
    const now = Date.now();
    this.gap ??= { lines: 0, bytes: 0, from: now, until: now, error: this.lastError || 'EAGAIN' };
    this.gap.lines += 1;
    this.gap.bytes += bytes;
    this.gap.until = now;
    this.scheduleRetry();
  }

  /** Puts the line that reports the gap where the dropped lines would have been. */
  private closeGap(): void {
    if (this.gap === null) return;
    const { lines, bytes, from, until, error } = this.gap;
    this.gap = null;
    const notice = {
      level: 40,
      time: Date.now(),
      pid: process.pid,
      threadId,
      msg: 'log lines dropped: stdout did not take them',
      lines,
      bytes,
      droppedFrom: new Date(from).toISOString(),
      droppedUntil: new Date(until).toISOString(),
      error,
    };
    const buffer = Buffer.from(`${JSON.stringify(notice)}\n`);
    // Over the limit if need be: it is the one line that says what is missing.
    this.held.push(buffer);
    this.heldBytes += buffer.length;
  }

  private scheduleRetry(): void {
    if (this.retry !== null) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.drain();
    }, RETRY_MS);
    // Held lines are not a reason to keep a thread alive; flush() is the last chance at exit.
    this.retry.unref();
  }
}
