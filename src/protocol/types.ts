/** @module Wire and record types shared by the server, the terminal and the admin clients (PROTOCOL.md v1). */

/** RFC 9421 algorithm names the protocol accepts. */
export const SIGNATURE_ALGORITHMS = ['rsa-v1_5-sha256', 'rsa-pss-sha512', 'ecdsa-p256-sha256', 'ed25519'] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];

/** Key types a terminal may hold. */
export type KeyKind = 'rsa' | 'ec' | 'ed25519';

export type TerminalState = 'expected' | 'pending' | 'paired';
export type PairingState = 'pending' | 'approved' | 'rejected' | 'expired';
/** Where a pairing request is in the commit–reveal exchange: waiting for the reveal, or for an operator. */
export type PairingStage = 'reveal' | 'approval';

/** A terminal as operators see it (admin channel). */
export interface TerminalView {
  serial: string;
  name: string;
  location: string;
  contact: string;
  vpn: boolean;
  state: TerminalState;
  tfp: string | null;
  lastSeenAt: string | null;
  createdAt: string;
  pairedAt: string | null;
}

/**
 * `terminals.unpair`'s answer: the terminal as it is now (unpaired), and the TFP whose trust the unpair ended, as the
 * actor found it pinned when it ran (an approval of another key may have landed since the op arrived).
 */
export interface UnpairedTerminalView extends TerminalView {
  unpairedTfp: string;
}

/**
 * `terminals.delete`'s answer: the terminal as it was, and the requests its delete rejected (those still waiting, with
 * their code or not yet), each with its key. Its audit entry names those keys: the pairing history forgets them.
 */
export interface DeletedTerminalView extends TerminalView {
  rejectedRequests: { requestId: string; tfp: string }[];
}

/** What an operator may correct on a terminal after creating it (`terminals.update`); the rest is the pairing's. */
export const EDITABLE_TERMINAL_FIELDS = ['name', 'location', 'contact'] as const;
export type EditableTerminalField = (typeof EDITABLE_TERMINAL_FIELDS)[number];
/** The fields given to `terminals.update`: those left out stay as they are; '' clears one. */
export type TerminalEdit = Partial<Record<EditableTerminalField, string>>;

/**
 * `terminals.update`'s answer: the terminal as saved, and each field the edit named as the terminal's actor found it
 * before writing (another operator's edit may have landed since the op arrived): the audit entry's `from`.
 */
export interface UpdatedTerminalView extends TerminalView {
  previous: TerminalEdit;
}

/** A pairing request as operators see it (admin channel). */
export interface PairingView {
  requestId: string;
  serial: string;
  tfp: string;
  remoteAddress: string;
  requestedAt: string;
  expiresAt: string;
  state: PairingState;
  stage: PairingStage;
  /** "123-456-789-012"; null until the terminal has revealed its nonce. */
  code: string | null;
  info: Record<string, unknown> | null;
  /** True when the serial is already paired with another TFP (a second terminal claims it). */
  conflictsWithPaired: boolean;
  /** While it waits: requests of other TFPs for the same serial that wait for an operator too (0 when decided). */
  otherKeysWaiting: number;
  decidedBy: string | null;
  decidedAt: string | null;
}

export interface AuditEntry {
  seq: number;
  at: string;
  user: string;
  action: string;
  target: string | null;
  detail?: Record<string, unknown>;
  /** This entry's link in the tamper-evident chain. */
  hash: string;
}

export interface UnknownSerialView {
  serial: string;
  tfp: string;
  remoteAddress: string;
  lastAttemptAt: string;
  attempts: number;
}

/** A cash event as operators read it (`cash.list`, `cash.export`): `at` is the terminal's clock, `receivedAt` the server's. */
export interface CashEventView {
  serial: string;
  eventId: string;
  currency: string;
  denomination: number;
  count: number;
  at: string;
  receivedAt: string;
}

export interface DepositAddressView {
  coin: string;
  address: string;
  updatedAt: string;
  updatedBy: string;
}

/** `deposit.set`'s answer: the address as set, and the one its write replaced (null: the coin had none). */
export interface DepositSetView extends DepositAddressView {
  previous: string | null;
}

export interface GateStatus {
  open: boolean;
  openUntil: string | null;
  port: number;
}

/** Answers of one terminal-facing service on one thread since the thread started, by class of status. */
export interface ServiceCounts {
  /** 2xx */
  answered: number;
  /** 4xx: bad input, failed authentication, rate limits, unknown or unpaired terminals */
  refused: number;
  /** 5xx: 503 while a thread restarts or a lease moves, 500 for a fault (logged) */
  failed: number;
}

/** What a front thread reports of itself (server.status). */
export interface FrontReport {
  /** Terminal actors in memory: terminals active within the actor idle time, not the fleet. */
  actors: number;
  /** Requests admitted and not yet answered. */
  inFlight: { master: number; gate: number };
  master: ServiceCounts;
  gate: ServiceCounts;
  /** Calls that reached this thread's sockets for a serial another thread held, and were handed to it. */
  handedOn: number;
  /** Calls another thread handed to this one. */
  received: number;
  /** Share of the last few seconds the thread's event loop was busy (0–1): near 1, the thread is saturated. */
  busy: number;
  /**
   * Longest the thread's event loop was late in about the last minute, in ms: how long a call could have waited behind
   * one piece of work (a full GC, a blocked write) or behind the thread waiting for a CPU. A few ms when nothing held
   * it up; a lag shorter than 20 ms may go unseen.
   */
  lagMaxMs: number;
  heapUsedBytes: number;
  /** Addresses master's and the gate's per-address rate limits track: those heard from within a minute or so, not every address ever seen. */
  trackedAddresses: number;
  /** Terminals' public keys kept parsed for verifying their calls (auth/certificate-cache.ts): those that called within ten minutes or so. */
  cachedKeys: number;
}

/** One front thread as the supervising thread sees it. The report is null while the thread is not answering. */
export interface FrontThreadStatus {
  thread: number;
  state: 'running' | 'restarting' | 'not_responding';
  /** When the current incarnation of the thread started; null while it is down. */
  startedAt: string | null;
  /** Times this thread exited unexpectedly (each is followed by a restart). */
  restarts: number;
  /** Buckets of serials whose actors run on this thread (actors/serial-leases.ts). */
  leases: number;
  report: FrontReport | null;
}

export interface ServerStatus {
  startedAt: string;
  uptimeSec: number;
  /** Resident memory of the whole process: every thread shares it. */
  rssBytes: number;
  /**
   * Of rssBytes, pages of mapped files (the store, which is mapped whole, and the program): the kernel drops them under
   * memory pressure and reads them back. rssBytes less this is the process's own memory. Null where the system does
   * not say (not Linux).
   */
  rssFileBytes: number | null;
  /** Terminals operators created, paired or not. */
  terminals: number;
  /**
   * Pairing requests the store holds, in any state, and the days it keeps one once it is over (0: for ever). A count
   * that climbs while nobody pairs is someone filing requests at the open gate.
   */
  pairingHistory: { requests: number; days: number };
  /** Free space on the store's disk as of the last check (once a second); null with --min-free-disk 0. */
  disk: { freeBytes: number; minFreeBytes: number; low: boolean } | null;
  threads: FrontThreadStatus[];
  /** The next certificate gate and master announce to terminals; null when none is prepared (docs/ADMIN-OPS.md). */
  nextIdentity: NextIdentityStatus | null;
}

/** A certificate rollover under way: the next SFP, since when it is announced, and how many of the paired terminals have heard it. */
export interface NextIdentityStatus {
  sfp: string;
  announcedSince: string;
  /** Paired terminals seen (calls with their pinned key) since the announcement began: they follow the switch. */
  terminalsSeenSince: number;
  /** Paired terminals, as of the same count: those not seen since need `terminal pair --expect-sfp` after the promote. */
  pairedTerminals: number;
}

/** Gate answers (POST /api/v1/pairing). */
export type GateReply =
  | { status: 'trusted'; masterUrl: string; vpn: unknown }
  | { status: 'pending'; stage: 'reveal'; requestId: string; serverNonce: string; expiresAt: string }
  | { status: 'pending'; stage: 'approval'; requestId: string; expiresAt: string };

/** Admin channel frames. */
export interface AdminRequest {
  id: number;
  op: string;
  args?: Record<string, unknown>;
  /** true: the client sends this by itself (a refresh), not for the operator: the session is checked but not extended. */
  background?: boolean;
}
export type AdminReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string; message: string; retryAfter?: number; attemptsLeft?: number };
export interface AdminPush {
  event: string;
  data: Record<string, unknown>;
}

/** The longest an operator may open the gate for in one `gate.open`: a week, in minutes. */
export const GATE_MAX_MINUTES = 7 * 24 * 60;
/** How long `gate.open` opens the gate for when it names no `minutes`. */
export const GATE_DEFAULT_MINUTES = 60;

/** However busy, an operator's session ends this long after its login: the server's rule, which `cas` relies on too. */
export const SESSION_MAX_AGE_SEC = 12 * 3600;

export const ADMIN_TOPICS = ['pairing', 'terminals', 'cash'] as const;
export type AdminTopic = (typeof ADMIN_TOPICS)[number];

/** A terminal's HTTP request, copied out of the front end's request object (it is only valid synchronously). */
export interface TerminalRequest {
  method: string;
  path: string;
  /** Raw query string without the leading `?`; '' when there is none. */
  query: string;
  /** Lower-case header names; the last value wins. */
  headers: Readonly<Record<string, string>>;
  body: Buffer;
  remoteAddress: string;
}

/**
 * `request` with another body (and headers), built field by field: an object spread (`{ ...request, body }`) on
 * this hot path made a 350-byte to 1 KB object instead of 80 bytes, and a heap sample under fleet load found those
 * spreads behind most of what survived a scavenge.
 */
export function withBody(request: TerminalRequest, body: Buffer, headers = request.headers): TerminalRequest {
  return { method: request.method, path: request.path, query: request.query, headers, body, remoteAddress: request.remoteAddress };
}

/** What a service answers a terminal: status and a JSON body. */
export interface HttpReply {
  status: number;
  body: unknown;
  headers?: Readonly<Record<string, string>>;
}

/** Master's answers (PROTOCOL.md "Master"): what master-calls.ts sends, and what a terminal takes from it. */
export interface PingReply {
  serverTime: string;
}
export interface CashEventReply {
  accepted: true;
  duplicate: boolean;
}
export interface DepositAddressReply {
  coin: string;
  address: string;
}

/** The body of every refusal of the terminal services (PROTOCOL.md "Errors"). */
export interface ErrorBody {
  error: string;
  message: string;
}
