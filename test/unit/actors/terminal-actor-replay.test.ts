/**
 * @module Unit tests: a terminal actor judges a replay at the second its request was judged fresh, not at the second
 * it gets to run it (later, behind the terminal's earlier calls or after a hop to another thread). Real LMDB store,
 * real write-behind, a really signed request.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActorContext } from '../../../src/actors/context.js';
import { TerminalActor } from '../../../src/actors/terminal-actor.js';
import { WriteBehind } from '../../../src/actors/write-behind.js';
import { CertificateCache } from '../../../src/auth/certificate-cache.js';
import { authenticateMaster } from '../../../src/auth/request-auth.js';
import { createSelfSignedCertificate, generateKeyPair, parseCertificate } from '../../../src/crypto/certificates.js';
import { signRequest } from '../../../src/crypto/signature.js';
import { AppError } from '../../../src/errors.js';
import { createLogger } from '../../../src/logger.js';
import type { TerminalRequest } from '../../../src/protocol/types.js';
import { Store } from '../../../src/store/store.js';

const SKEW = 300;
const SERIAL = 'ATM-REPLAY1';
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'actor-replay-test-'));
const log = createLogger({ level: 'silent', pretty: false });
let store: Store;
let writeBehind: WriteBehind;
let certs: CertificateCache;
let request: TerminalRequest;
const T0 = Math.floor(Date.now() / 1000);

/** An actor whose clock reads `actorNowSec`, as a fresh activation on this thread would be. */
function actorAt(actorNowSec: number): TerminalActor {
  const ctx: ActorContext = {
    store, writeBehind, log, events: () => undefined, sfp: '', masterUrl: 'https://127.0.0.1:7743', clockSkewSec: SKEW,
    pairingTtlMs: 60_000, maxCodeAttempts: 5, vpn: {} as ActorContext['vpn'], now: () => actorNowSec * 1000,
  };
  return new TerminalActor(ctx, SERIAL);
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
  store = Store.open(dataDir);
  writeBehind = new WriteBehind(store, log, 3_600_000);
  certs = new CertificateCache(store);
  const keys = generateKeyPair('ec');
  const { der } = createSelfSignedCertificate({ privateKeyPem: keys.privateKeyPem, commonName: SERIAL });
  const cert = parseCertificate(der);
  if (!cert.ok) throw new Error(cert.message);
  await store.atomically(() => store.putTerminalSync({
    serial: SERIAL, name: '', location: '', contact: '', vpn: false, createdAt: 0, createdBy: 'test',
    tfp: cert.value.tfp, certDer: der, pairedAt: 0, pairedBy: 'test', lastSeenAt: null,
  }));
  const signed = signRequest({ method: 'POST', path: '/api/v1/ping', serial: SERIAL, privateKeyPem: keys.privateKeyPem, alg: 'ecdsa-p256-sha256', keyid: cert.value.tfp, created: T0 });
  const headers = Object.fromEntries(Object.entries(signed).map(([name, value]) => [name.toLowerCase(), value]));
  request = { method: 'POST', path: '/api/v1/ping', query: '', headers, body: Buffer.alloc(0), remoteAddress: '10.0.0.1' };
});

afterAll(async () => {
  await writeBehind.close();
  await store.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

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
