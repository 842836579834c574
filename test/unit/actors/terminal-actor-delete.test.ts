/**
 * @module Unit tests: deleting a terminal takes its last-seen time with it, even one its actor queued in the
 * write-behind just before (a gate call in the last half second), and a terminal created again with the serial shows
 * no last-seen time from before it existed. A time the write-behind could only write after the delete (a batch held
 * on a full disk) is not written: not for the gone terminal, nor onto one created again under the serial, which a
 * rollover's progress would count as seen. Real LMDB store, real write-behind (flushed by hand, not by its timer, so
 * that the queued time is still queued when the delete runs), a real terminal actor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TerminalActor } from '../../../src/actors/terminal-actor.js';
import type { Authenticated } from '../../../src/auth/request-auth.js';
import type { TerminalRequest } from '../../../src/protocol/types.js';
import type { TerminalRecord } from '../../../src/store/records.js';
import type { Store } from '../../../src/store/store.js';
import type { WriteBehind } from '../../../src/actors/write-behind.js';
import { countRollover } from '../../../src/server/rollover-count.js';
import { openActorStore, terminalRecord, type ActorStore } from '../../helpers/actor-store.js';

const SERIAL = 'ATM-DEL1';
let bench: ActorStore;
let store: Store;
let writeBehind: WriteBehind;
let clock = 1_800_000_000_000;

const terminal = (createdAt: number): TerminalRecord => terminalRecord(SERIAL, { createdAt });
const actor = (): TerminalActor => new TerminalActor(bench.context({ now: () => clock }), SERIAL);

/** A gate poll from the terminal (it has no request: refused), which records it as seen, written behind. */
async function gatePoll(actorOf: TerminalActor): Promise<void> {
  const nowSec = Math.floor(clock / 1000);
  const auth: Authenticated = { serial: SERIAL, tfp: 'ab'.repeat(32), nonce: `n-${clock}`, created: nowSec, checkedAtSec: nowSec, certDer: Buffer.alloc(0) };
  const request: TerminalRequest = { method: 'POST', path: '/api/v1/pairing', query: '', headers: {}, body: Buffer.from('{}'), remoteAddress: '10.0.0.1' };
  await expect(actorOf.handle({ type: 'gate', request, auth })).rejects.toMatchObject({ code: 'no_pairing_request' });
}

beforeAll(() => {
  // No timer flush during the test: what is queued stays queued until a flush here (or one the code under test asks for).
  bench = openActorStore('actor-delete-test');
  ({ store, writeBehind } = bench);
});

afterAll(() => bench.close());

describe('terminals.delete and the last-seen time', () => {
  it('removes a last-seen time still queued in the write-behind: it does not come back after the delete', async () => {
    await store.atomically(() => store.putTerminalSync(terminal(clock - 60_000)));
    const a = actor();
    await gatePoll(a);
    const seenAt = clock;
    clock += 100;
    expect((await a.handle({ type: 'delete', user: 'alice' })).type).toBe('terminal');
    await writeBehind.flush(); // the timer's next flush: nothing of the deleted terminal is left to write
    expect(store.lastSeen.get(SERIAL)).toBeUndefined();
    // Created again: it has not been seen since.
    clock += 1_000;
    const created = terminal(clock);
    await store.atomically(() => store.putTerminalSync(created));
    expect(store.lastSeenAt(created)).toBeNull();
    expect(seenAt).toBeLessThan(created.createdAt);
  });

  it('writes a time queued before a delete it could not precede neither for the gone terminal nor onto one created again', async () => {
    const serial = 'ATM-DEL2';
    const first = terminalRecord(serial, { createdAt: clock - 60_000 });
    await store.atomically(() => store.putTerminalSync(first));
    // Seen, and deleted before the batch is written: as when a full disk refused the flush the delete waits for.
    const seenAt = clock;
    writeBehind.lastSeen(serial, seenAt);
    await store.atomically(() => store.deleteTerminalSync(first));
    await writeBehind.flush();
    expect(store.lastSeen.get(serial)).toBeUndefined();

    // Seen again, deleted, and created again (paired) before the batch is written: the rollover counts it as not seen.
    const second = terminalRecord(serial, { createdAt: clock - 30_000 });
    await store.atomically(() => store.putTerminalSync(second));
    writeBehind.lastSeen(serial, clock);
    clock += 1_000;
    await store.atomically(() => store.deleteTerminalSync(second));
    const again = terminalRecord(serial, { createdAt: clock, tfp: 'cd'.repeat(32), pairedAt: clock, pairedBy: 'alice' });
    await store.atomically(() => store.putTerminalSync(again));
    await writeBehind.flush();
    expect(store.lastSeen.get(serial)).toBeUndefined();
    expect(await countRollover(store, seenAt, () => false)).toEqual({ seen: 0, paired: 1 });

    // Its own calls are written as ever.
    clock += 1_000;
    writeBehind.lastSeen(serial, clock);
    await writeBehind.flush();
    expect(store.lastSeen.get(serial)).toBe(clock);
    expect(await countRollover(store, seenAt, () => false)).toEqual({ seen: 1, paired: 1 });
  });

  it('ignores a last-seen time from before the terminal was created (one written behind after a delete), as does the rollover count', async () => {
    // Paired, so that the rollover counts it; the announcement began before the namesake's time. Counted beside what the
    // earlier tests left in the store.
    const serial = 'ATM-DEL3';
    const announcedSince = clock - 10_000;
    const before = await countRollover(store, announcedSince, () => false);
    const created = terminalRecord(serial, { createdAt: clock, tfp: 'ef'.repeat(32), pairedAt: clock, pairedBy: 'alice' });
    await store.atomically(() => store.putTerminalSync(created));
    await store.durable(store.lastSeen.put(serial, clock - 1));
    expect(store.lastSeenAt(created)).toBeNull();
    expect(await countRollover(store, announcedSince, () => false)).toEqual({ seen: before.seen, paired: before.paired + 1 });
    await store.durable(store.lastSeen.put(serial, clock + 5));
    expect(store.lastSeenAt(created)).toBe(clock + 5);
    expect(await countRollover(store, announcedSince, () => false)).toEqual({ seen: before.seen + 1, paired: before.paired + 1 });
  });
});
