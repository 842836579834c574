/** @module The `settings` sub-database: a few records of the whole server, one per key, each key with a type of its own. */
import type { Database, RootDatabase } from 'lmdb';
import type { IndexSeal } from './index-seal.js';
import type { GateRecord } from './records.js';
import type { SkewRecord } from './skew-history.js';

/** Every key of `settings` and the record it holds: a new setting is a line here, and nothing reads another's record as its own. */
export interface SettingsRecords {
  /** The gate's window (src/net/gate-window.ts). */
  gate: GateRecord;
  /** The skew of the last run and the windows of earlier ones (skew-history.ts). */
  'clock-skew': SkewRecord;
  /** Set once the awaiting-operator index was filled in this store (awaiting-operator.ts). */
  'pairing-awaiting-filled': { filledAt: number };
  /** The audit log's last entry the server went through for offline account changes (admin/offline-accounts.ts). */
  'audit-watched': { seq: number };
  /** The next server certificate announced to terminals, and since when (server/rollover.ts). */
  'next-identity': { sfp: string; announcedSince: number };
  /** Left by a clean stop of a server that keeps every index, removed at its next start (index-seal.ts). */
  'index-seal': IndexSeal;
}

export type SettingKey = keyof SettingsRecords;

export class Settings {
  private readonly db: Database<SettingsRecords[SettingKey], SettingKey>;

  constructor(root: RootDatabase) {
    this.db = root.openDB<SettingsRecords[SettingKey], SettingKey>({ name: 'settings' });
  }

  get<K extends SettingKey>(key: K): SettingsRecords[K] | undefined {
    return this.db.get(key) as SettingsRecords[K] | undefined;
  }

  put<K extends SettingKey>(key: K, value: SettingsRecords[K]): Promise<boolean> {
    return this.db.put(key, value);
  }

  remove(key: SettingKey): Promise<boolean> {
    return this.db.remove(key);
  }

  /** Inside a transaction (Store.atomically), or a write of its own. */
  putSync<K extends SettingKey>(key: K, value: SettingsRecords[K]): void {
    this.db.putSync(key, value);
  }

  /** Inside a transaction (Store.atomically), or a write of its own. */
  removeSync(key: SettingKey): void {
    this.db.removeSync(key);
  }
}
