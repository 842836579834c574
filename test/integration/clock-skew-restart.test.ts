/**
 * @module Raising --clock-skew across a restart does not reopen the replay window: a request the last run answered,
 * fresh again under the larger skew but with its nonce recorded only for the smaller one, is refused; so it is after
 * a second restart. Real server processes on one data dir, real TLS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from '../../src/crypto/signature.js';
import { addOperator, connectOperator, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal, rawRequest, type RawReply } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const OLD_SKEW = 5;
const NEW_SKEW = 600;
let server: ServerProcess;
const atm = RawTerminal.create('ATM-SKEW1', 'ec');
const nowSec = (): number => Math.floor(Date.now() / 1000);

/** One signed ping, created at `created`, that can be sent again byte for byte. */
function capturedPing(created: number): () => Promise<RawReply> {
  const body = Buffer.from('{}');
  const headers = { ...signRequest({ method: 'POST', path: '/api/v1/ping', body, serial: atm.serial, privateKeyPem: atm.privateKeyPem, alg: atm.alg, keyid: atm.tfp, created }), 'content-type': 'application/json' };
  return () => rawRequest(`${server.masterUrl}/api/v1/ping`, 'POST', headers, body);
}

async function restartWithSkew(skew: number): Promise<void> {
  const { dataDir, ports } = server;
  await server.stop();
  server = await startServerProcess({ dataDir, ports, extraArgs: ['--clock-skew', String(skew)] });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  server = await startServerProcess({ extraArgs: ['--clock-skew', String(OLD_SKEW)] });
  const alice = await addOperator(server.dataDir, 'alice');
  const client = await connectOperator(server, alice);
  await client.request('gate.open', { minutes: 30 });
  await pairRawTerminal(client, server, atm);
  await client.close();
});

afterAll(async () => {
  await server?.stop();
});

describe('a larger clock skew after a restart', () => {
  it('refuses a request the last run answered once its nonce is out of that run\'s window, across two restarts', async () => {
    const replay = capturedPing(nowSec());
    expect((await replay()).status).toBe(200);
    expect((await replay()).json).toMatchObject({ error: 'unauthenticated' });
    // Past the old window (5 s, its nonce recorded until created + 6 s), well inside the new one.
    await sleep((OLD_SKEW + 3) * 1000);
    await restartWithSkew(NEW_SKEW);
    const warning = await server.waitForLog((entry) => entry.earlierSkewSec === OLD_SKEW);
    expect(warning).toMatchObject({ level: 40, clockSkewSec: NEW_SKEW });
    expect((await replay()).status).toBe(401);
    // The new skew holds for requests the last run cannot have seen.
    expect((await capturedPing(nowSec() + NEW_SKEW - 60)()).status).toBe(200);
    expect((await atm.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);

    // A second start with the same skew keeps the first run's window: the record is in the store.
    await restartWithSkew(NEW_SKEW);
    expect((await replay()).status).toBe(401);
    expect((await atm.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);
  });
});
