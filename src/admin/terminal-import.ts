/**
 * @module `cas terminals import FILE`: a fleet's terminals from a CSV or JSON Lines file, each created with the admin
 * channel's `terminals.create` (checked and audited one by one, as by hand), over one connection with requests kept
 * in flight. The file is read and checked whole before anything is sent: a mistake on line 90,000 costs nothing.
 */
import fs from 'node:fs';
import { parse } from 'csv-parse/sync';
import { UsageError } from '../cli-errors.js';
import { AppError, errnoOf } from '../errors.js';
import { foldSerial } from '../store/store.js';
import { SERIAL_PATTERN } from '../protocol/schemas.js';

/** One terminal to create, with the line of the file it came from (for the report). */
export interface ImportRow {
  line: number;
  serial: string;
  name?: string;
  location?: string;
  contact?: string;
  vpn?: boolean;
}

export interface ImportFailure {
  line: number;
  serial: string;
  error: string;
  message: string;
}

export interface ImportSummary {
  total: number;
  created: number;
  /** Already on the server, and `--skip-existing` said that is fine. */
  skipped: number;
  failed: ImportFailure[];
  /** Rows not sent because a refusal that is not about its row (the session ended, 2FA needed) stopped the import. */
  notSent: number;
  stoppedBy: { error: string; message: string } | null;
}

const COLUMNS = ['serial', 'name', 'location', 'contact', 'vpn'] as const;
type Column = (typeof COLUMNS)[number];

/** A file of at most this many bytes: a fleet of a few hundred thousand terminals with long names fits. */
const MAX_FILE_BYTES = 64 * 2 ** 20;

/** Reads FILE and checks every row: a usage error (exit 2) names the first bad line, and nothing is sent. */
export function readImportFile(file: string): ImportRow[] {
  let text: string;
  try {
    if (fs.statSync(file).size > MAX_FILE_BYTES) throw new UsageError(`${file} is larger than ${MAX_FILE_BYTES / 2 ** 20} MiB: split it`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${file}: ${errnoOf(err) ?? String(err)}`);
  }
  return parseImportRows(text.replace(/^\uFEFF/, ''), file);
}

/** JSON Lines when the first line that is not blank starts with `{`, else CSV with a header line naming its columns. */
export function parseImportRows(text: string, source: string): ImportRow[] {
  const rows = /^\s*\{/.test(text) ? jsonLines(text, source) : csvRows(text, source);
  if (rows.length === 0) throw new UsageError(`${source} holds no terminal: a CSV file needs a header line (serial,name,location,contact,vpn; only serial is required) and a row per terminal`);
  const seen = new Map<string, number>();
  for (const row of rows) {
    // Serials that differ only in case are one terminal to the server (terminals.create refuses the second).
    const earlier = seen.get(foldSerial(row.serial));
    if (earlier !== undefined) throw new UsageError(`${source} line ${row.line}: serial ${row.serial} is on line ${earlier} already`);
    seen.set(foldSerial(row.serial), row.line);
  }
  return rows;
}

function jsonLines(text: string, source: string): ImportRow[] {
  const rows: ImportRow[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    if (raw.trim() === '') continue;
    const line = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new UsageError(`${source} line ${line}: not a JSON object (a JSON Lines file holds one object per line)`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`${source} line ${line}: not a JSON object`);
    rows.push(rowOf(value as Record<string, unknown>, line, source));
  }
  return rows;
}

function csvRows(text: string, source: string): ImportRow[] {
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, {
      columns: (header: string[]) => header.map((name) => name.trim().toLowerCase()),
      skip_empty_lines: true, trim: true, info: true,
    }) as { record: Record<string, string>; info: { lines: number } }[];
  } catch (err) {
    throw new UsageError(`${source} is not valid CSV: ${err instanceof Error ? err.message : String(err)}`);
  }
  return records.map(({ record, info }) => rowOf(record, info.lines, source));
}

/** One row as created: only the known columns, each of the type terminals.create takes. */
function rowOf(fields: Record<string, unknown>, line: number, source: string): ImportRow {
  const at = `${source} line ${line}`;
  const unknown = Object.keys(fields).filter((key) => !(COLUMNS as readonly string[]).includes(key));
  if (unknown.length > 0) throw new UsageError(`${at}: unknown column ${JSON.stringify(unknown[0])}; the columns are ${COLUMNS.join(', ')}`);
  const serial = fields.serial;
  if (typeof serial !== 'string' || !SERIAL_PATTERN.test(serial)) {
    throw new UsageError(`${at}: serial ${JSON.stringify(serial ?? null)} is not a serial (1–64 of A-Z a-z 0-9 . _ -, starting with a letter or digit)`);
  }
  const row: ImportRow = { line, serial };
  for (const column of ['name', 'location', 'contact'] as const satisfies readonly Column[]) {
    const value = fields[column];
    if (value === undefined || value === '') continue;
    if (typeof value !== 'string') throw new UsageError(`${at}: ${column} must be text`);
    row[column] = value;
  }
  const vpn = fields.vpn;
  if (vpn !== undefined && vpn !== '') {
    const yes = vpn === true || (typeof vpn === 'string' && /^(true|yes|1)$/i.test(vpn));
    const no = vpn === false || (typeof vpn === 'string' && /^(false|no|0)$/i.test(vpn));
    if (!yes && !no) throw new UsageError(`${at}: vpn must be true or false`);
    if (yes) row.vpn = true;
  }
  return row;
}

/** Refusals about the row itself: the import goes on. Any other (session ended, 2FA needed, a full disk) stops it. */
const ROW_ERRORS: ReadonlySet<string> = new Set(['already_exists', 'invalid_field']);

/** Requests kept in flight: the server runs one connection's ops in order, so this only hides the round trip. */
const IN_FLIGHT = 32;

/**
 * Creates the rows' terminals with `request` (the admin client's), `IN_FLIGHT` at a time, in file order. `progress` is
 * told after each answer.
 */
export async function importTerminals(
  request: (op: string, args: object) => Promise<unknown>,
  rows: readonly ImportRow[],
  opts: { skipExisting: boolean; progress?(summary: ImportSummary): void },
): Promise<ImportSummary> {
  const summary: ImportSummary = { total: rows.length, created: 0, skipped: 0, failed: [], notSent: 0, stoppedBy: null };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < rows.length && summary.stoppedBy === null) {
      const { line, ...args } = rows[next++]!;
      try {
        await request('terminals.create', args);
        summary.created++;
      } catch (err) {
        const error = err instanceof AppError ? err.code : 'internal_error';
        const message = err instanceof Error ? err.message : String(err);
        if (error === 'already_exists' && opts.skipExisting) summary.skipped++;
        else if (ROW_ERRORS.has(error)) summary.failed.push({ line, serial: args.serial, error, message });
        else {
          summary.failed.push({ line, serial: args.serial, error, message });
          summary.stoppedBy ??= { error, message };
        }
      }
      opts.progress?.(summary);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, rows.length) }, worker));
  summary.notSent = rows.length - next;
  return summary;
}
