/** @module The LMDB store: typed sub-databases, durable writes, and the few multi-key operations (audit append, prefix scans). */
import fs from 'node:fs';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { AppError } from '../errors.js';
import { auditHash, GENESIS_HASH, storable } from './audit-chain.js';
import { AuditTimes } from './audit-times.js';
import { causeOf, isCommitFailure, type WriteFailure } from './commit-failures.js';
import { entryCount } from './entry-count.js';
import { FreeSpaceWatch } from './free-space.js';
import { loadOrCreateFieldKey } from './field-crypto.js';
import { NonceRing } from './nonce-ring.js';
import { AwaitingOperator } from './awaiting-operator.js';
import { Settings } from './settings.js';
import { PairingTimeline } from './pairing-timeline.js';
import { TerminalSearch } from './terminal-search.js';
import { CashEventTimes, type CashEventTime } from './cash-event-times.js';
import { CashEventsBySerial } from './cash-events-by-serial.js';
import type {
  AuditIntentRecord, AuditRecord, CashEventRecord, DepositRecord, KnownCertRecord, OperatorRecord,
  PairingRecord, SessionRecord, TerminalRecord, UnknownSerialRecord,
} from './records.js';
import { AFTER_SEP, SEP, compositeKey, keyText } from './composite-key.js';

export { compositeKey, keyText } from './composite-key.js';

/**
 * A serial as operators and location contacts read it: `ATM-0001` and `atm-0001` are the same terminal to a person,
 * so the server holds at most one of them.
 */
export const foldSerial = (serial: string): string => serial.toUpperCase();

/** How long a client is asked to wait after a write the store could not make. */
export const STORAGE_RETRY_AFTER_SEC = 30;

/**
 * Address space the store is mapped into at open, not memory: pages are read in as they are used. lmdb-js otherwise
 * maps the file's size and, once a write goes past it, maps the file again twice as large and keeps the old map for
 * readers still on it, until the store closes. Every page read before is then counted twice in the server's RSS:
 * 1.3 GiB after an hour of a 100,000-terminal fleet where the store is 0.5 GB (bench/JOURNAL.md, session 41). Past this
 * size the store still grows the same way; below it, it is never mapped twice.
 */
const MAP_BYTES = 64 * 1024 ** 3;

/**
 * The map size to open the store with: MAP_BYTES, unless the process's address space is limited (`ulimit -v`,
 * systemd's LimitAS=), where a map past the limit fails inside lmdb-js and ends the process with a segmentation fault.
 * There, lmdb-js's own sizing (the file's size, growing as it does), as before MAP_BYTES.
 */
export function storeMapBytes(limits: string | null = readLimits()): number | undefined {
  const limit = limits === null ? null : /^Max address space\s+(\S+)/m.exec(limits)?.[1];
  return limit === undefined || limit === null || limit === 'unlimited' ? MAP_BYTES : undefined;
}

function readLimits(): string | null {
  try {
    return fs.readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null; // not Linux: no address-space limit that lmdb would meet
  }
}

/**
 * One LMDB environment at `<dataDir>/store`. Each process (and later each thread) opens the
 * same path itself rather than passing a handle; LMDB serialises writers across processes,
 * so the offline `users add` command can write while the server runs.
 */
export class Store {
  readonly root: RootDatabase;
  /** Written through putTerminalSync only, which keeps the search index with it. */
  readonly terminals: Database<TerminalRecord, string>;
  /** Written through putPairingSync / removePairingSync only, which keep its indexes with it. */
  readonly pairing: Database<PairingRecord, string>;
  /** (serial, tfp) → requestId of that fingerprint's current request. */
  readonly pairingIndex: Database<string, string>;
  /** Requests by when they were made: kept with `pairing` in the same transactions (pairing-timeline.ts). */
  readonly pairingTimeline: PairingTimeline;
  /** Requests waiting for an operator, kept with `pairing` in the same transactions (awaiting-operator.ts). */
  readonly awaitingOperator: AwaitingOperator;
  /** What operators search terminals by, kept with `terminals` in the same transactions (terminal-search.ts). */
  readonly terminalSearch: TerminalSearch;
  /** (serial, tfp) → a certificate seen for that serial. */
  readonly certs: Database<KnownCertRecord, string>;
  /**
   * (serial, eventId) → cash event. Written through putCashEventSync and removed through removeCashEventSync only, which
   * keep its indexes with it.
   */
  readonly cashEvents: Database<CashEventRecord, string>;
  /** Each terminal's cash events by when they were received, kept with `cashEvents` in the same transactions (cash-events-by-serial.ts). */
  readonly cashEventsBySerial: CashEventsBySerial;
  /**
   * Cash events by when they were received, kept with `cashEvents` in the same transactions while `--cash-event-days`
   * is set (cash-event-times.ts): a master that keeps them for ever writes two records an event (the event and its
   * place among its terminal's), not three.
   */
  readonly cashEventTimes: CashEventTimes;
  /** Used nonces, by the signed `created` of their request (nonce-ring.ts): the replay window outlives a restart. */
  readonly nonces: NonceRing;
  /** (serial, nonce) → expiry, as stores before the ring kept them: read once at start-up (store-upgrade.ts), then emptied. */
  readonly legacyNonces: Database<number, string>;
  /** serial → when master last heard from it, epoch ms: informational, written behind, kept apart from the trust record. */
  readonly lastSeen: Database<number, string>;
  readonly operators: Database<OperatorRecord, string>;
  /** SHA-256(token) → session: a copy of the store gives no usable token. */
  readonly sessions: Database<SessionRecord, string>;
  /** seq → entry. Written through appendAudit only, which keeps its time index with it. */
  readonly audit: Database<AuditRecord, number>;
  /** Audit entries by when they were made, kept with `audit` in the same transactions (audit-times.ts). */
  readonly auditTimes: AuditTimes;
  /** Audit entries written ahead of the action they record, until its entry is appended (audit-intents.ts). */
  readonly auditIntents: Database<AuditIntentRecord, string>;
  readonly unknownSerials: Database<UnknownSerialRecord, string>;
  readonly deposits: Database<DepositRecord, string>;
  readonly settings: Settings;
  /** A serial in upper case → the terminal's serial: serials that differ only in case are one terminal too many (`foldSerial`). */
  readonly foldedSerials: Database<string, string>;
  /** Key for secret fields at rest (field-crypto.ts). */
  readonly fieldKey: Buffer;

  private constructor(root: RootDatabase, fieldKey: Buffer, readonly space: FreeSpaceWatch | null, readonly indexesCashEventTimes: boolean) {
    this.root = root;
    this.fieldKey = fieldKey;
    const db = <V, K extends string | number = string>(name: string) => root.openDB<V, K>({ name });
    this.terminals = db('terminals');
    this.pairing = db('pairing');
    this.pairingIndex = db('pairing-index');
    this.pairingTimeline = new PairingTimeline(root);
    this.settings = new Settings(root);
    this.awaitingOperator = new AwaitingOperator(root, this.settings);
    this.terminalSearch = new TerminalSearch(root);
    this.certs = db('certs');
    this.cashEvents = db('cash-events');
    this.cashEventTimes = new CashEventTimes(root);
    this.cashEventsBySerial = new CashEventsBySerial(root);
    this.nonces = new NonceRing(root);
    this.legacyNonces = db('nonces');
    this.lastSeen = db('last-seen');
    this.operators = db('operators');
    this.sessions = db('sessions');
    this.audit = db<AuditRecord, number>('audit');
    this.auditTimes = new AuditTimes(root);
    this.auditIntents = db('audit-intents');
    this.unknownSerials = db('unknown-serials');
    this.deposits = db('deposits');
    this.foldedSerials = db('serials-folded');
  }

  /**
   * `minFreeBytes` > 0 watches the free space on the store's disk (free-space.ts): below it, roomToWrite() refuses the
   * writes a fleet drives, so that lmdb keeps room for operators' writes and never meets a full disk. `fieldKey: false`
   * neither reads nor creates secrets.key, for a command that opens no sealed field (`audit verify` on a backup, which
   * rightly lacks it): `fieldKey` is then empty, and sealing or opening a field with it throws. `cashEventTimes`: cash
   * events are written with their place in time (`--cash-event-days`); without it they cost master no third write.
   */
  static open(dataDir: string, opts: { minFreeBytes?: number; fieldKey?: boolean; cashEventTimes?: boolean } = {}): Store {
    const dir = path.join(dataDir, 'store');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const mapSize = storeMapBytes();
    const root = open({ path: dir, maxDbs: 64, compression: false, ...(mapSize === undefined ? {} : { mapSize }) });
    // lmdb creates its files with the process umask: tighten them, the store holds password hashes and TOTP secrets.
    for (const file of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, file), 0o600);
    const space = opts.minFreeBytes ? new FreeSpaceWatch(dir, opts.minFreeBytes) : null;
    const operators = root.openDB<OperatorRecord, string>({ name: 'operators' });
    const sealed = (): boolean => {
      for (const { value } of operators.getRange()) if (value.totpSecret !== null || value.pendingTotpSecret !== null) return true;
      return false;
    };
    try {
      return new Store(root, opts.fieldKey === false ? Buffer.alloc(0) : loadOrCreateFieldKey(dataDir, sealed), space, opts.cashEventTimes === true);
    } catch (error) {
      space?.close();
      void root.close();
      throw error;
    }
  }

  /**
   * Throws storage_unavailable while the store's disk has less free space than the minimum. Called before the writes
   * terminals drive (a cash event, an unknown serial, a batch of nonces); an operator's rare writes use the room left.
   */
  roomToWrite(): void {
    if (!this.space?.low) return;
    const minMiB = Math.round(this.space.minFreeBytes / 2 ** 20);
    throw new AppError('storage_unavailable', `the server's disk is almost full (under ${minMiB} MiB free); retry later`, { retryAfter: STORAGE_RETRY_AFTER_SEC });
  }

  /**
   * Told (at most every 10 s, with the count meanwhile) when an asynchronous write fails: the thread that opened the
   * store logs it. The writes themselves answer `storage_unavailable`.
   */
  onWriteFailure: ((failure: WriteFailure) => void) | null = null;
  private failuresUnreported = 0;
  /** Callers of flushed() still waiting: a failed write releases them all. */
  private readonly flushWaiters = new Set<() => void>();
  private lastFailureReportAt = -Infinity;

  /**
   * Resolves once the write is committed AND flushed to disk: callers reply to a client only after this. A write the
   * store could not make (a full disk) rejects with storage_unavailable (503, Retry-After): not stored, or, when a
   * later commit failed while this one was being flushed, stored whole. A retry is safe either way.
   */
  async durable<T>(write: Promise<T>): Promise<T> {
    try {
      const result = await write;
      await this.flushed();
      return result;
    } catch (err) {
      // A transaction's own errors (an AppError thrown by `atomically`'s action, say) are the caller's, not the disk's.
      throw isCommitFailure(err) ? await this.writeFailed(err) : err;
    }
  }

  /** For writes nobody waits for (written behind): takes the failure, reports its cause and resolves with it. */
  async settled(write: Promise<unknown>): Promise<AppError | null> {
    try {
      await write;
      return null;
    } catch (err) {
      if (isCommitFailure(err)) return this.writeFailed(err);
      return err instanceof AppError ? err : new AppError('internal_error', 'a write failed', undefined, { cause: err });
    }
  }

  /**
   * Resolves once what is committed is on disk. lmdb never settles the flush of a commit that failed, so a failure
   * seen meanwhile rejects this instead of leaving the caller (and an actor's mailbox behind it) waiting for good.
   */
  async flushed(): Promise<void> {
    let giveUp!: () => void;
    const failed = new Promise<boolean>((resolve) => (giveUp = () => resolve(false)));
    this.flushWaiters.add(giveUp);
    try {
      if (!(await Promise.race([Promise.resolve(this.root.flushed).then(() => true), failed]))) {
        throw new AppError('storage_unavailable', 'a commit failed while this write was being flushed', { retryAfter: STORAGE_RETRY_AFTER_SEC });
      }
    } finally {
      this.flushWaiters.delete(giveUp);
    }
  }

  private async writeFailed(err: Error & { commitError: Promise<unknown> }): Promise<AppError> {
    for (const giveUp of this.flushWaiters) giveUp();
    this.flushWaiters.clear();
    const cause = await causeOf(err);
    this.failuresUnreported++;
    const now = Date.now();
    if (now - this.lastFailureReportAt >= 10_000) {
      this.lastFailureReportAt = now;
      const failures = this.failuresUnreported;
      this.failuresUnreported = 0;
      this.onWriteFailure?.({ cause, failures });
    }
    return new AppError('storage_unavailable', 'the server cannot write to its store now; retry later', { retryAfter: STORAGE_RETRY_AFTER_SEC }, { cause });
  }

  /** Runs `action` in one write transaction (atomic across sub-databases and processes), durable on resolve. */
  async atomically<T>(action: () => T): Promise<T> {
    return this.durable(this.root.transaction(action));
  }

  /**
   * Writes a cash event, its place among its terminal's, and its place in time when it is kept (`indexesCashEventTimes`).
   * Inside `atomically`.
   */
  putCashEventSync(record: CashEventRecord): void {
    this.cashEvents.putSync(compositeKey(record.serial, record.eventId), record);
    this.cashEventsBySerial.putSync(record);
    if (this.indexesCashEventTimes) this.cashEventTimes.putSync(record);
  }

  /** Forgets a cash event and its place in both indexes (cash-event-retention.ts). Inside `atomically`. */
  removeCashEventSync(event: CashEventTime): void {
    this.cashEvents.removeSync(compositeKey(event.serial, event.eventId));
    this.cashEventsBySerial.removeSync(event);
    this.cashEventTimes.removeSync(event);
  }

  /** Writes a terminal and what operators search it by: every write of a terminal goes through here. Inside `atomically`. */
  putTerminalSync(record: TerminalRecord): void {
    this.terminals.putSync(record.serial, record);
    this.terminalSearch.putSync(record);
  }

  /**
   * Takes a terminal out: its record, search entry, case-folded serial, last-seen time, the certificates its keys
   * presented and their entries in `pairingIndex` (the requests stay, as history). Without the last, a serial created again kept pointing each key at
   * the request the delete rejected: the terminal got `pairing_rejected` for a whole pairing TTL. Inside `atomically`.
   */
  deleteTerminalSync(record: TerminalRecord): void {
    this.terminals.removeSync(record.serial);
    this.terminalSearch.removeSync(record.serial);
    this.foldedSerials.removeSync(foldSerial(record.serial));
    this.lastSeen.removeSync(record.serial);
    this.removeWithPrefixSync(this.pairingIndex, record.serial);
    // The certificates its keys presented: none of them is a key the server holds for a terminal of that serial any more.
    this.removeWithPrefixSync(this.certs, record.serial);
  }

  /** Removes every key of `db` under `prefix` (collected first: a range is not removed from while it is read). */
  private removeWithPrefixSync<V>(db: Database<V, string>, prefix: string): void {
    for (const key of [...this.withPrefix(db, prefix)].map((entry) => entry.key)) db.removeSync(key);
  }

  /**
   * Writes a pairing request, its place in the timeline (with the state listings filter by) and whether it waits for an
   * operator: every write of one goes through here, the first included. Inside `atomically`.
   */
  putPairingSync(record: PairingRecord): void {
    this.pairing.putSync(record.requestId, record);
    this.pairingTimeline.putSync(record);
    this.awaitingOperator.trackSync(record);
  }

  /**
   * Forgets a pairing request: its place in the timeline, in the requests waiting for an operator, and its certificate's
   * entry in `pairingIndex` when that still names it. Inside `atomically`.
   */
  removePairingSync(record: PairingRecord): void {
    const indexKey = compositeKey(record.serial, record.tfp);
    if (this.pairingIndex.get(indexKey) === record.requestId) this.pairingIndex.removeSync(indexKey);
    this.pairing.removeSync(record.requestId);
    this.pairingTimeline.removeSync(record);
    this.awaitingOperator.forgetSync(record);
  }

  /**
   * Removes a request that is gone for good (removePairingSync), and the certificate kept for it unless the terminal has
   * that key pinned or a later request of the same key holds it: a throwaway key per commit must not leave its
   * certificate (up to 12 KiB) in the store for ever. Returns whether the certificate went. Not for a request its own
   * certificate replaces (the certificate is the new request's). Inside `atomically`.
   */
  forgetPairingSync(record: PairingRecord): boolean {
    const certKey = compositeKey(record.serial, record.tfp);
    const latest = this.pairingIndex.get(certKey);
    const certNeeded = (latest !== undefined && latest !== record.requestId) || this.terminals.get(record.serial)?.tfp === record.tfp;
    this.removePairingSync(record);
    if (certNeeded || this.certs.get(certKey) === undefined) return false;
    this.certs.removeSync(certKey);
    return true;
  }

  /**
   * Values of the keys `(prefix, *)` in a composite-keyed database, in either of lmdb's encodings (`keyText`): both
   * begin with the prefix's own bytes, and from there to `prefix + \u0001` holds no key of a longer prefix, whose
   * next character (a serial's or id's) is above \u0001.
   */
  *withPrefix<V>(db: Database<V, string>, prefix: string): IterableIterator<{ key: string; value: V }> {
    for (const { key, value } of db.getRange({ start: prefix, end: prefix + AFTER_SEP })) {
      const text = keyText(key);
      if (text.startsWith(prefix + SEP)) yield { key: text, value };
    }
  }

  /**
   * Appends to the audit log: next sequence number, chained to the last entry's hash, and its place in time. Nothing
   * updates or removes entries. The write lock makes this safe across processes. `settles`: the intent written ahead of
   * this entry (audit-intents.ts), removed in the same transaction.
   */
  async appendAudit(entry: Omit<AuditRecord, 'seq' | 'prevHash' | 'hash'>, settles?: string | null): Promise<AuditRecord> {
    return this.atomically(() => this.appendAuditSync(entry, settles));
  }

  /** appendAudit inside a transaction of the caller's (an offline command's that keeps the seal, index-seal.ts). */
  appendAuditSync(entry: Omit<AuditRecord, 'seq' | 'prevHash' | 'hash'>, settles?: string | null): AuditRecord {
    if (settles) this.auditIntents.removeSync(settles);
    let last: AuditRecord | undefined;
    for (const { value } of this.audit.getRange({ reverse: true, limit: 1 })) last = value;
    // Hashed as it will read back (storable): the chain must verify from what the store holds.
    const content = storable({ ...entry, seq: (last?.seq ?? 0) + 1, prevHash: last?.hash ?? GENESIS_HASH });
    const record: AuditRecord = { ...content, hash: auditHash(content) };
    this.audit.putSync(record.seq, record);
    this.auditTimes.putSync(record);
    return record;
  }

  /**
   * Whether a sighting of `serial` at `at` is of the terminal the store holds under that serial now: one is there, and
   * was created by then. A time of a terminal deleted since, or of a namesake deleted before this one was created (a
   * batch the write-behind could only write after the delete, on a full disk), is not written (WriteBehind): it would
   * count the terminal created again as seen (rollover-count.ts).
   */
  seenAsCreated(serial: string, at: number): boolean {
    const terminal = this.terminals.get(serial);
    return terminal !== undefined && at >= terminal.createdAt;
  }

  /**
   * When master last heard from this terminal (stores from before the last-seen table kept it in the record). A time
   * from before the terminal was created is a deleted namesake's (written by a build before seenAsCreated, or by one
   * committed between that check and the delete): not this terminal's.
   */
  lastSeenAt(terminal: TerminalRecord): number | null {
    const seen = this.lastSeen.get(terminal.serial);
    return seen !== undefined && seen >= terminal.createdAt ? seen : terminal.lastSeenAt;
  }

  /** How many terminals operators created: the B-tree's own entry count, no scan whatever the fleet. */
  terminalCount(): number {
    return entryCount(this.terminals);
  }

  lastAuditSeq(): number {
    for (const key of this.audit.getKeys({ reverse: true, limit: 1 })) return key;
    return 0;
  }

  async close(): Promise<void> {
    this.space?.close();
    await this.root.close();
  }
}
