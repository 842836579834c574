/**
 * @module Operator actions whose audit entry is not written yet. An audited action commits its change and then appends
 * its entry, in two transactions (the change is often an actor's, on a front thread): a server killed between the two
 * left an approval or an unpairing that no entry told of, and a chain that still verified. So the entry is written
 * ahead, as an intent, durably, before the action runs; the append that records the outcome removes it in its own
 * transaction. A start records each intent left by a process that is gone as `interrupted`: the action was asked for
 * and may have taken effect.
 */
import crypto from 'node:crypto';
import type { AuditIntentRecord, AuditRecord } from './records.js';
import type { Store } from './store.js';

/** Writes the intent and resolves once it is on disk, with the key its entry's append settles (Store.appendAudit). */
export async function intendAudit(store: Store, intent: Omit<AuditIntentRecord, 'pid'>): Promise<string> {
  const key = crypto.randomUUID();
  await store.atomically(() => store.auditIntents.putSync(key, { ...intent, pid: process.pid }));
  return key;
}

/**
 * Appends an `interrupted` entry for every intent whose process no longer runs (`running`), oldest first, and removes
 * it with that append. An intent of a running process (an offline `users` command while the server starts) is its own.
 */
export async function settleInterruptedAudits(store: Store, now: number, running: (pid: number) => boolean): Promise<AuditRecord[]> {
  const left = [...store.auditIntents.getRange()].filter(({ value }) => value.pid === process.pid || !running(value.pid));
  left.sort((a, b) => a.value.at - b.value.at);
  const settled: AuditRecord[] = [];
  for (const { key, value } of left) {
    const { pid: _pid, detail, ...entry } = value;
    settled.push(await store.appendAudit({ ...entry, detail: { ...detail, result: 'interrupted', recordedAt: now } }, key));
  }
  return settled;
}
