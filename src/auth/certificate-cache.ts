/** @module Parsed terminal certificates by (serial, TFP): a TFP is the hash of its certificate, so an entry can never go stale. */
import { parseCertificate, type ParsedCertificate } from '../crypto/certificates.js';
import { compositeKey, type Store } from '../store/store.js';

export class CertificateCache {
  private readonly parsed = new Map<string, ParsedCertificate>();

  constructor(private readonly store: Store, private readonly capacity = 20_000) {}

  /** The certificate the server holds for `serial` with fingerprint `tfp`, or null. */
  lookup(serial: string, tfp: string): ParsedCertificate | null {
    const key = compositeKey(serial, tfp);
    const hit = this.parsed.get(key);
    if (hit) return hit;
    const terminal = this.store.terminals.get(serial);
    const der = terminal?.tfp === tfp && terminal.certDer ? terminal.certDer : this.store.certs.get(key)?.der;
    if (!der) return null;
    const cert = parseCertificate(der);
    if (!cert.ok || cert.value.tfp !== tfp) return null;
    if (this.parsed.size >= this.capacity) {
      // Map iteration order is insertion order: dropping the first entry evicts the oldest.
      const oldest = this.parsed.keys().next().value;
      if (oldest !== undefined) this.parsed.delete(oldest);
    }
    this.parsed.set(key, cert.value);
    return cert.value;
  }
}
