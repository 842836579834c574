/**
 * @module Unit tests: an unpair, or a new key pinned, revokes the terminal's VPN certificates in its own commit. The
 * main thread (which writes the CRL file and issues certificates) is made unreachable after the commit, as a crash
 * there would: the store must already say revoked. Real LMDB store, real VPN service and CA, real actor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TerminalActor } from '../../../src/actors/terminal-actor.js';
import { createSelfSignedCertificate, generateKeyPair } from '../../../src/crypto/certificates.js';
import { fingerprint } from '../../../src/crypto/fingerprint.js';
import type { PairingRecord } from '../../../src/store/records.js';
import { compositeKey, type Store } from '../../../src/store/store.js';
import { VpnService } from '../../../src/vpn/vpn-service.js';
import { openActorStore, terminalRecord, type ActorStore } from '../../helpers/actor-store.js';

let bench: ActorStore;
let store: Store;
let vpn: VpnService;
const now = Date.now();

/** What reaches the main thread from an actor, failing as it would once that thread is gone. */
const unreachable = (): Promise<never> => Promise.reject(new Error('the main thread is gone'));

function actorFor(serial: string): TerminalActor {
  return new TerminalActor(bench.context({ now: () => now, vpn: { issue: unreachable, gateConfig: unreachable, publishCrl: unreachable } }), serial);
}

function newKey(serial: string): { der: Buffer; tfp: string } {
  const { der } = createSelfSignedCertificate({ privateKeyPem: generateKeyPair('ec').privateKeyPem, commonName: serial });
  return { der, tfp: fingerprint(der) };
}

/** A VPN terminal paired with a fresh key, and the VPN certificate issued for it. */
async function pairedWithCertificate(serial: string): Promise<string> {
  const { der, tfp } = newKey(serial);
  const record = terminalRecord(serial, { vpn: true, createdAt: now, tfp, certDer: der, pairedAt: now, pairedBy: 'alice' });
  await store.atomically(() => store.putTerminalSync(record));
  return (await vpn.issue(serial, 'alice')).certSerial;
}

const revocationOf = (certSerial: string) => vpn.crl().revoked.find((r) => r.certSerial === certSerial);

beforeAll(() => {
  bench = openActorStore('vpn-revocation-test');
  ({ store } = bench);
  vpn = new VpnService({ store, dataDir: bench.dataDir, publicHost: 'pairing.example', masterPort: () => 7743, log: bench.log, now: () => now });
});

afterAll(() => bench.close());

describe('VPN certificates and the trust they follow', () => {
  it('are revoked by the unpair\'s own commit', async () => {
    const certSerial = await pairedWithCertificate('ATM-V1');
    const reply = await actorFor('ATM-V1').handle({ type: 'unpair', user: 'alice' });
    expect(reply).toMatchObject({ type: 'terminal', view: { serial: 'ATM-V1', state: 'expected' } });
    expect(revocationOf(certSerial)).toMatchObject({ serial: 'ATM-V1', reason: 'cessationOfOperation' });
  });

  it('of the key pinned before are revoked by the approval of a new one, even when no new certificate can be issued', async () => {
    const certSerial = await pairedWithCertificate('ATM-V2');
    const next = newKey('ATM-V2');
    const code = '1234 5678 9012';
    const request: PairingRecord = {
      requestId: 'pr_vpn-test', serial: 'ATM-V2', tfp: next.tfp, remoteAddress: '10.0.0.1', requestedAt: now, expiresAt: now + 60_000,
      state: 'pending', stage: 'approval', commitment: '', serverNonce: '', code, info: null, wrongCodeAttempts: 0, decidedBy: null, decidedAt: null,
    };
    await store.atomically(() => {
      store.certs.putSync(compositeKey('ATM-V2', next.tfp), { der: next.der, firstSeenAt: now });
      store.putPairingSync(request);
      store.pairingIndex.putSync(compositeKey('ATM-V2', next.tfp), request.requestId);
    });
    const reply = await actorFor('ATM-V2').handle({ type: 'approve', requestId: request.requestId, code, user: 'alice' });
    expect(reply).toMatchObject({ type: 'pairing', view: { state: 'approved' } });
    expect(store.terminals.get('ATM-V2')!.tfp).toBe(next.tfp);
    expect(revocationOf(certSerial)).toMatchObject({ serial: 'ATM-V2', reason: 'superseded' });
  });
});
