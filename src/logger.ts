/** @module pino logger: JSON by default, pretty on request; secrets are redacted as a second line of defence. */
import { pino, type Logger, type DestinationStream } from 'pino';
import { LogSink, openLogOutput } from './log-sink.js';

export type { Logger };

/** Field names that carry secrets, censored at the top level of a logged object and one level down. */
export const SECRET_KEYS: readonly string[] = ['password', 'totp', 'token', 'totpSecret', 'enrolmentCode', 'privateKey', 'privateKeyPem', 'reveal', 'terminalNonce'];

/** pino's own redaction: the secret keys at the top level, and the few deeper paths that are secret only there. */
export const REDACT_PATHS: readonly string[] = [...SECRET_KEYS, 'headers.signature', 'headers.authorization', 'req.headers.cookie'];

export const CENSOR = '[redacted]';

/**
 * The one-level-down half of the redaction ('*.password' and the like), as pino's `formatters.log`. pino's redactor
 * runs a wildcard-first path on every field of every line, strings and numbers included, parsing each path again
 * each time: with the eight such paths this logger had, a line of five plain fields took 7.8 µs against 2.4 µs
 * without them (bench/JOURNAL.md, session 21). Here a line without a nested object costs one typeof per field.
 * Returns `obj` itself when nothing is secret, else a copy: the caller's object is never changed.
 */
export function censorNestedSecrets(obj: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | null = null;
  for (const key in obj) {
    const value = obj[key];
    if (value === null || typeof value !== 'object' || Array.isArray(value)) continue;
    const nested = value as Record<string, unknown>;
    let censored: Record<string, unknown> | null = null;
    for (const secret of SECRET_KEYS) {
      if (!Object.hasOwn(nested, secret)) continue;
      censored ??= { ...nested };
      censored[secret] = CENSOR;
    }
    if (censored === null) continue;
    copy ??= { ...obj };
    copy[key] = censored;
  }
  return copy ?? obj;
}

/**
 * JSON lines go to stdout with a write(2) per line on the calling thread, as Node itself writes stdout to files and
 * pipes on Linux, but never waiting for a reader that has stalled (log-sink.ts). pino's default hands each write to
 * libuv's thread pool instead: a line then cost a front thread 20–30 µs, against about 7 µs written here (a flood of
 * refused requests, one line each, stdout to a file: bench/JOURNAL.md, session 22), and a thread that exits right
 * after logging (a crash) could lose its last line.
 */
export function createLogger(opts: { level: string; pretty: boolean }, destination?: DestinationStream): Logger {
  const base = {
    level: opts.level,
    redact: { paths: [...REDACT_PATHS], censor: CENSOR },
    formatters: { log: censorNestedSecrets },
    base: { pid: process.pid },
  };
  if (destination) return pino(base, destination);
  if (opts.pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:standard' } } });
  }
  return pino(base, new LogSink(openLogOutput()));
}
