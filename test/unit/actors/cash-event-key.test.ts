/**
 * @module Unit tests: a cash event is idempotent for the key that stored it. Another key of the serial (a factory reset
 * or a replacement since) reusing its eventId is refused; an event stored before events kept their key is taken as the
 * serial's, as before. Master's own call on a real LMDB store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HttpReply } from '../../../src/protocol/types.js';
import type { CashEventRecord } from '../../../src/store/records.js';
import { compositeKey } from '../../../src/store/store.js';
import { openActorStore, reportCashEvent, type ActorStore } from '../../helpers/actor-store.js';

const SERIAL = 'ATM-KEY-1';
const OLD_KEY = 'aa'.repeat(32);
const NEW_KEY = 'bb'.repeat(32);
const event = { eventId: '7', currency: 'EUR', denomination: 20, count: 1, at: '2026-12-01T10:00:00.000Z' };

let bench: ActorStore;

beforeEach(() => {
  bench = openActorStore('cash-event-key-test');
});

afterEach(async () => {
  await bench.close();
});

const report = (tfp: string): Promise<HttpReply> => reportCashEvent(bench.context(), SERIAL, tfp, event);

describe('a cash event and the key that sent it', () => {
  it('is stored with its key; a retry by that key is a duplicate, the same id from another key a conflict', async () => {
    expect((await report(OLD_KEY)).body).toEqual({ accepted: true, duplicate: false });
    expect(bench.store.cashEvents.get(compositeKey(SERIAL, event.eventId))?.tfp).toBe(OLD_KEY);
    expect((await report(OLD_KEY)).body).toEqual({ accepted: true, duplicate: true });
    await expect(report(NEW_KEY)).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining("this terminal's earlier key") });
    // Refused, not rewritten: the stored event keeps the key that sent it.
    expect(bench.store.cashEvents.get(compositeKey(SERIAL, event.eventId))?.tfp).toBe(OLD_KEY);
  });

  it('stored before events kept their key, is a duplicate for whichever key retries it', async () => {
    const legacy: CashEventRecord = { serial: SERIAL, ...event, receivedAt: Date.parse(event.at) };
    await bench.store.atomically(() => bench.store.putCashEventSync(legacy));
    expect((await report(NEW_KEY)).body).toEqual({ accepted: true, duplicate: true });
  });
});
