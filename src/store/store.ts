/** @module The LMDB store: typed sub-databases, durable writes, and the few multi-key operations (audit append, prefix scans). */
import fs from 'node:fs';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { auditHash, GENESIS_HASH } from './audit-chain.js';
import { loadOrCreateFieldKey } from './field-crypto.js';
import { NonceRing } from './nonce-ring.js';
import type {
  AuditRecord, CashEventRecord, DepositRecord, GateRecord, KnownCertRecord, OperatorRecord,
  PairingRecord, SessionRecord, TerminalRecord, UnknownSerialRecord,
} from './records.js';

/** Separator for composite string keys; serials and ids are validated to contain no control characters. */
const SEP = '\u0000';
const AFTER_SEP = '\u0001';

export const compositeKey = (...parts: string[]): string => parts.join(SEP);

/**
 * One LMDB environment at `<dataDir>/store`. Each process (and later each thread) opens the
 * same path itself rather than passing a handle; LMDB serialises writers across processes,
 * so the offline `users add` command can write while the server runs.
 */
export class Store {
  readonly root: RootDatabase;
  readonly terminals: Database<TerminalRecord, string>;
  readonly pairing: Database<PairingRecord, string>;
  /** (serial, tfp) → requestId of that fingerprint's current request. */
  readonly pairingIndex: Database<string, string>;
  /** (serial, tfp) → a certificate seen for that serial. */
  readonly certs: Database<KnownCertRecord, string>;
  /** (serial, eventId) → cash event. */
  readonly cashEvents: Database<CashEventRecord, string>;
  /** Used nonces, by the signed `created` of their request (nonce-ring.ts): the replay window outlives a restart. */
  readonly nonces: NonceRing;
  /** (serial, nonce) → expiry, as stores before the ring kept them: read once by `migrateNonces`, then emptied. */
  private readonly legacyNonces: Database<number, string>;
  /** serial → when master last heard from it, epoch ms: informational, written behind, kept apart from the trust record. */
  readonly lastSeen: Database<number, string>;
  readonly operators: Database<OperatorRecord, string>;
  /** SHA-256(token) → session: a copy of the store gives no usable token. */
  readonly sessions: Database<SessionRecord, string>;
  readonly audit: Database<AuditRecord, number>;
  readonly unknownSerials: Database<UnknownSerialRecord, string>;
  readonly deposits: Database<DepositRecord, string>;
  readonly settings: Database<GateRecord, string>;
  /** Key for secret fields at rest (field-crypto.ts). */
  readonly fieldKey: Buffer;

  private constructor(root: RootDatabase, fieldKey: Buffer) {
    this.root = root;
    this.fieldKey = fieldKey;
    const db = <V, K extends string | number = string>(name: string) => root.openDB<V, K>({ name });
    this.terminals = db('terminals');
    this.pairing = db('pairing');
    this.pairingIndex = db('pairing-index');
    this.certs = db('certs');
    this.cashEvents = db('cash-events');
    this.nonces = new NonceRing(root);
    this.legacyNonces = db('nonces');
    this.lastSeen = db('last-seen');
    this.operators = db('operators');
    this.sessions = db('sessions');
    this.audit = db<AuditRecord, number>('audit');
    this.unknownSerials = db('unknown-serials');
    this.deposits = db('deposits');
    this.settings = db('settings');
  }

  static open(dataDir: string): Store {
    const dir = path.join(dataDir, 'store');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const root = open({ path: dir, maxDbs: 64, compression: false });
    // lmdb creates its files with the process umask: tighten them, the store holds password hashes and TOTP secrets.
    for (const file of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, file), 0o600);
    return new Store(root, loadOrCreateFieldKey(dataDir));
  }

  /** Resolves once the write is committed AND flushed to disk: callers reply to a client only after this. */
  async durable<T>(write: Promise<T>): Promise<T> {
    const result = await write;
    await this.root.flushed;
    return result;
  }

  /** Runs `action` in one write transaction (atomic across sub-databases and processes), durable on resolve. */
  async atomically<T>(action: () => T): Promise<T> {
    return this.durable(this.root.transaction(action));
  }

  /**
   * Moves the live nonces of a store written before the nonce ring into it and empties the old table; returns how
   * many it moved. Run once at start-up, before any thread serves: an upgrade must not reopen replay windows. The
   * old table kept only the expiry, created + skew + 1: `created` is recovered with the skew configured now.
   */
  migrateNonces(nowSec: number, clockSkewSec: number): number {
    if (this.legacyNonces.getKeysCount({ limit: 1 }) === 0) return 0;
    let moved = 0;
    this.root.transactionSync(() => {
      for (const { key, value } of this.legacyNonces.getRange()) {
        if (value < nowSec) continue;
        const sep = key.indexOf(SEP);
        this.nonces.putSerialKeyedSync(key.slice(0, sep), key.slice(sep + 1), value - clockSkewSec - 1, value);
        moved++;
      }
      this.legacyNonces.clearSync();
    });
    return moved;
  }

  /** Values of the keys `(prefix, *)` in a composite-keyed database. */
  *withPrefix<V>(db: Database<V, string>, prefix: string): IterableIterator<{ key: string; value: V }> {
    for (const { key, value } of db.getRange({ start: prefix + SEP, end: prefix + AFTER_SEP })) {
      yield { key, value };
    }
  }

  /**
   * Appends to the audit log: next sequence number, chained to the last entry's hash. Nothing
   * updates or removes entries. The write lock makes this safe across processes.
   */
  async appendAudit(entry: Omit<AuditRecord, 'seq' | 'prevHash' | 'hash'>): Promise<AuditRecord> {
    return this.atomically(() => {
      let last: AuditRecord | undefined;
      for (const { value } of this.audit.getRange({ reverse: true, limit: 1 })) last = value;
      const content = { ...entry, seq: (last?.seq ?? 0) + 1, prevHash: last?.hash ?? GENESIS_HASH };
      const record: AuditRecord = { ...content, hash: auditHash(content) };
      this.audit.putSync(record.seq, record);
      return record;
    });
  }

  /** When master last heard from this terminal (stores from before the last-seen table kept it in the record). */
  lastSeenAt(terminal: TerminalRecord): number | null {
    return this.lastSeen.get(terminal.serial) ?? terminal.lastSeenAt;
  }

  /** How many terminals operators created: the B-tree's own entry count, no scan whatever the fleet. */
  terminalCount(): number {
    // lmdb-js types getStats() as {}; at run time it is mdb_stat's fields.
    return (this.terminals.getStats() as { entryCount: number }).entryCount;
  }

  lastAuditSeq(): number {
    for (const key of this.audit.getKeys({ reverse: true, limit: 1 })) return key;
    return 0;
  }

  listAudit(limit: number): AuditRecord[] {
    return [...this.audit.getRange({ reverse: true, limit }).map(({ value }) => value)];
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}
