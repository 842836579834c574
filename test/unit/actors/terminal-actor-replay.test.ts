/**
 * @module Unit tests: a terminal actor judges a replay at the second its request was judged fresh, not at the second
 * it gets to run it (later, behind the terminal's earlier calls or after a hop to another thread). Real LMDB store,
 * real write-behind, a really signed request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TerminalActor } from '../../../src/actors/terminal-actor.js';
import { CertificateCache } from '../../../src/auth/certificate-cache.js';
import { authenticateMaster } from '../../../src/auth/request-auth.js';
import { createSelfSignedCertificate, generateKeyPair, parseCertificate } from '../../../src/crypto/certificates.js';
import { signRequest } from '../../../src/crypto/signature.js';
import { AppError } from '../../../src/errors.js';
import type { TerminalRequest } from '../../../src/protocol/types.js';
import type { Store } from '../../../src/store/store.js';
import { openActorStore, terminalRecord, type ActorStore } from '../../helpers/actor-store.js';

const SKEW = 300;
const SERIAL = 'ATM-REPLAY1';
let bench: ActorStore;
let store: Store;
let certs: CertificateCache;
let request: TerminalRequest;
const T0 = Math.floor(Date.now() / 1000);

/** An actor whose clock reads `actorNowSec`, as a fresh activation on this thread would be. */
function actorAt(actorNowSec: number): TerminalActor {
  return new TerminalActor(bench.context({ clockSkewSec: SKEW, now: () => actorNowSec * 1000 }), SERIAL);
}

/** The status the actor answers for `request` authenticated at `frontNowSec` and run by an actor at `actorNowSec`. */
async function statusOf(frontNowSec: number, actorNowSec: number): Promise<number | string> {
  try {
    const auth = authenticateMaster(request, certs, { nowSec: frontNowSec, clockSkewSec: SKEW });
    const reply = await actorAt(actorNowSec).handle({ type: 'master', request, auth });
    return reply.type === 'http' ? reply.reply.status : reply.type;
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
}

beforeAll(async () => {
  bench = openActorStore('actor-replay-test');
  ({ store } = bench);
  certs = new CertificateCache(store);
  const keys = generateKeyPair('ec');
  const { der } = createSelfSignedCertificate({ privateKeyPem: keys.privateKeyPem, commonName: SERIAL });
  const cert = parseCertificate(der);
  if (!cert.ok) throw new Error(cert.message);
  await store.atomically(() => store.putTerminalSync(terminalRecord(SERIAL, { tfp: cert.value.tfp, certDer: der, pairedAt: 0, pairedBy: 'alice' })));
  const signed = signRequest({ method: 'POST', path: '/api/v1/ping', serial: SERIAL, privateKeyPem: keys.privateKeyPem, alg: 'ecdsa-p256-sha256', keyid: cert.value.tfp, created: T0 });
  const headers = Object.fromEntries(Object.entries(signed).map(([name, value]) => [name.toLowerCase(), value]));
  request = { method: 'POST', path: '/api/v1/ping', query: '', headers, body: Buffer.alloc(0), remoteAddress: '10.0.0.1' };
});

afterAll(() => bench.close());

describe('a terminal actor and replays', () => {
  it('answers the call, then refuses it sent again', async () => {
    expect(await statusOf(T0 + 10, T0 + 10)).toBe(200);
    expect(await statusOf(T0 + 20, T0 + 20)).toBe('unauthenticated');
  });

  it('refuses a replay judged fresh at the edge of the window even when the actor runs it seconds later', async () => {
    // Fresh at T0 + SKEW (the window is inclusive); its nonce was recorded until T0 + SKEW + 1.
    expect(await statusOf(T0 + SKEW, T0 + SKEW + 2)).toBe('unauthenticated');
    expect(await statusOf(T0 + SKEW, T0 + SKEW + 60)).toBe('unauthenticated');
  });

  it('refuses it at the front once it is out of the window, whatever the actor would say', async () => {
    expect(await statusOf(T0 + SKEW + 1, T0 + SKEW + 1)).toBe('unauthenticated');
  });
});
