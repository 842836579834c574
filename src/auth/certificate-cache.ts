/**
 * @module Verifying keys of stored certificates by (serial, TFP): a TFP is the hash of its certificate, so an entry can
 * never go stale. Entries of terminals that stopped calling leave, so that memory follows activity, not fleet size:
 * a parsed key holds 2-3 KB of OpenSSL's memory that V8 does not see (`KeyObject`), and up to the capacity per front
 * thread they were kept however long ago their terminals last called.
 */
import { storedCertificateKey, type VerifyingKey } from '../crypto/stored-key.js';
import { compositeKey, type Store } from '../store/store.js';

/** How often entries are looked over; an entry unused for IDLE_SWEEPS of them goes. */
export const CERTIFICATE_SWEEP_MS = 60_000;
/** Sweeps an entry may go unused: ten minutes, many times a terminal's usual call interval; a miss costs one parse. */
export const IDLE_SWEEPS = 10;

interface Entry {
  key: VerifyingKey;
  /** The sweep during which it was last used: a counter, so a hit reads no clock. */
  usedIn: number;
}

export class CertificateCache {
  private readonly entries = new Map<string, Entry>();
  private sweeps = 0;
  private readonly sweeper: NodeJS.Timeout | null;

  /**
   * `capacity` bounds the entries however many terminals call (a flood of them included); `sweepMs` null: no timer,
   * the owner calls `sweep` (tests).
   */
  constructor(private readonly store: Store, private readonly capacity = 20_000, sweepMs: number | null = CERTIFICATE_SWEEP_MS) {
    this.sweeper = sweepMs === null ? null : setInterval(() => this.sweep(), sweepMs);
    // The sweep must not keep a thread alive on shutdown.
    this.sweeper?.unref();
  }

  /** The key of the certificate the server holds for `serial` with fingerprint `tfp` (pinned or seen at the gate), or null. */
  lookup(serial: string, tfp: string): VerifyingKey | null {
    const id = compositeKey(serial, tfp);
    const hit = this.entries.get(id);
    if (hit) {
      hit.usedIn = this.sweeps;
      return hit.key;
    }
    const terminal = this.store.terminals.get(serial);
    const der = terminal?.tfp === tfp && terminal.certDer ? terminal.certDer : this.store.certs.get(id)?.der;
    const key = der ? storedCertificateKey(der, tfp) : null;
    if (!key) return null;
    if (this.entries.size >= this.capacity) {
      // Map iteration order is insertion order: dropping the first entry evicts the oldest.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(id, { key, usedIn: this.sweeps });
    return key;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Ends a sweep period: entries unused during the last IDLE_SWEEPS periods go. Returns how many went. */
  sweep(): number {
    this.sweeps++;
    const before = this.sweeps - IDLE_SWEEPS;
    let dropped = 0;
    for (const [id, entry] of this.entries) {
      if (entry.usedIn < before) {
        this.entries.delete(id);
        dropped++;
      }
    }
    return dropped;
  }

  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }
}
