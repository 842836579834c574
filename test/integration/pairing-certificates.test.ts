/**
 * @module What a commit at the open gate may leave behind, against the real server: the certificate of a request that
 * is gone (evicted by another key's commit, or its reveal did not match) is forgotten with it, a terminal that
 * commits again keeps its own, operators are alerted once per request of a second certificate (not once per commit),
 * and on an almost full disk commits are refused as cash events are. Master tells which certificates the store holds:
 * 403 not_paired for one it holds, 401 for one it does not.
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PENDING_PER_SERIAL } from '../../src/actors/pairing-flow.js';
import type { AdminClient } from '../../src/admin/admin-client.js';
import type { AdminPush } from '../../src/protocol/types.js';
import { addOperator, connectOperator, nextPush, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let alice: AdminClient;

const commitment = (): string => crypto.randomBytes(32).toString('base64');
/**
 * What master answers `terminal`: its key is cached by the front from the first lookup on, so each terminal is asked
 * only once, after the store changed.
 */
const masterSays = async (terminal: RawTerminal): Promise<string> => {
  const reply = await terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}' });
  return `${reply.status} ${String(reply.json?.error ?? '')}`;
};

beforeAll(async () => {
  server = await startServerProcess();
  alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
  await alice.request('gate.open', { minutes: 10 });
});

afterAll(async () => {
  await alice?.close();
  await server?.stop();
});

describe('certificates of pairing requests', () => {
  it('are forgotten with a request another key evicted; a key that commits again keeps its own', async () => {
    await alice.request('terminals.create', { serial: 'CERT-EVICT' });
    const keys = Array.from({ length: MAX_PENDING_PER_SERIAL + 1 }, () => RawTerminal.create('CERT-EVICT'));
    for (const key of keys) expect((await key.gate(server.gateUrl, { commitment: commitment() })).status).toBe(202);
    // The last commit took the place of the oldest request without a code: which one, its poll says.
    const polls = await Promise.all(keys.map(async (key) => (await key.gate(server.gateUrl, {})).status));
    const gone = keys.filter((_, i) => polls[i] === 404);
    expect(gone).toHaveLength(1);
    expect(await masterSays(gone[0]!)).toBe('401 unauthenticated');
    // A key whose request still waits commits again (a new nonce): its request is replaced, its certificate stays.
    const kept = keys.find((_, i) => polls[i] === 202)!;
    expect((await kept.gate(server.gateUrl, { commitment: commitment() })).status).toBe(202);
    expect(await masterSays(kept)).toBe('403 not_paired');
  });

  it('are forgotten with a request whose reveal did not match its commitment', async () => {
    await alice.request('terminals.create', { serial: 'CERT-MISMATCH' });
    const key = RawTerminal.create('CERT-MISMATCH');
    const commit = await key.gate(server.gateUrl, { commitment: commitment() });
    expect(commit.status).toBe(202);
    const reveal = await key.gate(server.gateUrl, { requestId: commit.json.requestId, reveal: crypto.randomBytes(32).toString('base64') });
    expect(reveal.json.error).toBe('commitment_mismatch');
    expect(await masterSays(key)).toBe('401 unauthenticated');
  });
});

describe('a second certificate for a paired serial', () => {
  it('alerts operators once per request: a commit that replaces its own waiting request does not alert again', async () => {
    const genuine = RawTerminal.create('CERT-ALERT');
    await pairRawTerminal(alice, server, genuine);
    await alice.request('subscribe', { topics: ['terminals'] });
    const pushes: AdminPush[] = [];
    alice.on('event', (push) => void (push.event === 'terminal.new_fingerprint' && pushes.push(push)));
    const intruder = RawTerminal.create('CERT-ALERT');
    for (let i = 0; i < 3; i++) expect((await intruder.gate(server.gateUrl, { commitment: commitment() })).status).toBe(202);
    // Another key's commit to the same serial (the same actor, so told after the intruder's): once it is seen, every
    // alert for the intruder's commits has been seen too.
    const other = RawTerminal.create('CERT-ALERT');
    const otherAlert = nextPush(alice, (p) => p.event === 'terminal.new_fingerprint' && p.data.tfp === other.tfp);
    expect((await other.gate(server.gateUrl, { commitment: commitment() })).status).toBe(202);
    await otherAlert;
    expect(pushes.filter((p) => p.data.tfp === intruder.tfp)).toHaveLength(1);
    const warned = (tfp: string) => server.logs.filter((l) => l.msg === 'a paired serial asks to pair with another certificate' && l.tfp === tfp).length;
    await expect.poll(() => warned(other.tfp)).toBe(1);
    expect(warned(intruder.tfp)).toBe(1);
    // Where it came from, as every security warning of the terminal services says.
    expect(server.logs.find((l) => l.msg === 'a paired serial asks to pair with another certificate' && l.tfp === other.tfp)).toMatchObject({ remoteAddress: '127.0.0.1' });
    // The genuine terminal is unaffected.
    expect(await masterSays(genuine)).toBe('200 ');
  });
});

describe('a commit on an almost full disk', () => {
  let low: ServerProcess;
  let bob: AdminClient;

  beforeAll(async () => {
    // More than any disk has free: the guard reads "low" from the start.
    low = await startServerProcess({ extraArgs: ['--min-free-disk', '10000000'] });
    bob = await connectOperator(low, await addOperator(low.dataDir, 'bob'));
    await bob.request('gate.open', { minutes: 10 });
  });

  afterAll(async () => {
    await bob?.close();
    await low?.stop();
  });

  it('is refused with 503 storage_unavailable, as cash events are, and stores neither request nor certificate', async () => {
    await bob.request('terminals.create', { serial: 'CERT-LOW' });
    const key = RawTerminal.create('CERT-LOW');
    const commit = await key.gate(low.gateUrl, { commitment: commitment() });
    expect(commit.status).toBe(503);
    expect(commit.json.error).toBe('storage_unavailable');
    expect(commit.headers['retry-after']).toBeDefined();
    expect((await key.gate(low.gateUrl, {})).json.error).toBe('no_pairing_request');
    const ping = await key.send(low.masterUrl, '/api/v1/ping', { body: '{}' });
    expect(ping.status).toBe(401);
  });
});
