/** @module Unit tests: audit entries written ahead of their action, settled by their outcome or, after a crash, as interrupted; on a real LMDB store. */
import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMMAND_INTENT_MAX_AGE_MS, intendAudit, noteTookEffectSync, settleInterruptedAudits } from '../../../src/store/audit-intents.js';
import { verifyAuditChain } from '../../../src/store/audit-chain.js';
import { processRuns } from '../../../src/process-runs.js';
import type { AuditIntentRecord } from '../../../src/store/records.js';
import type { Store } from '../../../src/store/store.js';
import { openTempStore, type TempStore } from '../../helpers/actor-store.js';

let temp: TempStore;
let store: Store;

beforeEach(() => {
  temp = openTempStore('audit-intents-test');
  store = temp.store;
});

afterEach(async () => {
  await temp.close();
});

const entry = (action: string, at: number) => ({ at, user: 'alice', action, target: 'ATM-1', detail: { remoteAddress: '192.0.2.1' } });
const intents = () => [...store.auditIntents.getRange()].map(({ value }) => value);
/** The pid of a process that has ended. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid!;

/** An intent as another process left it: `process` and `pid` are that process's. */
async function leftBy(by: AuditIntentRecord['by'], action: string, at: number, pid: number): Promise<void> {
  const key = await intendAudit(store, by, entry(action, at));
  await store.atomically(() => store.auditIntents.putSync(key, { ...store.auditIntents.get(key)!, process: `earlier-${action}`, pid }));
}

describe('audit intents', () => {
  it('are removed by the append of their outcome, in the same transaction', async () => {
    const key = await intendAudit(store, 'server', entry('pairing.approve', 1_000));
    expect(intents()).toEqual([{ ...entry('pairing.approve', 1_000), by: 'server', process: expect.any(String), pid: process.pid }]);
    await store.appendAudit({ ...entry('pairing.approve', 1_001), detail: { result: 'ok' } }, key);
    expect(intents()).toEqual([]);
    expect(await settleInterruptedAudits(store, { server: true, now: 2_000, running: processRuns })).toEqual([]);
  });

  it('a starting server audits every other server\'s as interrupted, whatever its pid, oldest first, on an intact chain', async () => {
    await store.appendAudit({ ...entry('terminals.create', 500), detail: { result: 'ok' } });
    // The pid of the server that died now belongs to a running process (this one): it is still a dead server's.
    await leftBy('server', 'terminals.unpair', 2_000, process.pid);
    await leftBy('server', 'pairing.approve', 1_000, deadPid());
    // This process's own intent, of an op in flight: not cut short.
    await intendAudit(store, 'server', entry('gate.open', 1_500));

    const settled = await settleInterruptedAudits(store, { server: true, now: 9_000, running: processRuns });
    expect(settled.map((e) => [e.seq, e.action, e.detail])).toEqual([
      [2, 'pairing.approve', { remoteAddress: '192.0.2.1', result: 'interrupted', recordedAt: new Date(9_000).toISOString() }],
      [3, 'terminals.unpair', { remoteAddress: '192.0.2.1', result: 'interrupted', recordedAt: new Date(9_000).toISOString() }],
    ]);
    expect(intents().map((i) => i.action)).toEqual(['gate.open']);
    expect(verifyAuditChain(store.audit.getRange().map(({ value }) => value))).toMatchObject({ ok: true, entries: 3 });
    expect(await settleInterruptedAudits(store, { server: true, now: 9_500, running: processRuns })).toEqual([]);
  });

  it('an intent marked in the transaction of its change is settled as interrupted and taken effect; one settled first stays gone', async () => {
    await leftBy('server', 'pairing.approve', 1_000, deadPid());
    await leftBy('server', 'terminals.unpair', 2_000, deadPid());
    const [approve] = [...store.auditIntents.getRange()].filter(({ value }) => value.action === 'pairing.approve');
    await store.atomically(() => noteTookEffectSync(store, approve!.key));
    // Marking an intent whose entry was appended meanwhile must not bring it back as a left intent.
    const settledFirst = await intendAudit(store, 'server', entry('terminals.update', 2_500));
    await store.appendAudit({ ...entry('terminals.update', 2_600), detail: { result: 'ok' } }, settledFirst);
    await store.atomically(() => noteTookEffectSync(store, settledFirst));

    const settled = await settleInterruptedAudits(store, { server: true, now: 9_000, running: processRuns });
    expect(settled.map((e) => [e.action, e.detail])).toEqual([
      ['pairing.approve', { remoteAddress: '192.0.2.1', result: 'interrupted', tookEffect: true, recordedAt: new Date(9_000).toISOString() }],
      ['terminals.unpair', { remoteAddress: '192.0.2.1', result: 'interrupted', recordedAt: new Date(9_000).toISOString() }],
    ]);
    expect(intents()).toEqual([]);
  });

  it('a users command leaves a server\'s intents alone, and audits a command\'s that died or ran longer than a command runs', async () => {
    const now = 1_000_000_000;
    await leftBy('server', 'pairing.approve', now - 5_000, deadPid());
    await leftBy('command', 'users.disable', now - 5_000, deadPid());
    // A command still running in another process (its pid runs, and it is young): its own.
    await leftBy('command', 'users.passwd', now - 5_000, process.ppid);
    // A pid that runs, but an intent older than any command runs: its command died and the pid is another's now.
    await leftBy('command', 'users.enable', now - COMMAND_INTENT_MAX_AGE_MS - 1, process.ppid);
    const settled = await settleInterruptedAudits(store, { server: false, now, running: processRuns });
    expect(settled.map((e) => e.action)).toEqual(['users.enable', 'users.disable']);
    expect(intents().map((i) => i.action).sort()).toEqual(['pairing.approve', 'users.passwd']);
  });
});
