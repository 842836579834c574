/** @module Verifying keys of stored certificates by (serial, TFP): a TFP is the hash of its certificate, so an entry can never go stale. */
import { storedCertificateKey, type VerifyingKey } from '../crypto/stored-key.js';
import { compositeKey, type Store } from '../store/store.js';

export class CertificateCache {
  private readonly keys = new Map<string, VerifyingKey>();

  constructor(private readonly store: Store, private readonly capacity = 20_000) {}

  /** The key of the certificate the server holds for `serial` with fingerprint `tfp` (pinned or seen at the gate), or null. */
  lookup(serial: string, tfp: string): VerifyingKey | null {
    const id = compositeKey(serial, tfp);
    const hit = this.keys.get(id);
    if (hit) return hit;
    const terminal = this.store.terminals.get(serial);
    const der = terminal?.tfp === tfp && terminal.certDer ? terminal.certDer : this.store.certs.get(id)?.der;
    const key = der ? storedCertificateKey(der, tfp) : null;
    if (!key) return null;
    if (this.keys.size >= this.capacity) {
      // Map iteration order is insertion order: dropping the first entry evicts the oldest.
      const oldest = this.keys.keys().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
    this.keys.set(id, key);
    return key;
  }
}
