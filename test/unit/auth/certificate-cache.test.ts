/**
 * @module Unit tests: the verifying-key cache keeps a terminal's parsed key while it calls and lets it go once it has
 * stopped calling for IDLE_SWEEPS sweeps, so that memory follows activity; its capacity bounds it whatever calls. Real
 * LMDB store, real certificates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateCache, IDLE_SWEEPS } from '../../../src/auth/certificate-cache.js';
import { createSelfSignedCertificate, generateKeyPair, parseCertificate } from '../../../src/crypto/certificates.js';
import { openTempStore, terminalRecord, type TempStore } from '../../helpers/actor-store.js';

let temp: TempStore;
const terminals: { serial: string; tfp: string }[] = [];

beforeAll(async () => {
  temp = openTempStore('certificate-cache-test');
  const { store } = temp;
  const keys = generateKeyPair('ec');
  for (const serial of ['CC-1', 'CC-2', 'CC-3']) {
    const { der } = createSelfSignedCertificate({ privateKeyPem: keys.privateKeyPem, commonName: serial });
    const cert = parseCertificate(der);
    if (!cert.ok) throw new Error(cert.message);
    await store.atomically(() => store.putTerminalSync(terminalRecord(serial, { tfp: cert.value.tfp, certDer: der, pairedAt: 0, pairedBy: 'alice' })));
    terminals.push({ serial, tfp: cert.value.tfp });
  }
});

afterAll(() => temp.close());

describe('the certificate cache', () => {
  it('keeps the key of a terminal that calls, and lets go of one that stopped calling', () => {
    const cache = new CertificateCache(temp.store, 100, null);
    const [calling, quiet] = terminals as [typeof terminals[0], typeof terminals[0]];
    const first = cache.lookup(calling.serial, calling.tfp);
    expect(first?.tfp).toBe(calling.tfp);
    expect(cache.lookup(quiet.serial, quiet.tfp)?.tfp).toBe(quiet.tfp);
    for (let i = 0; i < IDLE_SWEEPS; i++) {
      expect(cache.lookup(calling.serial, calling.tfp)).toBe(first);
      expect(cache.sweep()).toBe(0);
    }
    // Unused for IDLE_SWEEPS whole periods now: this sweep drops it, and only it.
    expect(cache.sweep()).toBe(1);
    expect(cache.size).toBe(1);
    expect(cache.lookup(calling.serial, calling.tfp)).toBe(first);
    // Asked again, it is parsed again from the store: the same key.
    expect(cache.lookup(quiet.serial, quiet.tfp)?.tfp).toBe(quiet.tfp);
    expect(cache.size).toBe(2);
  });

  it('holds no more than its capacity, dropping the oldest', () => {
    const cache = new CertificateCache(temp.store, 2, null);
    for (const t of terminals) expect(cache.lookup(t.serial, t.tfp)).not.toBeNull();
    expect(cache.size).toBe(2);
  });

  it('answers null for a fingerprint the store does not hold, and caches nothing for it', () => {
    const cache = new CertificateCache(temp.store, 10, null);
    expect(cache.lookup(terminals[0]!.serial, 'AA'.repeat(32))).toBeNull();
    expect(cache.size).toBe(0);
  });
});
