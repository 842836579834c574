/** @module The VPN's records in the server's LMDB environment: settings, every certificate issued (with its revocation) and each terminal's current configuration. */
import type { Database } from 'lmdb';
import { compositeKey, type Store } from '../store/store.js';
import type { RevocationReason } from './vpn-crl.js';
import type { VpnProto, VpnSettingsRecord } from './vpn-settings.js';

/** One issued terminal certificate; kept after revocation, the CRL is built from these. */
export interface VpnCertRecord {
  /** Upper-case hex. */
  serialHex: string;
  terminalSerial: string;
  /** The pinned TFP whose public key this certificate certifies. */
  tfp: string;
  der: Uint8Array;
  issuedAt: number;
  expiresAt: number;
  issuedBy: string;
  revokedAt: number | null;
  reason: RevocationReason | null;
}

/** What a terminal's profile was rendered with; the gate answer is rendered from this and the certificate. */
export interface VpnConfigRecord {
  terminalSerial: string;
  certSerialHex: string;
  host: string;
  port: number;
  proto: VpnProto;
  masterUrl: string;
  issuedAt: number;
  issuedBy: string;
}

const SETTINGS_KEY = 'settings';

/** Sub-databases opened from the shared root (no change to src/store/): each `vpn-` name is owned by src/vpn/. */
export class VpnStore {
  readonly settings: Database<VpnSettingsRecord, string>;
  /** (terminal serial, certificate serial) → certificate: a terminal's certificates are one prefix scan. */
  readonly certs: Database<VpnCertRecord, string>;
  /** terminal serial → its current configuration. */
  readonly configs: Database<VpnConfigRecord, string>;

  constructor(readonly store: Store) {
    this.settings = store.root.openDB<VpnSettingsRecord, string>({ name: 'vpn-settings' });
    this.certs = store.root.openDB<VpnCertRecord, string>({ name: 'vpn-certs' });
    this.configs = store.root.openDB<VpnConfigRecord, string>({ name: 'vpn-configs' });
  }

  readSettings(): VpnSettingsRecord | undefined {
    return this.settings.get(SETTINGS_KEY);
  }

  writeSettings(record: VpnSettingsRecord): Promise<boolean> {
    return this.settings.put(SETTINGS_KEY, record);
  }

  certsOf(terminalSerial: string): VpnCertRecord[] {
    return [...this.store.withPrefix(this.certs, terminalSerial)].map(({ value }) => value);
  }

  revoked(): VpnCertRecord[] {
    return [...this.certs.getRange().filter(({ value }) => value.revokedAt !== null).map(({ value }) => value)];
  }

  /**
   * Revokes the terminal's certificates not revoked yet, except those for `keepTfp` (null: all of them, and its
   * configuration goes too); returns their serials. Inside `atomically`: an unpair or a new pin revokes in its own
   * transaction, so no crash between the two can leave a certificate valid for a key the server no longer trusts.
   * The CRL file is published after the commit (VpnService.publishCrl).
   */
  revokeSync(terminalSerial: string, now: number, reason: RevocationReason, keepTfp: string | null): string[] {
    const revoked = this.certsOf(terminalSerial).filter((cert) => cert.revokedAt === null && cert.tfp !== keepTfp);
    for (const cert of revoked) this.certs.putSync(compositeKey(cert.terminalSerial, cert.serialHex), { ...cert, revokedAt: now, reason });
    if (keepTfp === null) this.configs.removeSync(terminalSerial);
    return revoked.map((cert) => cert.serialHex);
  }

  /** One per store and thread: the sub-databases are opened once, whichever actor or service asks. */
  static of(store: Store): VpnStore {
    let vpn = perStore.get(store);
    if (!vpn) perStore.set(store, (vpn = new VpnStore(store)));
    return vpn;
  }
}

const perStore = new WeakMap<Store, VpnStore>();
