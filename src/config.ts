/** @module The only reader of process.env and command-line flags for the server; returns a frozen Config. */
import os from 'node:os';
import path from 'node:path';
import { SESSION_MAX_AGE_SEC } from './protocol/types.js';
import { MAX_CLOCK_SKEW_SEC } from './store/nonce-ring.js';
import { MAX_PAIRING_TTL_SEC } from './store/pairing-timeline.js';

export interface Config {
  readonly dataDir: string;
  /** Address the three services bind to. */
  readonly host: string;
  /** Host name terminals are told to use for master (the gate's `masterUrl`). */
  readonly publicHost: string;
  /** No --public-host given while binding to every address: publicHost fell back to 127.0.0.1, right only on this machine. */
  readonly publicHostIsLoopbackFallback: boolean;
  readonly gatePort: number;
  readonly masterPort: number;
  readonly adminPort: number;
  /** The Prometheus scrape endpoint (net/metrics-service.ts): null, off (the default); else its port and address. */
  readonly metricsPort: number | null;
  readonly metricsHost: string;
  /** Server key and certificate given by the operator (a licence shared by several servers); null → generated in the data dir. */
  readonly serverKeyFile: string | null;
  readonly serverCertFile: string | null;
  /**
   * The certificate PAIRING_SERVER_CERT names, whatever the flags say: the one a `serve` in this environment presents
   * unless told otherwise, which `identity prepare` must not take for the next (server/identity-cli.ts).
   */
  readonly environmentCertFile: string | null;
  /** Accepted distance between a signature's `created` and the server clock, seconds. */
  readonly clockSkewSec: number;
  readonly pairingTtlSec: number;
  /** Pairing requests made longer ago than this are forgotten once over (store/pairing-history.ts); 0: kept for ever. */
  readonly pairingHistoryDays: number;
  /** Cash events received longer ago than this are forgotten (store/cash-event-retention.ts); 0: kept for ever. */
  readonly cashEventDays: number;
  readonly gateMaxBodyBytes: number;
  readonly masterMaxBodyBytes: number;
  /** A terminal request's body must arrive within this many seconds of its head (net/arriving-bodies.ts). */
  readonly bodyDeadlineSec: number;
  readonly adminMaxMessageBytes: number;
  readonly sessionIdleSec: number;
  /** However busy, an operator logs in again this long after the last login. */
  readonly sessionMaxAgeSec: number;
  /** An admin connection without a session is closed this long after it opened or lost its session. */
  readonly adminLoginDeadlineSec: number;
  /** Admin connections per remote address (429 beyond), and without a session in all (the oldest is closed beyond). */
  readonly adminConnectionsPerAddress: number;
  readonly adminConnectionsWaiting: number;
  /** Wrong codes an approval may see before the request is rejected outright. */
  readonly maxCodeAttempts: number;
  /** Gate: pairing requests per second per remote address, and for all addresses together. */
  readonly gateRatePerAddress: number;
  readonly gateRateGlobal: number;
  /** Master: calls per second per remote address (fleets behind one NAT share an address: keep it generous). */
  readonly masterRatePerAddress: number;
  /** Requests being processed at once per service before answering 503. */
  readonly maxInFlight: number;
  /** Front-end threads serving gate and master on shared ports; each owns the actors of its share of the serials. */
  readonly threads: number;
  /** Idle time after which a terminal actor is evicted from memory. */
  readonly actorIdleMs: number;
  /** How often the server logs its threads' counts (the operators' server.status); 0: never. */
  readonly statusLogMs: number;
  /**
   * Each front logs the first REFUSALS_LOGGED_PER_WINDOW refused requests of a kind per window one by one and sums up
   * the rest at the window's end (net/refusal-log.ts); 0: every refusal gets its own line.
   */
  readonly refusalLogWindowMs: number;
  /** Below this much free space on the store's disk (MiB), cash events are refused (store/free-space.ts); 0: no check. */
  readonly minFreeDiskMiB: number;
  readonly logLevel: LogLevel;
  readonly logPretty: boolean;
  /**
   * `serve --new-identity`: make a new TLS key and certificate (a new SFP) although terminals have met the one the data
   * dir had. Without it a data dir whose tls/ is gone refuses to start (server/identity.ts).
   */
  readonly newIdentity: boolean;
  /**
   * PAIRING_TEST_HOOKS=1, for the suite only: SIGUSR2 crashes a front thread, or with `stallMs` blocks its event loop
   * that long (PAIRING_TEST_STALL_MS); `failedRestarts` restarts fail after their thread answered ready
   * (PAIRING_TEST_FAILED_RESTARTS); `crashOnDecision` crashes the thread that runs an operator's decision, before it
   * runs or after it committed, never answering (PAIRING_TEST_CRASH_ON_DECISION=before|after). null: no hooks, as in
   * production.
   */
  readonly testHooks: { stallMs: number; failedRestarts: number; crashOnDecision: 'before' | 'after' | null } | null;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULTS: Omit<Config, 'dataDir' | 'publicHost' | 'publicHostIsLoopbackFallback' | 'threads'> = Object.freeze({
  host: '0.0.0.0',
  gatePort: 7741,
  masterPort: 7743,
  adminPort: 7777,
  metricsPort: null,
  // A scrape endpoint is for the local agent or an internal network, never the internet: loopback unless told.
  metricsHost: '127.0.0.1',
  serverKeyFile: null,
  serverCertFile: null,
  environmentCertFile: null,
  clockSkewSec: 300,
  pairingTtlSec: 24 * 3600,
  pairingHistoryDays: 90,
  cashEventDays: 0,
  gateMaxBodyBytes: 4 * 1024,
  masterMaxBodyBytes: 16 * 1024,
  // A terminal's body is at most 16 KiB, and it comes with its head: 10 s allows a link at 2 KiB/s.
  bodyDeadlineSec: 10,
  adminMaxMessageBytes: 64 * 1024,
  sessionIdleSec: 8 * 3600,
  sessionMaxAgeSec: SESSION_MAX_AGE_SEC,
  // Generous: cas keeps its connection open while the operator types a TOTP code, and a login form may be left a while.
  adminLoginDeadlineSec: 300,
  adminConnectionsPerAddress: 50,
  adminConnectionsWaiting: 1_000,
  maxCodeAttempts: 5,
  gateRatePerAddress: 5,
  gateRateGlobal: 200,
  masterRatePerAddress: 2_000,
  maxInFlight: 4_096,
  actorIdleMs: 60_000,
  statusLogMs: 60_000,
  refusalLogWindowMs: 10_000,
  minFreeDiskMiB: 64,
  logLevel: 'info',
  logPretty: false,
  newIdentity: false,
  testHooks: null,
});

/** Flags shared by every server subcommand, in node:util parseArgs form. */
export const CONFIG_OPTIONS = {
  'data-dir': { type: 'string' },
  host: { type: 'string' },
  'public-host': { type: 'string' },
  'gate-port': { type: 'string' },
  'master-port': { type: 'string' },
  'admin-port': { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  'server-key': { type: 'string' },
  'server-cert': { type: 'string' },
  'clock-skew': { type: 'string' },
  'pairing-ttl': { type: 'string' },
  'pairing-history-days': { type: 'string' },
  'cash-event-days': { type: 'string' },
  'body-deadline': { type: 'string' },
  'actor-idle': { type: 'string' },
  'status-log': { type: 'string' },
  'refusal-log-window': { type: 'string' },
  'min-free-disk': { type: 'string' },
  'admin-login-deadline': { type: 'string' },
  'admin-conns-per-address': { type: 'string' },
  'admin-conns-waiting': { type: 'string' },
  threads: { type: 'string' },
  'gate-rate': { type: 'string' },
  'gate-global-rate': { type: 'string' },
  'master-rate': { type: 'string' },
  'log-level': { type: 'string' },
  'log-pretty': { type: 'boolean' },
  'new-identity': { type: 'boolean' },
} as const;

export type ConfigFlags = { [K in keyof typeof CONFIG_OPTIONS]?: (typeof CONFIG_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

export class ConfigError extends Error {}

/** An option's raw text and where it came from, so that a refusal names what the operator has to fix. */
interface Raw {
  text: string;
  from: string | null;
}

const origin = (raw: Raw): string => (raw.from === null ? '' : ` (from ${raw.from})`);

/**
 * Plain decimal digits only, surrounding blanks aside: Number() would also take '' (0), '0x1cfd', '1e3' and ' 0b1 ',
 * and a typo or a template quirk would then be a different port or a switched-off check rather than an error.
 */
function whole(raw: Raw): number | null {
  const text = raw.text.trim();
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

function port(name: string, raw: Raw | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = whole(raw);
  if (n === null || n > 65535) throw new ConfigError(`--${name} must be a port number 0..65535, got "${raw.text}"${origin(raw)}`);
  return n;
}

function wholeOrZero(name: string, raw: Raw | undefined, fallback: number, zeroMeans = 'never', unit = 'seconds'): number {
  if (raw === undefined) return fallback;
  const n = whole(raw);
  if (n === null) throw new ConfigError(`--${name} must be a whole number of ${unit} (0: ${zeroMeans}), got "${raw.text}"${origin(raw)}`);
  return n;
}

function positive(name: string, raw: Raw | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = whole(raw);
  if (n === null || n <= 0) throw new ConfigError(`--${name} must be a positive whole number, got "${raw.text}"${origin(raw)}`);
  return n;
}

/**
 * The replay window keeps nonces for 2 × skew; its store is sized for a bounded skew (nonce-ring.ts). Pending pairing
 * requests are listed from the last MAX_PAIRING_TTL_SEC of the timeline (pairing-timeline.ts).
 */
function atMost(max: number, name: string, n: number, raw: Raw | undefined): number {
  if (n > max) throw new ConfigError(`--${name} must be at most ${max} seconds, got ${n}${raw ? origin(raw) : ''}`);
  return n;
}

/** A mistyped level ("warning") is the operator's to fix, not a fault of the logger that would refuse it later. */
function logLevel(raw: Raw | undefined): LogLevel {
  if (raw === undefined) return DEFAULTS.logLevel;
  const level = raw.text.trim();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join('|')}, got "${raw.text}"${origin(raw)}`);
  return level as LogLevel;
}

/** A test hook's value: a mistyped one must fail the suite's start, not leave the test checking a thread that never crashes. */
function crashOnDecision(text: string | undefined): 'before' | 'after' | null {
  if (text === undefined || text === '') return null;
  if (text !== 'before' && text !== 'after') throw new ConfigError(`PAIRING_TEST_CRASH_ON_DECISION must be before or after, got "${text}"`);
  return text;
}

/**
 * A rejection holds for one pairing TTL after the decision, which may come up to one TTL after the request
 * (pairing-flow.ts): history kept for less than two TTLs would forget a rejection while it still holds.
 */
function historyDays(raw: Raw | undefined, pairingTtlSec: number): number {
  const days = wholeOrZero('pairing-history-days', raw, DEFAULTS.pairingHistoryDays, 'kept for ever', 'days');
  const minDays = Math.ceil((2 * pairingTtlSec) / 86_400);
  if (days !== 0 && days < minDays) {
    throw new ConfigError(`--pairing-history-days must be at least ${minDays} with a pairing TTL of ${pairingTtlSec} s (a rejection holds for one TTL after a decision made up to one TTL after the request), or 0 to keep the history for ever; got ${days}${raw ? origin(raw) : ''}`);
  }
  return days;
}

/**
 * `--metrics-port` turns the scrape endpoint on. Refused: a port another service uses (the gate's would fail only when
 * an operator opens the gate, hours later; and uWS binds with SO_REUSEPORT, which may let two of its sockets share a
 * port), and `--metrics-host` alone, which would leave an operator believing metrics are served when nothing listens.
 */
function metricsListener(portRaw: Raw | undefined, hostRaw: Raw | undefined, services: { gatePort: number; masterPort: number; adminPort: number }): { metricsPort: number | null; metricsHost: string } {
  if (portRaw === undefined) {
    if (hostRaw !== undefined) throw new ConfigError(`--metrics-host${origin(hostRaw)} needs --metrics-port: the metrics endpoint is off without it`);
    return { metricsPort: null, metricsHost: DEFAULTS.metricsHost };
  }
  const metricsPort = port('metrics-port', portRaw, 0);
  const taken = ([['gate', services.gatePort], ['master', services.masterPort], ['admin', services.adminPort]] as const).find(([, p]) => p === metricsPort && p !== 0);
  if (taken) throw new ConfigError(`--metrics-port ${metricsPort}${origin(portRaw)} is the --${taken[0]}-port too: the metrics endpoint needs a port of its own`);
  return { metricsPort, metricsHost: hostRaw?.text.trim() ?? DEFAULTS.metricsHost };
}

/**
 * Flags win over environment variables (PAIRING_*), which win over defaults. An empty (or blank) variable counts as
 * unset: `Environment=PAIRING_MASTER_PORT=` in a unit file or `${VAR}` left empty in a template means "not
 * configured", and each default is what the server runs with when the variable is absent altogether. Taken as given,
 * '' was port 0 (a random port), 0 MiB (no free-space check), the working directory as data dir, and '' as host
 * (terminals told `https://:PORT`). An empty flag is refused instead: it was typed on purpose, and is a mistake.
 */
export function loadConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv = process.env): Config {
  const fromEnv = (envName: string): string | undefined => {
    const v = env[envName];
    return v === undefined || v.trim() === '' ? undefined : v;
  };
  const raw = (flag: keyof ConfigFlags, envName: string): Raw | undefined => {
    const v = flags[flag];
    if (typeof v === 'string') {
      if (v.trim() === '') throw new ConfigError(`--${flag} needs a value, got an empty one`);
      return { text: v, from: null };
    }
    const e = fromEnv(envName);
    return e === undefined ? undefined : { text: e, from: envName };
  };
  const pick = (flag: keyof ConfigFlags, envName: string): string | undefined => raw(flag, envName)?.text;
  const host = pick('host', 'PAIRING_HOST') ?? DEFAULTS.host;
  const wildcard = host === '0.0.0.0' || host === '::';
  const serverKeyFile = pick('server-key', 'PAIRING_SERVER_KEY') ?? null;
  const serverCertFile = pick('server-cert', 'PAIRING_SERVER_CERT') ?? null;
  const environmentCertFile = fromEnv('PAIRING_SERVER_CERT');
  if ((serverKeyFile === null) !== (serverCertFile === null)) {
    throw new ConfigError('--server-key and --server-cert go together: give both or neither');
  }
  const publicHost = pick('public-host', 'PAIRING_PUBLIC_HOST');
  const ttlRaw = raw('pairing-ttl', 'PAIRING_TTL');
  const pairingTtlSec = atMost(MAX_PAIRING_TTL_SEC, 'pairing-ttl', positive('pairing-ttl', ttlRaw, DEFAULTS.pairingTtlSec), ttlRaw);
  const skewRaw = raw('clock-skew', 'PAIRING_CLOCK_SKEW');
  const pairingHistoryDays = historyDays(raw('pairing-history-days', 'PAIRING_HISTORY_DAYS'), pairingTtlSec);
  const ports = {
    gatePort: port('gate-port', raw('gate-port', 'PAIRING_GATE_PORT'), DEFAULTS.gatePort),
    masterPort: port('master-port', raw('master-port', 'PAIRING_MASTER_PORT'), DEFAULTS.masterPort),
    adminPort: port('admin-port', raw('admin-port', 'PAIRING_ADMIN_PORT'), DEFAULTS.adminPort),
  };
  const prettyEnv = fromEnv('PAIRING_LOG_PRETTY');
  const pretty = flags['log-pretty'] ?? (prettyEnv === '1' || (prettyEnv === undefined && process.stdout.isTTY === true));
  return Object.freeze({
    ...DEFAULTS,
    dataDir: path.resolve(pick('data-dir', 'PAIRING_DATA_DIR') ?? './data'),
    host,
    // A wildcard is no address to hand out; loopback keeps `npm start` working on one machine (main.ts warns).
    publicHost: publicHost ?? (wildcard ? '127.0.0.1' : host),
    publicHostIsLoopbackFallback: publicHost === undefined && wildcard,
    ...ports,
    ...metricsListener(raw('metrics-port', 'PAIRING_METRICS_PORT'), raw('metrics-host', 'PAIRING_METRICS_HOST'), ports),
    serverKeyFile: serverKeyFile && path.resolve(serverKeyFile),
    serverCertFile: serverCertFile && path.resolve(serverCertFile),
    environmentCertFile: environmentCertFile === undefined ? null : path.resolve(environmentCertFile),
    clockSkewSec: atMost(MAX_CLOCK_SKEW_SEC, 'clock-skew', positive('clock-skew', skewRaw, DEFAULTS.clockSkewSec), skewRaw),
    pairingTtlSec,
    pairingHistoryDays,
    cashEventDays: wholeOrZero('cash-event-days', raw('cash-event-days', 'PAIRING_CASH_EVENT_DAYS'), DEFAULTS.cashEventDays, 'kept for ever', 'days'),
    bodyDeadlineSec: positive('body-deadline', raw('body-deadline', 'PAIRING_BODY_DEADLINE'), DEFAULTS.bodyDeadlineSec),
    actorIdleMs: 1000 * positive('actor-idle', raw('actor-idle', 'PAIRING_ACTOR_IDLE'), DEFAULTS.actorIdleMs / 1000),
    statusLogMs: 1000 * wholeOrZero('status-log', raw('status-log', 'PAIRING_STATUS_LOG'), DEFAULTS.statusLogMs / 1000),
    refusalLogWindowMs: 1000 * wholeOrZero('refusal-log-window', raw('refusal-log-window', 'PAIRING_REFUSAL_LOG_WINDOW'), DEFAULTS.refusalLogWindowMs / 1000, 'a line for every refusal'),
    minFreeDiskMiB: wholeOrZero('min-free-disk', raw('min-free-disk', 'PAIRING_MIN_FREE_DISK'), DEFAULTS.minFreeDiskMiB, 'no check', 'MiB'),
    adminLoginDeadlineSec: positive('admin-login-deadline', raw('admin-login-deadline', 'PAIRING_ADMIN_LOGIN_DEADLINE'), DEFAULTS.adminLoginDeadlineSec),
    adminConnectionsPerAddress: positive('admin-conns-per-address', raw('admin-conns-per-address', 'PAIRING_ADMIN_CONNS_PER_ADDRESS'), DEFAULTS.adminConnectionsPerAddress),
    adminConnectionsWaiting: positive('admin-conns-waiting', raw('admin-conns-waiting', 'PAIRING_ADMIN_CONNS_WAITING'), DEFAULTS.adminConnectionsWaiting),
    threads: positive('threads', raw('threads', 'PAIRING_THREADS'), os.availableParallelism()),
    gateRatePerAddress: positive('gate-rate', raw('gate-rate', 'PAIRING_GATE_RATE'), DEFAULTS.gateRatePerAddress),
    gateRateGlobal: positive('gate-global-rate', raw('gate-global-rate', 'PAIRING_GATE_GLOBAL_RATE'), DEFAULTS.gateRateGlobal),
    masterRatePerAddress: positive('master-rate', raw('master-rate', 'PAIRING_MASTER_RATE'), DEFAULTS.masterRatePerAddress),
    logLevel: logLevel(raw('log-level', 'PAIRING_LOG_LEVEL')),
    logPretty: pretty,
    newIdentity: flags['new-identity'] === true,
    testHooks: fromEnv('PAIRING_TEST_HOOKS') === '1'
      ? {
        stallMs: Number(fromEnv('PAIRING_TEST_STALL_MS') ?? 0), failedRestarts: Number(fromEnv('PAIRING_TEST_FAILED_RESTARTS') ?? 0),
        crashOnDecision: crashOnDecision(fromEnv('PAIRING_TEST_CRASH_ON_DECISION')),
      }
      : null,
  });
}

/**
 * How a serving process opens the store (main.ts and every front thread): they MUST agree, or a thread would store
 * cash events without their place in the time index the others keep (`--cash-event-days`).
 */
export function servingStoreOptions(config: Config): { minFreeBytes: number; cashEventTimes: boolean } {
  return { minFreeBytes: config.minFreeDiskMiB * 2 ** 20, cashEventTimes: config.cashEventDays > 0 };
}
