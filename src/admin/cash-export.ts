/**
 * @module `cas cash-events export`: pages through `cash.export` / `cash.next` and writes every event to a CSV or JSON
 * Lines file, whole or not at all (a temporary file beside it, flushed, then renamed into place).
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../cli-errors.js';
import { AppError } from '../errors.js';
import { parseTimeBound, TIME_BOUND_HINT } from '../protocol/time-bounds.js';
import type { CashEventView } from '../protocol/types.js';

export const EXPORT_FORMATS = ['csv', 'jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportRequest {
  out: string;
  format: ExportFormat;
  since?: string;
  until?: string;
  serial?: string;
}

export interface ExportSummary {
  out: string;
  format: ExportFormat;
  events: number;
  since: string | null;
  until: string | null;
  serial: string | null;
}

/** How far an export got, for the progress line: events written so far, and whether that was the last page. */
export interface ExportProgress {
  events: number;
  done: boolean;
}

const COLUMNS = ['serial', 'eventId', 'currency', 'denomination', 'count', 'at', 'receivedAt'] as const;
/** The largest page the server gives (cash-ops.ts). */
const PAGE_SIZE = 1000;

/**
 * The `--since`/`--until` of an export as the exact instant sent to the server, read as `cas audit` reads them
 * (time-bounds.ts): a date alone is its whole day either way, so `--since 2026-11-01 --until 2026-11-30` is November,
 * and a time without an offset is UTC. Two readings of the same flags across cas (an exclusive `--until` date here, an
 * inclusive one for the audit) would have an operator's month export lose or repeat a day; a date that does not exist
 * (2026-02-30) is refused rather than rolled over into March.
 */
export function parseExportDate(flag: 'since' | 'until', value: string): string {
  const ms = parseTimeBound(value, flag);
  if (ms === null) throw new UsageError(`--${flag} must be ${TIME_BOUND_HINT}`);
  return new Date(ms).toISOString();
}

/** Checked before anything is asked of the server: a folder that is not there, or a folder named as the file. */
export function checkExportTarget(out: string): void {
  const dir = path.dirname(path.resolve(out));
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--out ${out}: the folder ${dir} does not exist`);
  if (fs.statSync(out, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--out ${out} is a folder: name the file to write`);
}

/**
 * Every field is a plain token (schemas.ts: serials, event ids, ISO times, numbers), but a cell is quoted if it ever is
 * not. A text cell that a spreadsheet would take for a formula (an event id such as `-A1`, chosen by the terminal) gets
 * a leading apostrophe, as OWASP's CSV-injection advice says: no event id or serial holds one, so it reads back
 * unambiguously, and an operator opening the export is not running what a terminal sent.
 */
export const csvCell = (value: unknown): string => {
  const text = typeof value === 'string' && /^[=+\-@\t\r]/.test(value) ? `'${value}` : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

function lines(events: readonly CashEventView[], format: ExportFormat): string {
  return events.map((e) => (format === 'csv' ? COLUMNS.map((c) => csvCell(e[c])).join(',') : JSON.stringify(e))).join('\n') + (events.length > 0 ? '\n' : '');
}

/**
 * Writes the events the server holds for `req` to `req.out`: the file appears only once every page is written and
 * flushed (owner-only: it is the fleet's takings), and an export that fails leaves none, nor a file it replaced changed.
 */
export async function exportCashEvents(
  request: (op: string, args: object) => Promise<unknown>, req: ExportRequest, progress: (p: ExportProgress) => void,
): Promise<ExportSummary> {
  const temp = path.join(path.dirname(req.out), `.${path.basename(req.out)}.${process.pid}.tmp`);
  // Created afresh with its final mode: a leftover of a killed run with this pid could have another.
  fs.rmSync(temp, { force: true });
  const fd = fs.openSync(temp, 'wx', 0o600);
  let events = 0;
  try {
    if (req.format === 'csv') fs.writeSync(fd, `${COLUMNS.join(',')}\n`);
    let page = pageOf(await request('cash.export', { ...(req.since && { since: req.since }), ...(req.until && { until: req.until }), ...(req.serial && { serial: req.serial }), limit: PAGE_SIZE }));
    for (;;) {
      if (page.events.length > 0) fs.writeSync(fd, lines(page.events, req.format));
      events += page.events.length;
      progress({ events, done: page.next === null });
      if (page.next === null) break;
      page = pageOf(await request('cash.next', { cursor: page.next, limit: PAGE_SIZE }));
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(temp, req.out);
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {
      // closed before the rename failed
    }
    fs.rmSync(temp, { force: true });
    throw err;
  }
  return { out: req.out, format: req.format, events, since: req.since ?? null, until: req.until ?? null, serial: req.serial ?? null };
}

function pageOf(value: unknown): { events: CashEventView[]; next: string | null } {
  const page = value as { events?: unknown; next?: unknown } | null;
  if (!page || !Array.isArray(page.events) || (page.next !== null && typeof page.next !== 'string')) {
    throw new AppError('internal_error', 'the server answered cash.export without events: a server older than this cas?');
  }
  return { events: page.events as CashEventView[], next: page.next as string | null };
}
