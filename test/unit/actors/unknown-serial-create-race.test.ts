/**
 * @module Unit tests: an unknown serial's entry (unknown.list) is never written back after an operator created the
 * serial. The race made deterministic: the actor's first look at the terminals table says "no terminal" (a read just
 * before the create committed, or a snapshot not yet renewed), and the create commits right then, taking the serial
 * off the list as terminals.create does. Real LMDB store, real terminal actor.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TerminalActor } from '../../../src/actors/terminal-actor.js';
import type { Authenticated } from '../../../src/auth/request-auth.js';
import type { TerminalRequest } from '../../../src/protocol/types.js';
import { foldSerial, type Store } from '../../../src/store/store.js';
import { openActorStore, terminalRecord, type ActorStore } from '../../helpers/actor-store.js';

let bench: ActorStore;
let store: Store;
const pushes: Record<string, unknown>[] = [];
let clock = 1_800_000_000_000;

const actor = (serial: string): TerminalActor =>
  new TerminalActor(bench.context({ events: (_topic, event, data) => void pushes.push({ event, ...data }), now: () => clock }), serial);

/** A gate commit from a terminal with serial `serial`; what the actor answers (an error code). */
async function attempt(serial: string): Promise<unknown> {
  clock += 1_000;
  const nowSec = Math.floor(clock / 1000);
  const auth: Authenticated = { serial, tfp: 'cd'.repeat(32), nonce: `n-${clock}`, created: nowSec, checkedAtSec: nowSec, certDer: Buffer.alloc(0) };
  const request: TerminalRequest = { method: 'POST', path: '/api/v1/pairing', query: '', headers: {}, body: Buffer.from(JSON.stringify({ commitment: Buffer.alloc(32, 1).toString('base64') })), remoteAddress: '10.0.0.9' };
  return Promise.resolve(actor(serial).handle({ type: 'gate', request, auth })).then(() => 'answered', (err: { code?: string }) => err.code);
}

/** What terminals.create commits (src/admin/ops.ts): the terminal, its folded serial, and the serial off the unknown list. */
function create(serial: string): void {
  const record = terminalRecord(serial, { createdAt: clock });
  store.root.transactionSync(() => {
    store.putTerminalSync(record);
    store.foldedSerials.putSync(foldSerial(serial), serial);
    store.unknownSerials.removeSync(serial);
  });
}

beforeAll(() => {
  bench = openActorStore('unknown-serial-race');
  ({ store } = bench);
});

afterAll(async () => {
  vi.restoreAllMocks();
  await bench.close();
});

describe('an unknown serial created while its terminal is at the gate', () => {
  it('does not stay in unknown.list when the create commits between the actor\'s look and its write', async () => {
    const serial = 'ATM-RACE1';
    expect(await attempt(serial)).toBe('unknown_serial');
    expect(store.unknownSerials.get(serial)).toMatchObject({ attempts: 1 });
    expect(pushes.filter((p) => p.serial === serial)).toHaveLength(1);
    // The next attempt's first look finds no terminal; the operator's create commits just after it.
    const lookup = vi.spyOn(store.terminals, 'get').mockImplementationOnce(() => {
      create(serial);
      return undefined;
    });
    expect(await attempt(serial)).toBe('unknown_serial');
    lookup.mockRestore();
    expect(store.terminals.get(serial)).toMatchObject({ serial });
    expect(store.unknownSerials.get(serial)).toBeUndefined();
    // Not shown to operators as unknown again either: it is theirs now.
    expect(pushes.filter((p) => p.serial === serial)).toHaveLength(1);
    // And its next attempt is a pairing request like any other.
    expect(await attempt(serial)).toBe('answered');
  });

  it('is recorded, and counted, while nobody created it', async () => {
    const serial = 'ATM-RACE2';
    expect(await attempt(serial)).toBe('unknown_serial');
    expect(await attempt(serial)).toBe('unknown_serial');
    expect(store.unknownSerials.get(serial)).toMatchObject({ serial, attempts: 2, tfp: 'cd'.repeat(32), remoteAddress: '10.0.0.9' });
  });
});
