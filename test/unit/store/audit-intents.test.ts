/** @module Unit tests: audit entries written ahead of their action, settled by their outcome or, after a crash, as interrupted; on a real LMDB store. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { intendAudit, settleInterruptedAudits } from '../../../src/store/audit-intents.js';
import { verifyAuditChain } from '../../../src/store/audit-chain.js';
import { processRuns } from '../../../src/store/process-runs.js';
import { Store } from '../../../src/store/store.js';

let dataDir: string;
let store: Store;

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-intents-test-'));
  store = Store.open(dataDir);
});

afterEach(async () => {
  await store.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const entry = (action: string, at: number) => ({ at, user: 'alice', action, target: 'ATM-1', detail: { remoteAddress: '192.0.2.1' } });
const intents = () => [...store.auditIntents.getRange()].map(({ value }) => value);
/** The pid of a process that has ended. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid!;

describe('audit intents', () => {
  it('are removed by the append of their outcome, in the same transaction', async () => {
    const key = await intendAudit(store, entry('pairing.approve', 1_000));
    expect(intents()).toEqual([{ ...entry('pairing.approve', 1_000), pid: process.pid }]);
    await store.appendAudit({ ...entry('pairing.approve', 1_001), detail: { result: 'ok' } }, key);
    expect(intents()).toEqual([]);
    expect(await settleInterruptedAudits(store, 2_000, processRuns)).toEqual([]);
  });

  it('left by a process that died are audited as interrupted, oldest first, on an intact chain; a running process keeps its own', async () => {
    await store.appendAudit({ ...entry('terminals.create', 500), detail: { result: 'ok' } });
    const dead = deadPid();
    const write = async (action: string, at: number, pid: number) => {
      const key = await intendAudit(store, entry(action, at));
      await store.atomically(() => store.auditIntents.putSync(key, { ...store.auditIntents.get(key)!, pid }));
    };
    await write('terminals.unpair', 2_000, dead);
    await write('pairing.approve', 1_000, dead);
    // An offline `users` command still running in another process: its own intent, not cut short.
    const running = process.ppid;
    await write('users.disable', 1_500, running);

    const settled = await settleInterruptedAudits(store, 9_000, processRuns);
    expect(settled.map((e) => [e.seq, e.action, e.detail])).toEqual([
      [2, 'pairing.approve', { remoteAddress: '192.0.2.1', result: 'interrupted', recordedAt: 9_000 }],
      [3, 'terminals.unpair', { remoteAddress: '192.0.2.1', result: 'interrupted', recordedAt: 9_000 }],
    ]);
    expect(intents().map((i) => i.action)).toEqual(['users.disable']);
    expect(verifyAuditChain(store.audit.getRange().map(({ value }) => value))).toMatchObject({ ok: true, entries: 3 });
    // Settled once: a second start finds nothing more of them.
    expect(await settleInterruptedAudits(store, 9_500, processRuns)).toEqual([]);
  });
});
