/** @module The VPN for terminals (deployment scenario A): issues, revokes and renders terminal VPN configurations, keeps the settings, exports the OpenVPN server side. */
import { AppError, unwrap } from '../errors.js';
import type { Logger } from '../logger.js';
import { parseCertificate, pemOf } from '../crypto/certificates.js';
import { check } from '../protocol/schemas.js';
import type { TerminalRecord } from '../store/records.js';
import { compositeKey, type Store } from '../store/store.js';
import { VPN_FILES, VPN_SERVER_NAME, VpnAuthority } from './vpn-authority.js';
import { buildCrl, crlPem, type RevocationReason } from './vpn-crl.js';
import { renderClientProfile, renderServerConf } from './vpn-profile.js';
import {
  DEFAULT_VPN_SETTINGS, applyPatch, effectiveSettings, parseSubnet, vpnSetSchema, type VpnSettings,
} from './vpn-settings.js';
import { VpnStore, type VpnCertRecord, type VpnConfigRecord } from './vpn-store.js';

export interface VpnServiceOptions {
  store: Store;
  dataDir: string;
  /** The default VPN host: the host terminals already reach the server by. */
  publicHost: string;
  /** Master's port, known only once it listens (port 0 in tests). */
  masterPort(): number;
  log: Logger;
  now(): number;
}

/** The `vpn` object of the gate's trusted answer (PROTOCOL.md `"vpn":<config or null>`, docs/VPN.md). */
export interface VpnGateConfig {
  /** The .ovpn text without the terminal's private key. */
  profile: string;
  /** Master's address inside the tunnel. */
  masterUrl: string;
  /** Serial number of the terminal's VPN certificate, upper-case hex. */
  serial: string;
  expiresAt: string;
}

/** A terminal's current VPN configuration as operators see it. */
export interface VpnConfigView {
  serial: string;
  certSerial: string;
  host: string;
  port: number;
  proto: string;
  masterUrl: string;
  issuedAt: string;
  expiresAt: string;
}

export interface VpnExportFile {
  name: string;
  content: string;
  /** Private key material: written owner-only. */
  secret: boolean;
}

export interface VpnRevokedView {
  certSerial: string;
  serial: string;
  revokedAt: string;
  reason: RevocationReason;
}

/** The CRL is re-exported by the operator rather than fetched; a distant nextUpdate keeps a forgotten refresh from locking every terminal out. */
const CRL_VALIDITY_MS = 10 * 365 * 24 * 60 * 60 * 1000;
const CRL_BACKDATE_MS = 60 * 60 * 1000;

const iso = (ms: number): string => new Date(ms).toISOString();

export class VpnService {
  private readonly db: VpnStore;
  private cachedAuthority: VpnAuthority | null = null;

  constructor(private readonly opts: VpnServiceOptions) {
    this.db = VpnStore.of(opts.store);
  }

  settings(): VpnSettings {
    return effectiveSettings(this.db.readSettings() ?? DEFAULT_VPN_SETTINGS, { publicHost: this.opts.publicHost, masterPort: this.opts.masterPort() });
  }

  /** `vpn.get`: settings, and whether the CA exists yet (it is created on first use, not by looking). */
  status(): VpnSettings & { caCreated: boolean; caFingerprint: string | null } {
    const created = this.cachedAuthority !== null || VpnAuthority.exists(this.opts.dataDir);
    return { ...this.settings(), caCreated: created, caFingerprint: created ? this.authority().caFingerprint : null };
  }

  async updateSettings(args: unknown, user: string): Promise<VpnSettings> {
    const patch = check(vpnSetSchema, args);
    const next = applyPatch(this.db.readSettings() ?? DEFAULT_VPN_SETTINGS, patch, user, this.opts.now());
    await this.opts.store.durable(this.db.writeSettings(next));
    this.opts.log.info({ user, host: next.host, port: next.port, proto: next.proto, subnet: next.subnet }, 'VPN settings changed');
    return this.settings();
  }

  /**
   * Issues a VPN certificate for the public key of the terminal's pinned certificate and renders its
   * configuration with the current settings. Certificates of a key that is no longer pinned are revoked.
   */
  async issue(terminalSerial: string, user: string): Promise<VpnConfigView> {
    const { store, log } = this.opts;
    const terminal = this.pairedVpnTerminal(terminalSerial);
    const publicKey = unwrap(parseCertificate(terminal.certDer!)).publicKey;
    const settings = this.settings();
    const now = this.opts.now();
    const cert = this.authority().issueClient(terminalSerial, publicKey, new Date(now));
    const certRecord: VpnCertRecord = {
      serialHex: cert.serialHex, terminalSerial, tfp: terminal.tfp!, der: cert.der, issuedAt: now,
      expiresAt: cert.notAfter.getTime(), issuedBy: user, revokedAt: null, reason: null,
    };
    const config: VpnConfigRecord = {
      terminalSerial, certSerialHex: cert.serialHex, host: settings.host, port: settings.port, proto: settings.proto,
      masterUrl: settings.masterUrl, issuedAt: now, issuedBy: user,
    };
    const superseded = await store.atomically(() => {
      // MUST re-check inside the write transaction: an unpair committed meanwhile would otherwise leave a valid certificate behind.
      if (store.terminals.get(terminalSerial)?.tfp !== terminal.tfp) return null;
      const revoked = this.db.revokeSync(terminalSerial, now, 'superseded', terminal.tfp);
      this.db.certs.putSync(compositeKey(terminalSerial, cert.serialHex), certRecord);
      this.db.configs.putSync(terminalSerial, config);
      return revoked;
    });
    if (superseded === null) throw new AppError('invalid_state', `terminal ${terminalSerial} was unpaired meanwhile`);
    if (superseded.length > 0) this.publishCrl();
    log.info({ serial: terminalSerial, tfp: terminal.tfp, certSerial: cert.serialHex, user }, 'VPN certificate issued for the terminal key');
    return configView(config, certRecord);
  }

  /** The gate's `vpn` for a trusted terminal: null without VPN; issued on the spot if missing or no longer for the pinned key. */
  async gateConfig(terminal: TerminalRecord): Promise<VpnGateConfig | null> {
    if (!terminal.vpn || terminal.tfp === null) return null;
    let current = this.current(terminal);
    if (current === null) {
      await this.issue(terminal.serial, 'system');
      current = this.current(terminal);
      if (current === null) throw new AppError('internal_error', 'the VPN configuration could not be stored');
    }
    const { config, cert } = current;
    const authority = this.authority();
    const profile = renderClientProfile({
      terminalSerial: terminal.serial, host: config.host, port: config.port, proto: config.proto, serverName: VPN_SERVER_NAME,
      caCertPem: authority.caCertPem, clientCertPem: pemOf(cert.der, 'CERTIFICATE'), tlsCryptKey: authority.tlsCryptKey, masterUrl: config.masterUrl,
    });
    return { profile, masterUrl: config.masterUrl, serial: cert.serialHex, expiresAt: iso(cert.expiresAt) };
  }

  /** Re-issues and re-renders with the current settings, without re-pairing; the terminal fetches it on its next gate contact. */
  regenerate(terminalSerial: string, user: string): Promise<VpnConfigView> {
    return this.issue(terminalSerial, user);
  }

  crl(): { crl: string; revoked: VpnRevokedView[] } {
    const revoked = this.db.revoked();
    return {
      crl: this.crlPem(),
      revoked: revoked.map((r) => ({ certSerial: r.serialHex, serial: r.terminalSerial, revokedAt: iso(r.revokedAt!), reason: r.reason! })),
    };
  }

  /** Everything the operator's OpenVPN server needs; the CA key stays here. */
  exportBundle(): { files: VpnExportFile[]; settings: VpnSettings; caFingerprint: string } {
    const authority = this.authority();
    const settings = this.settings();
    const serverConf = renderServerConf({ port: settings.port, proto: settings.proto, subnet: parseSubnet(settings.subnet)! });
    const files: VpnExportFile[] = [
      { name: 'server.conf', content: serverConf, secret: false },
      { name: VPN_FILES.caCert, content: authority.caCertPem, secret: false },
      { name: VPN_FILES.serverCert, content: authority.serverCertPem, secret: false },
      { name: VPN_FILES.serverKey, content: authority.serverKeyPem(), secret: true },
      { name: VPN_FILES.tlsCrypt, content: authority.tlsCryptKey, secret: true },
      { name: VPN_FILES.crl, content: this.crlPem(), secret: false },
    ];
    return { files, settings, caFingerprint: authority.caFingerprint };
  }

  private current(terminal: TerminalRecord): { config: VpnConfigRecord; cert: VpnCertRecord } | null {
    const config = this.db.configs.get(terminal.serial);
    const cert = config && this.db.certs.get(compositeKey(terminal.serial, config.certSerialHex));
    if (!config || !cert || cert.revokedAt !== null || cert.tfp !== terminal.tfp) return null;
    return { config, cert };
  }

  private pairedVpnTerminal(terminalSerial: string): TerminalRecord {
    const terminal = this.opts.store.terminals.get(terminalSerial);
    if (!terminal) throw new AppError('not_found', `no terminal with serial ${terminalSerial}`);
    if (!terminal.vpn) throw new AppError('invalid_state', `terminal ${terminalSerial} was created without VPN`);
    if (terminal.tfp === null || terminal.certDer === null) throw new AppError('invalid_state', `terminal ${terminalSerial} is not paired`);
    return terminal;
  }

  private crlPem(): string {
    const authority = this.authority();
    const now = this.opts.now();
    const entries = this.db.revoked().map((r) => ({ serialHex: r.serialHex, revokedAt: new Date(r.revokedAt!), reason: r.reason! }));
    return crlPem(buildCrl({
      issuer: authority.issuerForCrl, entries, crlNumber: BigInt(now),
      thisUpdate: new Date(now - CRL_BACKDATE_MS), nextUpdate: new Date(now + CRL_VALIDITY_MS),
    }));
  }

  /**
   * Keeps `<dataDir>/vpn/crl.pem` current, for an OpenVPN server on this machine that points `crl-verify` at it:
   * after every revocation, and at start-up (a crash after a revocation's commit and before this write loses nothing
   * then). Never creates the CA: without one there is nothing to revoke.
   */
  publishCrl(): void {
    if (this.cachedAuthority === null && !VpnAuthority.exists(this.opts.dataDir)) return;
    try {
      this.authority().writeCrl(this.crlPem());
    } catch (err) {
      this.opts.log.error({ err }, 'writing the VPN CRL file failed; `cas vpn crl` still has it');
    }
  }

  private authority(): VpnAuthority {
    if (this.cachedAuthority === null) {
      this.cachedAuthority = VpnAuthority.open(this.opts.dataDir, new Date(this.opts.now()));
      // A new CA starts with an empty CRL file, so that `crl-verify <dataDir>/vpn/crl.pem` works from the start.
      if (!this.cachedAuthority.hasCrlFile()) this.publishCrl();
    }
    return this.cachedAuthority;
  }
}

function configView(config: VpnConfigRecord, cert: VpnCertRecord): VpnConfigView {
  return {
    serial: config.terminalSerial, certSerial: cert.serialHex, host: config.host, port: config.port, proto: config.proto,
    masterUrl: config.masterUrl, issuedAt: iso(config.issuedAt), expiresAt: iso(cert.expiresAt),
  };
}
