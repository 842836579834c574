/**
 * @module Unit tests: the pairing history's retention (`--pairing-history-days`). Requests are made, revealed and decided
 * by a real terminal actor on a real LMDB store, with the actor's clock moved by the test; the retention then runs as
 * the server's pruner runs it. What must hold: only requests that are over and old go; a pinned certificate, and one a
 * later request of the same key holds, stay; a still-running rejection is never forgotten; every index goes with its
 * request; a run over many requests works in batches and reads nothing it does not forget the next time.
 */
import crypto from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TerminalActor } from '../../../src/actors/terminal-actor.js';
import type { Authenticated } from '../../../src/auth/request-auth.js';
import { commitmentOf } from '../../../src/crypto/pairing-code.js';
import type { HttpReply, TerminalRequest } from '../../../src/protocol/types.js';
import { forgetPairingHistory } from '../../../src/store/pairing-history.js';
import type { PairingRecord } from '../../../src/store/records.js';
import { compositeKey, type Store } from '../../../src/store/store.js';
import { entryCount } from '../../../src/store/entry-count.js';
import { openActorStore, terminalRecord, type ActorStore } from '../../helpers/actor-store.js';

const DAY = 86_400_000;
const TTL = DAY;
const KEEP = 2 * DAY;

let bench: ActorStore;
let store: Store;
let clock: number;
let nonceSeq = 0;

beforeEach(() => {
  bench = openActorStore('pairing-history-test');
  store = bench.store;
  clock = 1_800_000_000_000;
});
afterEach(() => bench.close());

const actor = (serial: string): TerminalActor => new TerminalActor(bench.context({ now: () => clock, pairingTtlMs: TTL }), serial);

/** A terminal's key as the gate sees it: a fingerprint and the certificate bytes kept with its request. */
function key(): { tfp: string; certDer: Buffer } {
  const certDer = crypto.randomBytes(300);
  return { tfp: crypto.createHash('sha256').update(certDer).digest('hex'), certDer };
}

async function gate(serial: string, k: { tfp: string; certDer: Buffer }, body: object): Promise<HttpReply> {
  const nowSec = Math.floor(clock / 1000);
  const auth: Authenticated = { serial, tfp: k.tfp, nonce: `n-${++nonceSeq}`, created: nowSec, checkedAtSec: nowSec, certDer: k.certDer };
  const request: TerminalRequest = { method: 'POST', path: '/api/v1/pairing', query: '', headers: {}, body: Buffer.from(JSON.stringify(body)), remoteAddress: '10.0.0.1' };
  const reply = await actor(serial).handle({ type: 'gate', request, auth });
  if (reply.type !== 'http') throw new Error(`unexpected reply ${reply.type}`);
  return reply.reply;
}

/** Commit and reveal, as `terminal pair` does: a request with a code, waiting for an operator. */
async function request(serial: string, k: { tfp: string; certDer: Buffer }): Promise<PairingRecord> {
  const nonce = crypto.randomBytes(32);
  const committed = await gate(serial, k, { commitment: commitmentOf(nonce) });
  const { requestId } = committed.body as { requestId: string };
  await gate(serial, k, { requestId, reveal: nonce.toString('base64') });
  const record = store.pairing.get(requestId);
  if (!record?.code) throw new Error('the request has no code');
  return record;
}

async function createTerminal(serial: string): Promise<void> {
  await store.atomically(() => store.putTerminalSync(terminalRecord(serial, { createdAt: clock })));
}

const forget = (): ReturnType<typeof forgetPairingHistory> => forgetPairingHistory(store, clock - KEEP, clock);

describe('the pairing history past its days', () => {
  it('forgets requests that are over and old, with the certificates only they kept; keeps the pinned one and the recent ones', async () => {
    await createTerminal('ATM-H1');
    const genuine = key();
    const stranger = key();
    const approvedRequest = await request('ATM-H1', genuine);
    await actor('ATM-H1').handle({ type: 'approve', requestId: approvedRequest.requestId, code: approvedRequest.code!, user: 'alice' });
    const strangers = await request('ATM-H1', stranger); // never decided: it expires
    clock += TTL + KEEP + 1;
    const recent = await request('ATM-H1', key());

    expect(await forget()).toEqual({ requests: 2, certificates: 1 });
    expect(store.pairing.get(approvedRequest.requestId)).toBeUndefined();
    expect(store.pairing.get(strangers.requestId)).toBeUndefined();
    expect(store.pairing.get(recent.requestId)).toMatchObject({ state: 'pending', stage: 'approval' });
    // The pin and its certificate are the terminal's; the stranger's certificate and its index entry are gone.
    expect(store.terminals.get('ATM-H1')?.tfp).toBe(genuine.tfp);
    expect(store.certs.get(compositeKey('ATM-H1', genuine.tfp))).toBeDefined();
    expect(store.certs.get(compositeKey('ATM-H1', stranger.tfp))).toBeUndefined();
    expect(store.pairingIndex.get(compositeKey('ATM-H1', stranger.tfp))).toBeUndefined();
    expect(entryCount(store.pairingTimeline['db'])).toBe(1);
    // The stranger's key has no request left to poll.
    await expect(gate('ATM-H1', stranger, {})).rejects.toMatchObject({ code: 'no_pairing_request' });
    // Nothing is left to forget: a second run forgets nothing.
    expect(await forget()).toEqual({ requests: 0, certificates: 0 });
  });

  it('keeps the certificate a later request of the same key holds, and a request that still waits', async () => {
    await createTerminal('ATM-H2');
    const k = key();
    const old = await request('ATM-H2', k);
    await actor('ATM-H2').handle({ type: 'reject', requestId: old.requestId, user: 'alice' });
    clock += 2 * TTL + 1; // the rejection no longer holds: the same key asks again
    const again = await request('ATM-H2', k);
    clock += 1_000;

    expect(await forget()).toEqual({ requests: 1, certificates: 0 });
    expect(store.pairing.get(old.requestId)).toBeUndefined();
    expect(store.pairing.get(again.requestId)?.state).toBe('pending');
    expect(store.certs.get(compositeKey('ATM-H2', k.tfp))).toBeDefined();
    expect(store.pairingIndex.get(compositeKey('ATM-H2', k.tfp))).toBe(again.requestId);
    // It still waits for an operator, with the certificate the approval pins.
    const approved = await actor('ATM-H2').handle({ type: 'approve', requestId: again.requestId, code: again.code!, user: 'alice' });
    expect(approved).toMatchObject({ type: 'pairing', view: { state: 'approved' } });

    // A request made under a longer TTL than the server's now waits past the history's start: it is kept while it waits.
    // The approved one goes; its certificate is the pin.
    await createTerminal('ATM-H3');
    const longWait = await request('ATM-H3', key());
    await store.atomically(() => store.putPairingSync({ ...longWait, expiresAt: clock + 30 * DAY }));
    clock += KEEP + 1;
    expect(await forget()).toEqual({ requests: 1, certificates: 0 });
    expect(store.pairing.get(again.requestId)).toBeUndefined();
    expect(store.certs.get(compositeKey('ATM-H2', k.tfp))).toBeDefined();
    expect(store.awaitingOperator.waiting(store.pairing, clock).map((r) => r.requestId)).toEqual([longWait.requestId]);
  });

  it('never forgets a rejection while it holds: with the shortest history allowed the key is still refused', async () => {
    await createTerminal('ATM-H4');
    const k = key();
    const rejected = await request('ATM-H4', k);
    clock += TTL - 1; // decided at the last moment: the rejection holds one TTL from here
    await actor('ATM-H4').handle({ type: 'reject', requestId: rejected.requestId, user: 'alice' });
    clock += TTL - 1;
    // Two TTLs less 2 ms after the request: KEEP is two TTLs, so it is not old enough to forget.
    expect(await forget()).toEqual({ requests: 0, certificates: 0 });
    await expect(gate('ATM-H4', k, { commitment: commitmentOf(crypto.randomBytes(32)) })).rejects.toMatchObject({ code: 'pairing_rejected' });
    clock += 3;
    // Made more than two TTLs ago, the request is forgotten only once its rejection is over: the key may ask again.
    expect(await forget()).toEqual({ requests: 1, certificates: 1 });
    expect((await gate('ATM-H4', k, { commitment: commitmentOf(crypto.randomBytes(32)) })).status).toBe(202);
  });

  it('forgets a long history in batches, stops between two when told to, and drops timeline entries whose request is gone', async () => {
    const serials = Array.from({ length: 1_234 }, (_, i) => `ATM-B${i}`);
    const requestedAt = clock;
    // As the actor files them (putPairingSync), but in one transaction: 1,234 requests through the gate would take long.
    await store.atomically(() => {
      for (const [i, serial] of serials.entries()) {
        store.putTerminalSync(terminalRecord(serial, { createdAt: clock }));
        const k = key();
        const record: PairingRecord = {
          requestId: `pr_batch${i}`, serial, tfp: k.tfp, remoteAddress: '10.0.0.2', requestedAt: requestedAt + i, expiresAt: requestedAt + i + TTL,
          state: 'pending', stage: 'approval', commitment: 'c', serverNonce: 'n', code: 'ABCD-EFGH', info: null, wrongCodeAttempts: 0, decidedBy: null, decidedAt: null,
        };
        store.certs.putSync(compositeKey(serial, k.tfp), { der: k.certDer, firstSeenAt: clock });
        store.putPairingSync(record);
        store.pairingIndex.putSync(compositeKey(serial, k.tfp), record.requestId);
      }
      // A timeline entry alone, as if its request had been removed without it.
      store.pairingTimeline.putSync({ ...store.pairing.get('pr_batch0')!, requestedAt: requestedAt - 1, requestId: 'pr_gone' });
    });
    expect(store.awaitingOperator.waiting(store.pairing, clock)).toHaveLength(1_234);
    clock += TTL + KEEP + 1_234;

    // A shutdown stops it between two batches: the batch under way is written whole, the rest waits for the next start.
    const stop = new AbortController();
    const stopped = forgetPairingHistory(store, clock - KEEP, clock, stop.signal);
    stop.abort();
    // The first batch of 500 timeline entries holds the one without a request.
    expect(await stopped).toEqual({ requests: 499, certificates: 499 });
    expect(entryCount(store.pairing)).toBe(735);
    expect(await forget()).toEqual({ requests: 735, certificates: 735 });
    for (const db of [store.pairing, store.pairingIndex, store.certs, store.pairingTimeline['db']] as const) expect(entryCount(db)).toBe(0);
    expect(store.awaitingOperator.waiting(store.pairing, clock)).toHaveLength(0);
    expect(store.terminalCount()).toBe(1_234);
  });
});
