/** @module The shapes stored in LMDB. Timestamps are epoch milliseconds; views for the wire live in src/protocol/types.ts. */
import type { PairingStage, PairingState } from '../protocol/types.js';

export interface TerminalRecord {
  serial: string;
  name: string;
  location: string;
  contact: string;
  vpn: boolean;
  createdAt: number;
  createdBy: string;
  /** The pinned Terminal Certificate Fingerprint; null while not paired. */
  tfp: string | null;
  /** DER of the pinned certificate: master verifies signatures with its key. */
  certDer: Uint8Array | null;
  pairedAt: number | null;
  pairedBy: string | null;
  /** Written only by stores from before the `last-seen` table (Store.lastSeenAt reads both); new records keep null. */
  lastSeenAt: number | null;
}

export interface PairingRecord {
  requestId: string;
  serial: string;
  tfp: string;
  remoteAddress: string;
  requestedAt: number;
  expiresAt: number;
  /** Stored state; `pending` past `expiresAt` reads as expired. */
  state: PairingState;
  stage: PairingStage;
  /** base64 SHA-256(terminalNonce), as the terminal committed it. */
  commitment: string;
  /** base64, drawn by the server after the commitment arrived. */
  serverNonce: string;
  /** Derived once the terminal revealed its nonce; shown to operators only. */
  code: string | null;
  info: Record<string, unknown> | null;
  wrongCodeAttempts: number;
  decidedBy: string | null;
  decidedAt: number | null;
}

/** A certificate the server has seen for a serial (pinned or not): lets master tell `not_paired` from `unauthenticated`. */
export interface KnownCertRecord {
  der: Uint8Array;
  firstSeenAt: number;
}

export interface CashEventRecord {
  serial: string;
  eventId: string;
  currency: string;
  denomination: number;
  count: number;
  at: string;
  receivedAt: number;
  /**
   * The TFP of the key that signed it. Absent from events stored before this field (December 2026): their key is not
   * known, and a retry of one is taken as the same terminal's.
   */
  tfp?: string;
}

/** A pending request past its expiry reads as expired, whether or not a sweep has rewritten it yet. */
export function effectiveState(record: Pick<PairingRecord, 'state' | 'expiresAt'>, now: number): PairingState {
  return record.state === 'pending' && record.expiresAt <= now ? 'expired' : record.state;
}

export interface OperatorRecord {
  name: string;
  passwordHash: string;
  /** base32 TOTP secret, sealed with the store's field key (field-crypto.ts); null for a user without 2FA. */
  totpSecret: string | null;
  /** A secret shown for enrolment but not yet confirmed with a code. */
  pendingTotpSecret: string | null;
  /** Highest TOTP time step accepted so far: a code is accepted once. */
  lastTotpStep: number;
  createdAt: number;
  createdBy: string;
  /** When `users disable` locked the account out; null (or absent: records from before the field) while enabled. */
  disabledAt?: number | null;
  /**
   * The code an account without 2FA enrols with (admin/enrolment-code.ts); null or absent when there is none: the
   * account has 2FA, or an administrator has to issue one (`users reset-2fa NAME --no-2fa`).
   */
  enrolmentCode?: EnrolmentCodeRecord | null;
  /**
   * What the account may do (admin/operators.ts, roleOf): `operator`, everything its 2FA allows; `viewer`, look but not
   * change (op-spec.ts, OpSpec.changes). Absent in records from before the field: they are operators, as they were.
   */
  role?: OperatorRole;
}

/** The roles an operator account can have; `operator` is every account's from before roles. */
export const OPERATOR_ROLES = ['operator', 'viewer'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** What the store keeps of an enrolment code: its HMAC, until when it works, and how many wrong tries are left. */
export interface EnrolmentCodeRecord {
  hmac: string;
  expiresAt: number;
  triesLeft: number;
}

export interface SessionRecord {
  user: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

/**
 * An audit entry written ahead of its operator action (audit-intents.ts): the entry as it will read, but for its result,
 * and the process that runs the action.
 */
export interface AuditIntentRecord {
  at: number;
  user: string;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
  /** The server (one per data dir at a time) or a `pairing-server users` command. */
  by: 'server' | 'command';
  /** A random id of the process: a pid may belong to another process since, or to one in another container. */
  process: string;
  pid: number;
  /**
   * Set in the transaction of the action's own change (an actor's decision): the action took effect, although its
   * outcome never came back to be audited (its front thread exited, the server was killed). Absent: it may have.
   */
  tookEffect?: true;
}

export interface AuditRecord {
  seq: number;
  at: number;
  user: string;
  action: string;
  target: string | null;
  detail?: Record<string, unknown>;
  /** Hash of the entry before (64 zeros for the first): the log is a chain. */
  prevHash: string;
  /** SHA-256 over this entry's fields and prevHash (src/store/audit-chain.ts). */
  hash: string;
}

export interface UnknownSerialRecord {
  serial: string;
  tfp: string;
  remoteAddress: string;
  firstAttemptAt: number;
  lastAttemptAt: number;
  attempts: number;
}

export interface DepositRecord {
  coin: string;
  address: string;
  updatedAt: number;
  updatedBy: string;
}

export interface GateRecord {
  /** Epoch ms until which the gate listens; null or past → closed. */
  openUntil: number | null;
}
