/** @module Human output of `cas`: compact tables, the pairing code in big digits, one line per pushed event. */
import { formatFingerprint, normalizeFingerprint } from '../crypto/fingerprint.js';
import type { AdminPush } from '../protocol/types.js';
import type { Renderer } from './cli-commands.js';
import type { ImportSummary } from './terminal-import.js';
import type { ExportProgress, ExportSummary } from './cash-export.js';

type Row = Record<string, unknown>;

/** Renders an op's result for people; shapes the table does not know are printed as JSON. */
export function renderResult(renderer: Renderer, result: unknown): string {
  switch (renderer) {
    case 'session': {
      const r = itemOf(result, 'session');
      // The end moves: every command renews the session (it ends after 8 h without one, and 12 h after the login).
      // A viewer is told at once, not at the first refusal.
      const viewer = r.role === 'viewer' ? ' (a viewer: you can look, not change anything)' : '';
      return r.user ? `logged in as ${text(r.user)}${viewer}; later cas commands reuse this session, and each one keeps it alive (it ends after 8 h without a command, now at ${time(r.expiresAt)}, and 12 h after this login at the latest)\n` : 'logged out\n';
    }
    case 'terminals':
      return table(listOf(result, 'terminals'), result, [
        ['SERIAL', (r) => r.serial], ['STATE', (r) => r.state], ['NAME', (r) => r.name],
        ['LOCATION', (r) => r.location], ['CONTACT', (r) => elided(r.contact, CONTACT_WIDTH)], ['TFP', (r) => shortFp(r.tfp)], ['LAST SEEN', (r) => time(r.lastSeenAt)],
      ]) + terminalCount(result);
    case 'terminal':
      return record(itemOf(result, 'terminal'), [
        ['serial', (r) => r.serial], ['state', (r) => r.state], ['name', (r) => r.name], ['location', (r) => r.location],
        ['contact', (r) => r.contact], ['vpn', (r) => r.vpn], ['TFP', (r) => fullFp(r.tfp)], ['paired at', (r) => time(r.pairedAt)],
        ['last seen', (r) => time(r.lastSeenAt)], ['created at', (r) => time(r.createdAt)],
      ]);
    case 'deleted':
      return `terminal ${text(itemOf(result, 'terminal').serial) || ''} deleted: the serial can be created again; its audit entries and cash events stay\n`;
    case 'unpaired': {
      const r = itemOf(result, 'terminal');
      return `terminal ${text(r.serial) || ''} unpaired: its TFP is forgotten, its next master call fails with not_paired\n`;
    }
    case 'pairings':
      return table(listOf(result, 'requests'), result, [
        ['REQUEST', (r) => r.requestId], ['SERIAL', (r) => r.serial], ['STATE', (r) => r.state], ['STAGE', (r) => r.stage],
        ['CODE', (r) => (r.state === 'pending' ? r.code : '')], ['TFP', (r) => shortFp(r.tfp)], ['FROM', (r) => r.remoteAddress], ['REQUESTED', (r) => time(r.requestedAt)],
        ['NOTE', (r) => (r.conflictsWithPaired === true ? 'serial already paired with another TFP!' : typeof r.otherKeysWaiting === 'number' && r.otherKeysWaiting > 0 ? 'another key asks for this serial too!' : '')],
      ]);
    case 'pairing':
      return pairingDetail(itemOf(result, 'request'));
    case 'decision': {
      if (isRow(result) && Array.isArray(result.rejected)) return serialRejection(result);
      const r = itemOf(result, 'request');
      return `pairing request ${text(r.requestId)} ${text(r.state) || 'done'}${r.serial ? ` (serial ${text(r.serial)})` : ''}\n`;
    }
    case 'deposits':
      return table(listOf(result, 'addresses'), result, [
        ['COIN', (r) => r.coin], ['ADDRESS', (r) => r.address], ['UPDATED', (r) => time(r.updatedAt)], ['BY', (r) => r.updatedBy],
      ]);
    case 'deposit': {
      const r = itemOf(result, 'address');
      // What it replaced, so that an operator sees at once whether someone else had changed it meanwhile.
      const replaced = typeof r.previous === 'string' ? ` (it was ${text(r.previous)})` : r.previous === null ? ' (there was none)' : '';
      return `deposit address for ${text(r.coin)} set to ${text(r.address)}${replaced}\n`;
    }
    case 'audit':
      return table(listOf(result, 'entries'), result, [
        // SEQ: what --before takes to page back from an entry.
        ['SEQ', (r) => r.seq], ['AT', (r) => time(r.at)], ['USER', (r) => r.user], ['ACTION', (r) => r.action], ['TARGET', (r) => r.target],
        // An action cut short: whether it took effect is what its reader needs first (audit-intents.ts).
        ['RESULT', (r) => (isRow(r.detail) ? (r.detail.tookEffect === true ? `${text(r.detail.result)} (took effect)` : r.detail.result) : '')],
      ]);
    case 'gate': {
      const r = itemOf(result, 'gate');
      if (r.open === undefined) return json(result);
      const until = r.openUntil ? ` until ${time(r.openUntil)}` : '';
      return r.open === true ? `gate open${until} (port ${text(r.port)})\n` : `gate closed (port ${text(r.port)} does not listen)\n`;
    }
    case 'unknown':
      return table(listOf(result, 'serials'), result, [
        ['SERIAL', (r) => r.serial], ['TFP', (r) => shortFp(r.tfp)], ['FROM', (r) => r.remoteAddress],
        ['LAST ATTEMPT', (r) => time(r.lastAttemptAt)], ['ATTEMPTS', (r) => r.attempts],
      ]);
    case 'enrolment': {
      const r = itemOf(result, 'enrolment');
      // Shown once, to the operator enrolling: it goes into their authenticator app, nowhere else.
      return `2FA secret: ${text(r.totpSecret)}\notpauth URI: ${text(r.otpauthUri)}\n` +
        'Add it to your authenticator app, then run: cas totp confirm CODE\n';
    }
    case 'enrolled': {
      const ended = itemOf(result, 'enrolled').sessionsEnded;
      // The operator's other sessions end with the enrolment (they never showed a code): a `cas watch` among them stops.
      const others = typeof ended === 'number' && ended > 0 ? `; your ${ended} other session${ended === 1 ? '' : 's'} ended` : '';
      return `2FA enrolled: from now on log in with --totp CODE; you may approve pairing requests and do the other ops that need 2FA${others}\n`;
    }
    case 'events':
      return '';
    case 'vpn':
      return record(itemOf(result, 'vpn'), [
        ['host', (r) => `${text(r.host)}${r.hostIsDefault === true ? ' (default: the server\'s public host)' : ''}`],
        ['port', (r) => r.port], ['proto', (r) => r.proto], ['subnet', (r) => r.subnet],
        ['master in tunnel', (r) => `${text(r.masterUrl)}${r.masterUrlIsDefault === true ? ' (default)' : ''}`],
        ['VPN CA', (r) => (r.caCreated === true ? fullFp(r.caFingerprint) : 'not created yet (on first VPN terminal or export)')],
        ['updated', (r) => (r.updatedAt ? `${time(r.updatedAt)} by ${text(r.updatedBy)}` : '')],
      ]);
    case 'vpn-config': {
      const r = itemOf(result, 'config');
      return `VPN configuration of ${text(r.serial)} issued: certificate ${text(r.certSerial)}, remote ${text(r.host)} ${text(r.port)} ${text(r.proto)}, ` +
        `master ${text(r.masterUrl)} in the tunnel, expires ${time(r.expiresAt)}\n` +
        'The terminal receives it on its next gate contact (terminal pair); no new pairing code is needed.\n';
    }
    case 'vpn-export': {
      const r = itemOf(result, 'bundle');
      const files = listOf(r.files, 'files') ?? [];
      return `OpenVPN server bundle written to ${text(r.out)}:\n${files.map((f) => `  ${text(f.mode)}  ${text(f.name)}`).join('\n')}\n` +
        `Start it: openvpn --cd ${text(r.out)} --config server.conf\n`;
    }
    case 'server':
      return serverStatus(itemOf(result, 'server'), result);
    case 'vpn-crl': {
      const r = itemOf(result, 'crl');
      return typeof r.crl === 'string' ? r.crl : json(result);
    }
    case 'import':
      return importSummary(result as ImportSummary);
    case 'cash-events':
      // `at` is the terminal's clock, RECEIVED the server's: the order is the server's, and a terminal's clock may be off.
      return table(listOf(result, 'events'), result, [
        ['TIME', (r) => time(r.at)], ['EVENT', (r) => r.eventId], ['CURRENCY', (r) => r.currency],
        ['DENOMINATION', (r) => r.denomination], ['COUNT', (r) => r.count], ['RECEIVED', (r) => time(r.receivedAt)],
      ]);
    case 'cash-export':
      return exportSummary(result as ExportSummary);
  }
}

const n = (count: number): string => count.toLocaleString('en');

/** Room for a number with its country code and a short name ("Front desk +44 20 7946 0958"); `terminals get` shows all of it. */
const CONTACT_WIDTH = 28;

/**
 * A value cut to `width` characters in its middle: a phone number's country code and its last digits both tell numbers
 * apart, and a name before it stays readable. Cut before escaping (text()), so that no escape is cut in two.
 */
function elided(value: unknown, width: number): string {
  if (typeof value !== 'string') return text(value);
  const chars = [...value];
  if (chars.length <= width) return text(value);
  const head = Math.ceil((width - 1) / 2);
  return `${text(chars.slice(0, head).join(''))}…${text(chars.slice(chars.length - (width - 1 - head)).join(''))}`;
}

/** What `pairing reject --serial` did: each request rejected with its key, or that none waited. */
function serialRejection(r: Row): string {
  const rejected = listOf(r.rejected, 'rejected') ?? [];
  if (rejected.length === 0) return `no pairing request for ${text(r.serial)} waits for an operator: nothing rejected\n`;
  const rows = rejected.map(requestLine);
  return `${rejected.length === 1 ? '1 pairing request' : `${n(rejected.length)} pairing requests`} for ${text(r.serial)} rejected:\n${rows.join('\n')}\n`;
}

/** One pairing request as `pairing reject --serial` names it, in its confirmation and in what it did: id, key, address. */
export function requestLine(r: { requestId?: unknown; tfp?: unknown; remoteAddress?: unknown }): string {
  return `  ${text(r.requestId)}  TFP ${fullFp(r.tfp)}  from ${text(r.remoteAddress)}`;
}

/** The line under the terminals table: how many the store holds and how many of them match, and how many are shown. */
function terminalCount(result: unknown): string {
  if (!isRow(result) || typeof result.total !== 'number' || typeof result.shown !== 'number') return '';
  const { total, matching, shown, more } = result;
  const all = `${n(total)} terminal${total === 1 ? '' : 's'}`;
  const counted = typeof matching !== 'number' ? `${all}, more than ${n(shown)} match` : matching === total ? all : `${n(matching)} of ${all} match`;
  return `${counted}; ${more === true ? `the first ${n(shown)}` : n(shown)} shown\n`;
}

/** How far an import got, for its progress line: rows answered, and how. */
export function importProgress(s: ImportSummary): string {
  return `${n(s.created + s.skipped + s.failed.length)} of ${n(s.total)}: ${n(s.created)} created, ${n(s.skipped)} skipped, ${n(s.failed.length)} failed`;
}

/** How far an export got, for its progress line. */
export function exportProgress(p: ExportProgress): string {
  return `${n(p.events)} cash events written${p.done ? '' : ' so far'}`;
}

/** What an export wrote, and of which range: a file of 0 events says so rather than looking like a failure. */
function exportSummary(s: ExportSummary): string {
  const range = [s.serial === null ? 'every terminal' : `terminal ${text(s.serial)}`, s.since === null ? null : `received from ${time(s.since)}`, s.until === null ? null : `before ${time(s.until)}`];
  return `${n(s.events)} cash events (${range.filter((part) => part !== null).join(', ')}) written to ${text(s.out)} as ${s.format}\n`;
}

/** What an import did: counts, each failed row with its line, and why it stopped if it did. */
function importSummary(s: ImportSummary): string {
  const lines = [`${n(s.created)} of ${n(s.total)} terminals created${s.skipped > 0 ? `, ${n(s.skipped)} already there (skipped)` : ''}${s.failed.length > 0 ? `, ${n(s.failed.length)} failed` : ''}`];
  for (const f of s.failed) lines.push(`  line ${f.line} ${text(f.serial)}: ${f.error}: ${text(f.message)}`);
  if (s.stoppedBy !== null) {
    lines.push(`stopped: ${s.stoppedBy.error}: ${text(s.stoppedBy.message)}; ${s.notSent} rows not sent. Put it right and run the same import again with --skip-existing: what was created is skipped`);
  } else if (s.failed.some((f) => f.error === 'already_exists')) {
    lines.push('a serial already there is not a failure with --skip-existing');
  }
  return `${lines.join('\n')}\n`;
}

/** One line for the process, then a row per front thread; `--json` has every field. */
function serverStatus(r: Row, raw: unknown): string {
  const threads = listOf(r.threads, 'threads');
  if (typeof r.uptimeSec !== 'number' || threads === null) return json(raw);
  const report = (t: Row): Row => (isRow(t.report) ? t.report : {});
  const counts = (c: unknown): string => (isRow(c) ? `${text(c.answered)}/${text(c.refused)}/${text(c.failed)}` : '');
  const head = `server up ${duration(r.uptimeSec)} (since ${time(r.startedAt)}), ${text(r.terminals)} terminals created${history(r.pairingHistory)}, ${memory(r)}${disk(r.disk)}\n`;
  return head + nextIdentity(r.nextIdentity, r.terminals, Date.parse(String(r.startedAt)) + r.uptimeSec * 1000) + table(threads, raw, [
    ['THREAD', (t) => t.thread], ['STATE', (t) => t.state], ['SINCE', (t) => time(t.startedAt)], ['RESTARTS', (t) => t.restarts],
    ['LEASES', (t) => t.leases], ['ACTORS', (t) => report(t).actors],
    ['BUSY', (t) => (typeof report(t).busy === 'number' ? `${Math.round((report(t).busy as number) * 100)}%` : '')],
    ['LAG', (t) => (typeof report(t).lagMaxMs === 'number' ? `${text(report(t).lagMaxMs)} ms` : '')],
    ['IN FLIGHT', (t) => inFlight(report(t).inFlight)],
    ['MASTER OK/REFUSED/FAILED', (t) => counts(report(t).master)], ['GATE OK/REFUSED/FAILED', (t) => counts(report(t).gate)],
    ['HANDED ON', (t) => report(t).handedOn], ['RECEIVED', (t) => report(t).received], ['HEAP', (t) => mib(report(t).heapUsedBytes)],
    ['ADDRESSES', (t) => report(t).trackedAddresses], ['KEYS', (t) => report(t).cachedKeys],
  ]);
}

/**
 * A certificate rollover under way (docs/ADMIN-OPS.md, "Replacing the server certificate"): who can follow the switch
 * among the paired terminals, for how long the fleet has had to call in (by the server's clock: `now` is when it
 * answered), and, for deciding when to promote, how many are left and where to find them. A server from before
 * `pairedTerminals` counted against every terminal created, and is read as it meant it.
 */
function nextIdentity(value: unknown, terminals: unknown, now: number): string {
  if (!isRow(value) || typeof value.sfp !== 'string') return '';
  const since = Date.parse(String(value.announcedSince));
  const age = Number.isFinite(now) && Number.isFinite(since) ? ` (for ${duration(Math.max(0, Math.floor((now - since) / 1000)))})` : '';
  const seen = typeof value.terminalsSeenSince === 'number' ? value.terminalsSeenSince : 0;
  const ofPaired = typeof value.pairedTerminals === 'number';
  const of = ofPaired ? value.pairedTerminals : terminals;
  const left = typeof of === 'number' ? of - seen : 0;
  const rest = left > 0
    ? `\n  the other ${left}${ofPaired ? '' : ', if paired,'} will need terminal pair --expect-sfp ${text(value.sfp)} after identity promote (cas terminals list --state paired: LAST SEEN before ${time(value.announcedSince)})`
    : '';
  return `next certificate SFP ${text(value.sfp)} announced since ${time(value.announcedSince)}${age}: ${text(value.terminalsSeenSince)} of ${text(of)} ${ofPaired ? 'paired ' : ''}terminals seen since follow the switch${rest}\n`;
}

/** How many pairing requests the store holds, and for how long it keeps them. */
function history(value: unknown): string {
  if (!isRow(value) || typeof value.requests !== 'number') return '';
  return `, ${text(value.requests)} pairing requests kept (${value.days === 0 ? 'for ever' : `${text(value.days)} days once over`})`;
}

/** The store's disk, when the server watches it: free space, and a warning while cash events are refused for lack of it. */
function disk(value: unknown): string {
  if (!isRow(value) || typeof value.freeBytes !== 'number') return '';
  const low = value.low === true ? ' — ALMOST FULL: cash events are refused until there is room' : '';
  return `, disk ${mib(value.freeBytes)} free (minimum ${mib(value.minFreeBytes)})${low}`;
}

function inFlight(value: unknown): string {
  return isRow(value) && typeof value.master === 'number' && typeof value.gate === 'number' ? String(value.master + value.gate) : '';
}

function duration(seconds: unknown): string {
  if (typeof seconds !== 'number') return '';
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3_600);
  const m = Math.floor((seconds % 3_600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${Math.floor(seconds % 60)}s` : `${Math.floor(seconds)}s`;
}

/**
 * RSS and, where the server can tell, how much of it is its own: the rest are pages of the store it maps whole, which
 * grow with every terminal read and are the kernel's to drop. An older server, or one not on Linux, gives RSS only.
 */
function memory(r: Row): string {
  const rss = `RSS ${mib(r.rssBytes)}`;
  if (typeof r.rssBytes !== 'number' || typeof r.rssFileBytes !== 'number') return rss;
  return `${rss} (own ${mib(r.rssBytes - r.rssFileBytes)}, mapped files ${mib(r.rssFileBytes)})`;
}

function mib(bytes: unknown): string {
  return typeof bytes === 'number' ? `${Math.round(bytes / 1024 / 1024)} MiB` : '';
}

/** Fields of a pushed event worth a glance; the rest is in --json. */
const PUSH_FIELDS = ['serial', 'requestId', 'state', 'decidedBy', 'stage', 'code', 'tfp', 'pairedTfp', 'waitingTfps', 'remoteAddress', 'user', 'by', 'action', 'result', 'open', 'openUntil', 'conflictsWithPaired', 'changed'];

/**
 * One line per pushed event: time, event name, then its (and its nested view's) fields as key=value; an event that
 * names `changed` fields (terminal.updated) shows their new values too.
 */
export function renderPush(push: AdminPush, now = new Date()): string {
  if (push.event === 'cash.recorded') return `${time(now.toISOString())} ${push.event} ${cashRecorded(push.data)}\n`;
  const flat: Row = {};
  for (const [key, value] of Object.entries(push.data)) {
    if (isRow(value)) Object.assign(flat, Object.fromEntries(Object.entries(value).filter(([k]) => !(k in flat))));
    else flat[key] = value;
  }
  const changed = Array.isArray(push.data.changed) ? push.data.changed.filter((k): k is string => typeof k === 'string' && !PUSH_FIELDS.includes(k)) : [];
  const fields = [...PUSH_FIELDS, ...changed].filter((k) => flat[k] !== undefined && flat[k] !== null && flat[k] !== false).map((k) => {
    const value = flat[k];
    const shown = k === 'tfp' || k === 'pairedTfp' ? fullFp(value) : Array.isArray(value) ? value.map(text).join(',') : text(value);
    // Quoted when a value has spaces, or is empty (a cleared field), so the line still splits on spaces.
    return `${k}=${shown === '' || /\s/.test(shown) ? JSON.stringify(shown) : shown}`;
  });
  return `${time(now.toISOString())} ${push.event}${fields.length ? ` ${fields.join(' ')}` : ''}\n`;
}

/** `count=12 terminals=2 serials=ATM-1:7,ATM-2:5`; of one terminal's subscription, `serial=ATM-1 count=7`. */
function cashRecorded(data: Row): string {
  if (typeof data.serial === 'string') return `serial=${text(data.serial)} count=${text(data.count)}`;
  const serials = isRow(data.serials) ? ` serials=${Object.entries(data.serials).map(([serial, n]) => `${text(serial)}:${text(n)}`).join(',')}` : '';
  return `count=${text(data.count)} terminals=${text(data.terminals)}${serials}`;
}

const BIG_DIGITS: Record<string, readonly string[]> = {
  '0': ['███', '█ █', '█ █', '█ █', '███'], '1': [' █ ', '██ ', ' █ ', ' █ ', '███'],
  '2': ['███', '  █', '███', '█  ', '███'], '3': ['███', '  █', '███', '  █', '███'],
  '4': ['█ █', '█ █', '███', '  █', '  █'], '5': ['███', '█  ', '███', '  █', '███'],
  '6': ['███', '█  ', '███', '█ █', '███'], '7': ['███', '  █', '  █', '  █', '  █'],
  '8': ['███', '█ █', '███', '█ █', '███'], '9': ['███', '█ █', '███', '  █', '███'],
};

/** The code as five rows of block digits, groups of three set apart, for reading over the phone. */
export function bigCode(code: string): string {
  const groups = code.split('-');
  const rows: string[] = [];
  for (let row = 0; row < 5; row++) {
    rows.push(groups.map((g) => [...g].map((d) => BIG_DIGITS[d]?.[row] ?? '   ').join(' ')).join('     ').trimEnd());
  }
  return `${rows.join('\n')}\n`;
}

function pairingDetail(r: Row): string {
  const head = record(r, [
    ['request', (x) => x.requestId], ['serial', (x) => x.serial], ['state', (x) => x.state], ['stage', (x) => x.stage],
    ['TFP', (x) => fullFp(x.tfp)], ['from', (x) => x.remoteAddress], ['requested', (x) => time(x.requestedAt)],
    ['expires', (x) => time(x.expiresAt)], ['info', (x) => (x.info ? JSON.stringify(x.info) : '')],
    ['decided by', (x) => x.decidedBy], ['decided at', (x) => time(x.decidedAt)],
  ]);
  const warn = r.conflictsWithPaired === true
    ? '\nWARNING: this serial is already paired with another TFP. Approve only if the terminal was replaced or reset.\n'
    : r.state === 'pending' && typeof r.otherKeysWaiting === 'number' && r.otherKeysWaiting > 0
      ? `\nWARNING: ${r.otherKeysWaiting === 1 ? 'another key asks' : `${r.otherKeysWaiting} other keys ask`} for this serial too. Only the code on the terminal screen tells which request is the terminal's.\n`
      : '';
  if (typeof r.code !== 'string') {
    return `${head}${warn}\ncode: not yet (the terminal has not revealed its nonce)\n`;
  }
  return `${head}${warn}\ncode: ${r.code}\n\n${bigCode(r.code)}\n` +
    'Approve only if the location contact reads exactly this code from the terminal screen.\n';
}

type Column = readonly [string, (r: Row) => unknown];

function table(rows: readonly Row[] | null, raw: unknown, columns: readonly Column[]): string {
  if (rows === null) return json(raw);
  if (rows.length === 0) return '(none)\n';
  const cells = rows.map((r) => columns.map(([, get]) => text(get(r))));
  const widths = columns.map(([title], i) => Math.max(title.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: readonly string[]): string => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return `${[line(columns.map(([title]) => title)), ...cells.map(line)].join('\n')}\n`;
}

function record(r: Row, fields: readonly Column[]): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  return fields.map(([label, get]) => `${`${label}:`.padEnd(width + 1)} ${text(get(r))}`.trimEnd()).join('\n') + '\n';
}

/** Lists come either bare or wrapped (`{terminals: [...]}`); null when the result holds no list. */
function listOf(result: unknown, key: string): Row[] | null {
  if (Array.isArray(result)) return result.filter(isRow);
  if (!isRow(result)) return null;
  const arrays = Object.values(result).filter(Array.isArray);
  const inner = Array.isArray(result[key]) ? result[key] : arrays.length === 1 ? arrays[0] : null;
  return Array.isArray(inner) ? inner.filter(isRow) : null;
}

function itemOf(result: unknown, key: string): Row {
  if (!isRow(result)) return {};
  const inner = result[key];
  return isRow(inner) ? inner : result;
}

function shortFp(value: unknown): string {
  const full = fullFp(value);
  return full.length === 95 ? `${full.slice(0, 11)}…${full.slice(-11)}` : full;
}

function fullFp(value: unknown): string {
  if (typeof value !== 'string') return '';
  return normalizeFingerprint(value) === null ? value : formatFingerprint(value);
}

/** A time as cas prints it (2026-12-07 01:46:18Z), from epoch ms or an ISO string; '' for anything else. */
export function time(value: unknown): string {
  if (typeof value === 'number') return time(new Date(value).toISOString());
  if (typeof value !== 'string') return '';
  return value.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

const UNSAFE_TEXT = /(?![\u200c\u200d])[\p{Cc}\p{Cf}\u2028\u2029]/gu;

/**
 * A value as one line of text. Control and invisible formatting characters are written as escapes: a name with ESC
 * sequences or a newline would otherwise recolour the operator's terminal or forge a row of the table, an override
 * reverse what follows it (`\u001b`, `\u000a`, `\u202e`), and a zero-width space or direction mark make `alice\u200b`
 * read as `alice`. The two joiners that emoji and Persian or Indic text are made with stay (U+200C, U+200D).
 */
function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value.replace(UNSAFE_TEXT, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function isRow(value: unknown): value is Row {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
