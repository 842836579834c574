/**
 * @module For store and actor unit tests: a real LMDB store in a temp dir, a thread's write-behind that only the test flushes (so
 * that what a call queued is still queued when the next step runs), the actor context over them, and master's cash-event call.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ActorContext } from '../../src/actors/context.js';
import { masterCall } from '../../src/actors/master-calls.js';
import { WriteBehind } from '../../src/actors/write-behind.js';
import { createLogger, type Logger } from '../../src/logger.js';
import type { HttpReply } from '../../src/protocol/types.js';
import type { TerminalRecord } from '../../src/store/records.js';
import { Store } from '../../src/store/store.js';

export interface ActorStore {
  readonly dataDir: string;
  readonly store: Store;
  readonly writeBehind: WriteBehind;
  readonly log: Logger;
  /** What a front thread gives its actors, over this store; a VPN nobody should reach unless `overrides` gives one. */
  context(overrides?: Partial<ActorContext>): ActorContext;
  close(): Promise<void>;
}

/** A real LMDB store in a temp dir of its own; `close` closes it and removes the dir. */
export interface TempStore {
  readonly dataDir: string;
  readonly store: Store;
  close(): Promise<void>;
}

export function openTempStore(prefix: string, storeOptions: Parameters<typeof Store.open>[1] = {}): TempStore {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  const store = Store.open(dataDir, storeOptions);
  return {
    dataDir, store,
    async close() {
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function openActorStore(prefix: string, storeOptions: Parameters<typeof Store.open>[1] = {}): ActorStore {
  const { dataDir, store, close } = openTempStore(prefix, storeOptions);
  const log = createLogger({ level: 'silent', pretty: false });
  // An hour: no timer flush during a test.
  const writeBehind = new WriteBehind(store, log, 3_600_000);
  return {
    dataDir, store, writeBehind, log,
    context: (overrides = {}) => ({
      store, writeBehind, log, events: () => undefined, cashRecorded: () => undefined, sfp: 'ab'.repeat(32), masterUrl: 'https://127.0.0.1:7743', clockSkewSec: 300,
      pairingTtlMs: 60_000, maxCodeAttempts: 5, vpn: {} as ActorContext['vpn'], now: () => Date.now(),
      ...overrides,
    }),
    async close() {
      await writeBehind.close();
      await close();
    },
  };
}

/** A terminal as terminals.create writes it: not paired unless `overrides` says so. */
export function terminalRecord(serial: string, overrides: Partial<TerminalRecord> = {}): TerminalRecord {
  return {
    serial, name: '', location: '', contact: '', vpn: false, createdAt: Date.now(), createdBy: 'alice',
    tfp: null, certDer: null, pairedAt: null, pairedBy: null, lastSeenAt: null,
    ...overrides,
  };
}

/**
 * Master's cash-event call from `serial`'s key `tfp`, `event` its JSON body: the request as a front thread hands it to
 * the terminal's actor once the signature verified.
 */
export async function reportCashEvent(ctx: ActorContext, serial: string, tfp: string, event: Record<string, unknown>): Promise<HttpReply> {
  const body = Buffer.from(JSON.stringify(event));
  return masterCall(ctx, serial, tfp, { method: 'POST', path: '/api/v1/cash-events', query: '', headers: {}, body, remoteAddress: '192.0.2.1' });
}
