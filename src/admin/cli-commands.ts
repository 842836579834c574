/** @module The `cas` command table: each command's usage, the admin op it maps to, how its arguments become op args, and the help texts. */
import { UsageError } from '../cli-errors.js';
import { ADMIN_TOPICS, GATE_DEFAULT_MINUTES, GATE_MAX_MINUTES, type AdminTopic, type PairingView } from '../protocol/types.js';
import { totpDigits } from '../crypto/totp.js';
import { parseTimeBound, TIME_BOUND_HINT } from '../protocol/time-bounds.js';
import { enrolmentCodeDigits } from './enrolment-code.js';
import { writeVpnBundle } from '../vpn/vpn-bundle-files.js';
import { importTerminals, readImportFile, type ImportRow, type ImportSummary } from './terminal-import.js';
import { checkExportTarget, EXPORT_FORMATS, exportCashEvents, parseExportDate, type ExportFormat, type ExportProgress, type ExportRequest } from './cash-export.js';
import { requestLine } from './cli-format.js';

/** Options that belong to one command or another (the global ones live in cli-args.ts). */
export const COMMAND_OPTIONS = {
  name: { type: 'string' },
  location: { type: 'string' },
  contact: { type: 'string' },
  vpn: { type: 'boolean' },
  state: { type: 'string' },
  code: { type: 'string' },
  limit: { type: 'string' },
  minutes: { type: 'string' },
  topics: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  proto: { type: 'string' },
  subnet: { type: 'string' },
  'master-url': { type: 'string' },
  out: { type: 'string' },
  search: { type: 'string' },
  by: { type: 'string' },
  action: { type: 'string' },
  serial: { type: 'string' },
  before: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  'skip-existing': { type: 'boolean' },
  format: { type: 'string' },
  yes: { type: 'boolean' },
} as const;
export type CommandOption = keyof typeof COMMAND_OPTIONS;
export type CommandValues = Partial<Record<CommandOption, string | boolean>>;

/** How the human output of a command is drawn (cli-format.ts). */
export type Renderer =
  | 'terminal' | 'terminals' | 'pairing' | 'pairings' | 'decision'
  | 'deposit' | 'deposits' | 'audit' | 'gate' | 'unknown' | 'unpaired' | 'deleted' | 'enrolment' | 'enrolled' | 'events' | 'session'
  | 'vpn' | 'vpn-config' | 'vpn-export' | 'vpn-crl' | 'server' | 'import' | 'cash-events' | 'cash-export';

export interface CommandSpec {
  /** `group` or `group command`, as typed. */
  name: string;
  group: string;
  usage: string;
  summary: string;
  positionals: readonly string[];
  options: readonly CommandOption[];
  op: string;
  render: Renderer;
  toArgs(positionals: readonly string[], values: CommandValues): Record<string, unknown> | undefined;
  /** For results that go to files rather than the screen: writes them and returns what is printed instead. */
  save?(result: unknown, values: CommandValues): unknown;
  /**
   * The op answers a page at a time (`{[items]: [...], next}`): the command asks for pages, passing `next` back as
   * `cursor`, until there are no more or it has `--limit` items, and prints them as one list.
   */
  pages?: {
    items: 'terminals' | 'requests' | 'events'; cursor: 'after' | 'before';
    /**
     * The op's pages say how many items there are (`total`) and match (`matching`): the command prints an object, the
     * items under `items` beside those counts and `shown`, `more`, instead of the bare list (cli.ts, everyPage).
     */
    counted?: true;
    /**
     * What the table ends with when `--limit` stopped the listing before its oldest item: without it, a default limit
     * looks like the whole list (human output only; `--json` stays the bare list).
     */
    cutNote?: (args: Record<string, unknown>, shown: number) => string;
  };
  /** Its positionals may all be left out (`pairing reject --serial SERIAL` instead of a REQUEST_ID). */
  positionalsOptional?: true;
  /**
   * A command that changes many things at once asks first (cli.ts), unless `--yes`: when `needed(args)`, `ask` reads
   * what it would change and returns the question and the args that change exactly what it showed, or what to print
   * instead when there is nothing to change. Without a terminal to ask on and without `--yes`, it is a usage error.
   */
  confirm?: {
    needed(args: Record<string, unknown>): boolean;
    ask(request: (op: string, args: object) => Promise<unknown>, args: Record<string, unknown>): Promise<{ question: string; args: Record<string, unknown> } | { nothing: unknown }>;
  };
  /**
   * A command that is many requests of `op` (terminals import): sends them with `request` and returns what is printed,
   * and whether every one went as asked (else cas exits 1). `progress` is told how far it got.
   */
  many?(request: (op: string, args: object) => Promise<unknown>, args: Record<string, unknown>, progress: (summary: ImportSummary) => void): Promise<{ result: unknown; ok: boolean }>;
  /** A command that pages through `op` into a file (cash-events export): returns what is printed; `progress` is told how far it got. */
  toFile?(request: (op: string, args: object) => Promise<unknown>, args: Record<string, unknown>, progress: (p: ExportProgress) => void): Promise<unknown>;
}

const PAIRING_STATES = ['pending', 'approved', 'rejected', 'expired'] as const;
const TERMINAL_STATES = ['expected', 'pending', 'paired'] as const;

/** `limit` here is the whole command's: the pages are asked for in sizes the server accepts (cli.ts). */
const limitArg = (value: string | boolean | undefined): { limit?: number } => (value === undefined ? {} : { limit: positiveInt('limit', value) });

/** `max`, when given, is the server's own bound, so that a value it would refuse is a usage error here (exit 2) like 0 is. */
function positiveInt(flag: string, value: string | boolean | undefined, max?: { value: number; says: string }): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' && /^[0-9]{1,9}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || (max !== undefined && n > max.value)) {
    throw new UsageError(max === undefined ? `--${flag} must be a positive whole number` : `--${flag} must be a whole number from 1 to ${max.value} (${max.says})`);
  }
  return n;
}

/** Both bounds, and --until after --since, checked as the server checks them: a usage error (exit 2), as for an export. */
function timeRange(since: string | boolean | undefined, until: string | boolean | undefined): Record<string, string> {
  const range = { ...timeArg('since', since), ...timeArg('until', until) };
  if (range.since !== undefined && range.until !== undefined && parseTimeBound(range.since, 'since')! >= parseTimeBound(range.until, 'until')!) {
    throw new UsageError('--until must be later than --since (a date alone as --until covers that whole day)');
  }
  return range;
}

/** Checked here as the server checks it (time-bounds.ts), so that a typo is a usage error; sent as typed. */
function timeArg(flag: 'since' | 'until', value: string | boolean | undefined): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'string' || parseTimeBound(value, flag) === null) throw new UsageError(`--${flag} must be ${TIME_BOUND_HINT}`);
  return { [flag]: value };
}

function str(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Accepts the code as read over the phone (spaces, dashes or none) and sends the canonical `123-456-789-012`. */
export function normalizeCode(input: string): string {
  const digits = input.replace(/[\s-]/g, '');
  if (!/^[0-9]{12}$/.test(digits)) throw new UsageError('--code must be the 12-digit pairing code, e.g. 123-456-789-012');
  return digits.match(/.../g)!.join('-');
}

/** `cas watch` without --topics: not `cash`, which on a busy fleet is a line a second that nobody asked for. */
const WATCHED_BY_DEFAULT: readonly AdminTopic[] = ['pairing', 'terminals'];

function parseTopics(value: string | boolean | undefined): AdminTopic[] {
  if (typeof value !== 'string') return [...WATCHED_BY_DEFAULT];
  const topics = value.split(',').map((t) => t.trim()).filter((t) => t !== '');
  for (const topic of topics) {
    if (!(ADMIN_TOPICS as readonly string[]).includes(topic)) {
      throw new UsageError(`unknown topic ${JSON.stringify(topic)}; topics are ${ADMIN_TOPICS.join(', ')}`);
    }
  }
  if (topics.length === 0) throw new UsageError('--topics needs at least one topic');
  // Once each: the server takes at most one entry per topic's worth (3), and a repeat adds nothing.
  return [...new Set(topics)] as AdminTopic[];
}

function watchArgs(v: CommandValues): Record<string, unknown> {
  const topics = parseTopics(v.topics);
  if (v.serial === undefined) return { topics };
  if (typeof v.serial !== 'string' || !topics.includes('cash')) throw new UsageError('--serial SERIAL narrows --topics cash to one terminal: give it with --topics cash');
  return { topics, serial: v.serial };
}

/** `vpn set` flags → vpn.set args; `default` returns host / master URL to the value derived by the server. */
function vpnSetArgs(values: CommandValues): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  const host = str(values.host);
  if (host !== undefined) args.host = host === 'default' ? null : host;
  if (values.port !== undefined) {
    args.port = positiveInt('port', values.port, { value: 65535, says: 'a TCP or UDP port' });
  }
  if (values.proto !== undefined) {
    if (values.proto !== 'udp' && values.proto !== 'tcp') throw new UsageError('--proto must be udp or tcp');
    args.proto = values.proto;
  }
  if (values.subnet !== undefined) args.subnet = str(values.subnet);
  const masterUrl = str(values['master-url']);
  if (masterUrl !== undefined) args.masterUrl = masterUrl === 'default' ? null : masterUrl;
  if (Object.keys(args).length === 0) throw new UsageError('vpn set needs at least one of --host, --port, --proto, --subnet, --master-url');
  return args;
}

/** `cash-events export` flags → what exportCashEvents needs; the folder and dates are checked before the server is asked. */
function exportArgs(v: CommandValues): Record<string, unknown> {
  if (typeof v.out !== 'string' || v.out === '') throw new UsageError('cash-events export needs --out FILE: the events are written to a file');
  checkExportTarget(v.out);
  const format = v.format ?? 'csv';
  if (!(EXPORT_FORMATS as readonly unknown[]).includes(format)) throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}`);
  const since = typeof v.since === 'string' ? parseExportDate('since', v.since) : undefined;
  const until = typeof v.until === 'string' ? parseExportDate('until', v.until) : undefined;
  if (since !== undefined && until !== undefined && since >= until) throw new UsageError('--until must be later than --since (a date alone as --until covers that whole day)');
  const args: ExportRequest = { out: v.out, format: format as ExportFormat, ...(since && { since }), ...(until && { until }), ...(typeof v.serial === 'string' && { serial: v.serial }) };
  return { ...args };
}

/** Lists the requests `pairing reject --serial` would reject: the question names each, and only those are sent. */
async function askSerialRejection(request: (op: string, args: object) => Promise<unknown>, args: Record<string, unknown>): Promise<{ question: string; args: Record<string, unknown> } | { nothing: unknown }> {
  const serial = args.serial as string;
  const page = await request('pairing.list', { state: 'pending', serial, limit: 1000 }) as { requests?: PairingView[]; next?: string | null };
  const waiting = page.requests ?? [];
  if (waiting.length === 0) return { nothing: { serial, rejected: [] } };
  const rows = waiting.map((r) => `${requestLine(r)}  at ${r.requestedAt}`);
  const all = typeof page.next === 'string';
  return {
    question: `Reject ${all ? 'every one of the more than' : waiting.length === 1 ? 'this' : `these ${waiting.length}`} pending pairing request${waiting.length === 1 ? '' : 's'} for ${serial}?\n${rows.join('\n')}\n`
      + 'A rejected key cannot ask again for one pairing TTL (24 h by default): a terminal of yours among them needs a factory reset, or to wait.\n',
    // More than a page waits: all of them, as with --yes; otherwise exactly those listed, not one that came meanwhile.
    args: all ? { serial } : { serial, requestIds: waiting.map((r) => r.requestId) },
  };
}

type Spec = Omit<CommandSpec, 'group' | 'toArgs'> & Partial<Pick<CommandSpec, 'toArgs'>>;
const none = (): undefined => undefined;

const SPECS: readonly Spec[] = [
  {
    name: 'login', usage: '', summary: 'log in once (password + TOTP) and keep the session for later commands (until logout, 8 h idle or 12 h after login)',
    positionals: [], options: [], op: 'login', render: 'session',
  },
  { name: 'logout', usage: '', summary: 'end the kept session on the server and forget it here', positionals: [], options: [], op: 'logout', render: 'session' },
  {
    name: 'terminals create', usage: 'SERIAL [--name N] [--location L] [--contact C] [--vpn]',
    summary: 'expect a terminal with this serial (step 1 of pairing)',
    positionals: ['SERIAL'], options: ['name', 'location', 'contact', 'vpn'], op: 'terminals.create', render: 'terminal',
    toArgs: ([serial], v) => ({
      serial,
      ...(v.name !== undefined && { name: str(v.name) }),
      ...(v.location !== undefined && { location: str(v.location) }),
      ...(v.contact !== undefined && { contact: str(v.contact) }),
      ...(v.vpn === true && { vpn: true }),
    }),
  },
  {
    name: 'terminals import', usage: 'FILE [--skip-existing]',
    summary: 'create many terminals from a CSV file (header line: serial,name,location,contact,vpn; only serial is needed) or a JSON Lines file, checked whole before anything is sent; --skip-existing: a serial already there is not a failure',
    positionals: ['FILE'], options: ['skip-existing'], op: 'terminals.create', render: 'import',
    toArgs: ([file], v) => ({ rows: readImportFile(file!), skipExisting: v['skip-existing'] === true }),
    async many(request, args, progress) {
      const summary = await importTerminals(request, args.rows as ImportRow[], { skipExisting: args.skipExisting === true, progress });
      return { result: summary, ok: summary.failed.length === 0 && summary.notSent === 0 };
    },
  },
  {
    name: 'terminals update', usage: 'SERIAL [--name N] [--location L] [--contact C]',
    summary: 'correct the name, location or contact phone (others stay; "" clears one)',
    positionals: ['SERIAL'], options: ['name', 'location', 'contact'], op: 'terminals.update', render: 'terminal',
    toArgs: ([serial], v) => {
      if (v.name === undefined && v.location === undefined && v.contact === undefined) {
        throw new UsageError('terminals update needs at least one of --name, --location, --contact');
      }
      return {
        serial,
        ...(v.name !== undefined && { name: str(v.name) }),
        ...(v.location !== undefined && { location: str(v.location) }),
        ...(v.contact !== undefined && { contact: str(v.contact) }),
      };
    },
  },
  {
    name: 'terminals list', usage: '[--search TEXT] [--state expected|pending|paired] [--limit N]',
    summary: 'terminals in serial order with their pairing state and location contact (all of them unless --limit), and how many there are and match; '
      + '--json: {terminals, total, matching, shown, more}', positionals: [], options: ['search', 'state', 'limit'],
    op: 'terminals.list', render: 'terminals', pages: { items: 'terminals', cursor: 'after', counted: true },
    toArgs: (_, v) => {
      if (v.state !== undefined && !(TERMINAL_STATES as readonly unknown[]).includes(v.state)) throw new UsageError(`--state must be one of ${TERMINAL_STATES.join(', ')}`);
      return { ...(typeof v.search === 'string' && { query: v.search }), ...(v.state !== undefined && { state: v.state }), ...limitArg(v.limit) };
    },
  },
  {
    name: 'terminals get', usage: 'SERIAL', summary: 'one terminal, with its full TFP', positionals: ['SERIAL'], options: [],
    op: 'terminals.get', render: 'terminal', toArgs: ([serial]) => ({ serial }),
  },
  {
    name: 'terminals unpair', usage: 'SERIAL', summary: 'forget the terminal\'s TFP at once (breaks trust)', positionals: ['SERIAL'],
    options: [], op: 'terminals.unpair', render: 'unpaired', toArgs: ([serial]) => ({ serial }),
  },
  {
    name: 'terminals delete', usage: 'SERIAL', summary: 'remove an unpaired terminal (a mistyped serial, retired hardware); its pending requests are rejected',
    positionals: ['SERIAL'], options: [], op: 'terminals.delete', render: 'deleted', toArgs: ([serial]) => ({ serial }),
  },
  {
    name: 'pairing list', usage: '[--state pending|approved|rejected|expired] [--serial SERIAL] [--limit N]', summary: 'pairing requests, newest first (all of them unless --limit; --serial: one terminal\'s)',
    positionals: [], options: ['state', 'serial', 'limit'], op: 'pairing.list', render: 'pairings', pages: { items: 'requests', cursor: 'before' },
    toArgs: (_, v) => {
      if (v.state !== undefined && !(PAIRING_STATES as readonly unknown[]).includes(v.state)) throw new UsageError(`--state must be one of ${PAIRING_STATES.join(', ')}`);
      return { ...(v.state !== undefined && { state: v.state }), ...(typeof v.serial === 'string' && { serial: v.serial }), ...limitArg(v.limit) };
    },
  },
  {
    name: 'pairing get', usage: 'REQUEST_ID', summary: 'one request, with its pairing code', positionals: ['REQUEST_ID'], options: [],
    op: 'pairing.get', render: 'pairing', toArgs: ([requestId]) => ({ requestId }),
  },
  {
    name: 'pairing approve', usage: 'REQUEST_ID --code CODE', summary: 'trust the terminal (needs a user with 2FA and the code read from its screen)',
    positionals: ['REQUEST_ID'], options: ['code'], op: 'pairing.approve', render: 'decision',
    toArgs: ([requestId], v) => {
      if (typeof v.code !== 'string') throw new UsageError('pairing approve needs --code CODE: the code the location contact reads from the terminal screen');
      return { requestId, code: normalizeCode(v.code) };
    },
  },
  {
    name: 'pairing reject', usage: 'REQUEST_ID | --serial SERIAL [--yes]',
    summary: 'refuse the request (e.g. when the codes differ); --serial: every request for SERIAL that waits with a code, whichever keys made them '
      + '(asks first, listing them, unless --yes)',
    positionals: ['REQUEST_ID'], positionalsOptional: true, options: ['serial', 'yes'], op: 'pairing.reject', render: 'decision',
    toArgs: ([requestId], v) => {
      if ((requestId === undefined) === (typeof v.serial !== 'string')) throw new UsageError('pairing reject needs a REQUEST_ID, or --serial SERIAL for every request of that serial that waits, not both');
      if (requestId !== undefined && v.yes !== undefined) throw new UsageError('--yes is for pairing reject --serial, which asks before it rejects several requests');
      return requestId !== undefined ? { requestId } : { serial: v.serial };
    },
    confirm: { needed: (args) => args.serial !== undefined, ask: askSerialRejection },
  },
  {
    name: 'deposit set', usage: 'COIN ADDRESS', summary: 'the deposit address master hands to terminals for COIN (needs 2FA)',
    positionals: ['COIN', 'ADDRESS'], options: [], op: 'deposit.set', render: 'deposit',
    toArgs: ([coin, address]) => ({ coin: coin!.toUpperCase(), address }),
  },
  { name: 'deposit list', usage: '', summary: 'deposit addresses per coin', positionals: [], options: [], op: 'deposit.list', render: 'deposits' },
  {
    name: 'audit', usage: '[--limit N] [--by OPERATOR] [--action OP] [--serial SERIAL] [--since DATE] [--until DATE] [--before SEQ]',
    summary: 'who did what, newest first (--serial: a terminal\'s entries, its pairing decisions included; --since/--until: made in that range, '
      + 'a date (a whole day) or an ISO time, UTC unless it has an offset; --before: the last SEQ of the page before)', positionals: [],
    options: ['limit', 'by', 'action', 'serial', 'since', 'until', 'before'], op: 'audit.list', render: 'audit',
    toArgs: (_, v) => ({
      ...limitArg(v.limit), ...(typeof v.by === 'string' && { user: v.by }), ...(typeof v.action === 'string' && { action: v.action }),
      ...(typeof v.serial === 'string' && { serial: v.serial }), ...timeRange(v.since, v.until),
      ...(v.before !== undefined && { before: positiveInt('before', v.before) }),
    }),
  },
  { name: 'gate status', usage: '', summary: 'is the gate accepting pairing requests', positionals: [], options: [], op: 'gate.status', render: 'gate' },
  {
    name: 'gate open', usage: '[--minutes N]', summary: `accept pairing requests for a while (default ${GATE_DEFAULT_MINUTES} minutes, at most a week)`, positionals: [], options: ['minutes'],
    op: 'gate.open', render: 'gate', toArgs: (_, v) => (v.minutes === undefined ? undefined : { minutes: positiveInt('minutes', v.minutes, { value: GATE_MAX_MINUTES, says: 'a week' }) }),
  },
  { name: 'gate close', usage: '', summary: 'stop listening for pairing requests', positionals: [], options: [], op: 'gate.close', render: 'gate' },
  {
    name: 'server status', usage: '', summary: 'the server\'s threads: state, restarts, actors in memory, load and answers so far; during a certificate rollover, the next SFP and the terminals seen since it is announced',
    positionals: [], options: [], op: 'server.status', render: 'server',
  },
  { name: 'unknown list', usage: '', summary: 'terminals that tried to pair with a serial nobody created', positionals: [], options: [], op: 'unknown.list', render: 'unknown' },
  {
    name: 'totp enroll', usage: '--code ENROLMENT_CODE',
    summary: 'start 2FA enrolment for yourself, with the enrolment code your administrator gave you: prints the secret for your authenticator app',
    positionals: [], options: ['code'], op: 'totp.enroll', render: 'enrolment',
    toArgs: (_, v) => {
      const digits = enrolmentCodeDigits(v.code);
      if (digits === null) throw new UsageError('--code must be the 12-digit enrolment code your administrator gave you, e.g. 1234-5678-9012');
      return { code: digits };
    },
  },
  {
    name: 'totp confirm', usage: 'CODE', summary: 'finish 2FA enrolment with a code from the authenticator app',
    positionals: ['CODE'], options: [], op: 'totp.confirm', render: 'enrolled',
    toArgs: ([totp]) => {
      const digits = totpDigits(totp);
      if (digits === null) throw new UsageError('CODE must be the 6 digits the authenticator app shows now');
      return { totp: digits };
    },
  },
  { name: 'vpn get', usage: '', summary: 'VPN settings (deployment scenario A) and the VPN CA', positionals: [], options: [], op: 'vpn.get', render: 'vpn' },
  {
    name: 'vpn set', usage: '[--host H|default] [--port N] [--proto udp|tcp] [--subnet CIDR] [--master-url URL|default]',
    summary: 'where terminals reach the OpenVPN server, the tunnel subnet, and master\'s address inside the tunnel (needs 2FA)',
    positionals: [], options: ['host', 'port', 'proto', 'subnet', 'master-url'], op: 'vpn.set', render: 'vpn',
    toArgs: (_, v) => vpnSetArgs(v),
  },
  {
    name: 'vpn export', usage: '--out DIR', summary: 'write the OpenVPN server configuration (server.conf, certificates, keys, CRL) into DIR (needs 2FA)',
    positionals: [], options: ['out'], op: 'vpn.export', render: 'vpn-export',
    toArgs: (_, v) => {
      if (typeof v.out !== 'string' || v.out === '') throw new UsageError('vpn export needs --out DIR: the bundle holds private keys and is written to files, never printed');
      return undefined;
    },
    save: (result, v) => writeVpnBundle(v.out as string, result),
  },
  { name: 'vpn crl', usage: '', summary: 'the current CRL (PEM) for the OpenVPN server\'s crl-verify; lists unpaired terminals\' certificates', positionals: [], options: [], op: 'vpn.crl', render: 'vpn-crl' },
  {
    name: 'vpn regenerate', usage: 'SERIAL', summary: 'reissue a paired terminal\'s VPN configuration with the current settings (no re-pairing)',
    positionals: ['SERIAL'], options: [], op: 'vpn.regenerate', render: 'vpn-config', toArgs: ([serial]) => ({ serial }),
  },
  {
    name: 'cash-events list', usage: 'SERIAL [--limit N]',
    summary: 'a terminal\'s cash events, newest first: the newest 100 unless --limit (every one: cash-events export --serial SERIAL)',
    positionals: ['SERIAL'], options: ['limit'], op: 'cash.list', render: 'cash-events', pages: {
      items: 'events', cursor: 'before',
      cutNote: ({ serial }, shown) => `the newest ${shown.toLocaleString('en')} shown, older ones left out: --limit N, or every one with cas cash-events export --serial ${String(serial)} --out FILE`,
    },
    toArgs: ([serial], v) => ({ serial, limit: positiveInt('limit', v.limit) ?? 100 }),
  },
  {
    name: 'cash-events export', usage: '--out FILE [--since DATE] [--until DATE] [--serial SERIAL] [--format csv|jsonl]',
    summary: 'write every cash event received in that range (at most until the export starts) into FILE, as CSV (default) or JSON Lines; DATE as for cas audit: a date is ' +
      'its whole day (--since 2026-11-01 --until 2026-11-30 is November) or an ISO time (2026-12-01T08:00, first instant left out as --until), UTC unless it has an offset; ' +
      'one terminal\'s (--serial) in received order; the file appears whole when done; audited',
    positionals: [], options: ['out', 'since', 'until', 'serial', 'format'], op: 'cash.export', render: 'cash-export',
    toArgs: (_, v) => exportArgs(v),
    toFile: (request, args, progress) => exportCashEvents(request, args as unknown as ExportRequest, progress),
  },
  {
    name: 'watch', usage: '[--topics pairing,terminals,cash] [--serial SERIAL]',
    summary: 'print pairing and terminal events as they happen (Ctrl-C ends); --topics cash: new cash events, at most a line a second ' +
      '(how many, and per terminal when few), --serial: of that terminal only',
    positionals: [], options: ['topics', 'serial'], op: 'subscribe', render: 'events',
    toArgs: (_, v) => watchArgs(v),
  },
];

export const COMMANDS: readonly CommandSpec[] = SPECS.map((s) => ({ toArgs: none, ...s, group: s.name.split(' ')[0]! }));

export const GROUPS: readonly string[] = [...new Set(COMMANDS.map((c) => c.group))];

const WORKFLOW = `Pairing a terminal:
  1. cas terminals create SERIAL --location … --contact …   (and cas gate open --minutes ${GATE_DEFAULT_MINUTES})
  2. the terminal contacts the gate and shows a 12-digit pairing code on its screen
  3. cas pairing list --state pending shows the code (cas pairing get REQUEST_ID: in big digits)
  4. call the location contact yourself (the number you have on file, never one a
     caller gives you) and have them read the code on the terminal screen;
     a wrong number on file: cas terminals update SERIAL --contact …
  5. only if it matches: cas pairing approve REQUEST_ID --code CODE   (user with 2FA)
     if it does not: cas pairing reject REQUEST_ID — someone may be in the middle
     (several keys asking for one serial: cas pairing reject --serial SERIAL)
`;

const GLOBAL_OPTIONS = `Options:
  --url URL            admin channel (env CAS_URL; default wss://127.0.0.1:7777/admin)
  -u, --user NAME      operator name (env CAS_USER); the password is read from stdin
  --fingerprint SFP    pinned Server Certificate Fingerprint, hex or AB:CD:… (env CAS_FINGERPRINT)
  --data-dir DIR       read the SFP from DIR/tls/server.crt (on the server machine)
  --insecure           do not pin the server certificate (never over a network)
  --totp CODE          2FA code; prompted on a terminal when the server asks for it
  --json               print the result as JSON (lists: one array of every item, all pages,
                       but terminals list: an object with the counts beside the array;
                       watch: one JSON object per line)
  -h, --help           this help; "cas GROUP --help" for one group

The session cas login keeps is a file per server URL and user, owner-only, in
$CAS_SESSION_DIR (default ~/.config/cas): set it apart on a shared account.

A viewer account (pairing-server users add NAME --role viewer) runs the list, get
and status commands, watch, login, logout and totp; every command that changes
something fails with "error: forbidden: NAME is a viewer: …" (exit 1). cas login
says when the account is a viewer.
`;

function commandLine(c: CommandSpec): string {
  return `  cas ${c.name}${c.usage ? ` ${c.usage}` : ''}\n      ${c.summary}`;
}

export function globalHelp(): string {
  return `Usage: cas [options] <group> <command> [args]

Operator CLI for the terminal pairing server (admin channel over WSS).

Commands:
${COMMANDS.map(commandLine).join('\n')}

${GLOBAL_OPTIONS}
${WORKFLOW}
Get the SFP on the server: npx pairing-server fingerprint --data-dir DIR
Exit codes: 0 ok, 1 error (printed as "error: <code>: <message>"), 2 usage.
`;
}

export function groupHelp(group: string): string {
  const commands = COMMANDS.filter((c) => c.group === group);
  const showWorkflow = group === 'terminals' || group === 'pairing' || group === 'watch';
  return `Usage:\n${commands.map(commandLine).join('\n')}\n\n${showWorkflow ? `${WORKFLOW}\n` : ''}Global options: cas --help\n`;
}
