/**
 * @module Operator actions whose audit entry is not written yet. An audited action commits its change and then appends
 * its entry, in two transactions (the change is often an actor's, on a front thread): a server killed between the two
 * left an approval or an unpairing that no entry told of, and a chain that still verified. So the entry is written
 * ahead, as an intent, durably, before the action runs; the append that records the outcome removes it in its own
 * transaction. What a process that died left is appended as `interrupted`: the action was asked for and may have
 * taken effect. An action that marks its intent in the transaction of its change (noteTookEffectSync: an actor's
 * decision) is appended with `tookEffect: true` as well: it did.
 */
import crypto from 'node:crypto';
import type { AuditIntentRecord, AuditRecord } from './records.js';
import type { Store } from './store.js';

/** Tells this process's intents from those of a server or command that ran before (pids are reused, and per container). */
const THIS_PROCESS = crypto.randomUUID();
/** A `pairing-server users` command runs for seconds: an intent of one this old is left by one that died. */
export const COMMAND_INTENT_MAX_AGE_MS = 10 * 60_000;

/** Writes the intent and resolves once it is on disk, with the key its entry's append settles (Store.appendAudit). */
export async function intendAudit(store: Store, by: AuditIntentRecord['by'], intent: Omit<AuditIntentRecord, 'pid' | 'by' | 'process'>): Promise<string> {
  return store.atomically(() => intendAuditSync(store, by, intent));
}

/** intendAudit inside a transaction of the caller's, which MUST be durable before the action runs. */
export function intendAuditSync(store: Store, by: AuditIntentRecord['by'], intent: Omit<AuditIntentRecord, 'pid' | 'by' | 'process'>): string {
  const key = crypto.randomUUID();
  store.auditIntents.putSync(key, { ...intent, by, process: THIS_PROCESS, pid: process.pid });
  return key;
}

/**
 * Marks the intent `key` as taken effect, inside the transaction that makes the action's change: an outcome that
 * never comes back (a front thread that exits after the commit, a server killed) is then audited as done, not as
 * perhaps done. An intent settled meanwhile (its op gave up waiting) is left alone: its entry is written.
 */
export function noteTookEffectSync(store: Store, key: string | undefined): void {
  if (key === undefined) return;
  const intent = store.auditIntents.get(key);
  if (intent) store.auditIntents.putSync(key, { ...intent, tookEffect: true });
}

/** What the entry of an action cut short says of its outcome: interrupted, and taken effect when its intent was marked. */
export function interruptedOutcome(intent: AuditIntentRecord | undefined): { result: 'interrupted'; tookEffect?: true } {
  return { result: 'interrupted', ...(intent?.tookEffect ? { tookEffect: true as const } : {}) };
}

/** The intent `key` as committed by now, on any thread (the read snapshot is renewed first); undefined once settled. */
export function intentNow(store: Store, key: string): AuditIntentRecord | undefined {
  store.root.resetReadTxn();
  return store.auditIntents.get(key);
}

/**
 * Appends an `interrupted` entry, oldest first, for every intent whose process is gone, and removes it with that
 * append. `server`: the caller is a server that holds the data dir's lock, so any other server's intent is a dead
 * one's; without it (a `users` command, while a server may run) a server's intents are left alone. A command's intent
 * is gone when its pid no longer runs (`running`) or it is older than a command ever runs.
 */
export async function settleInterruptedAudits(store: Store, opts: { server: boolean; now: number; running: (pid: number) => boolean }): Promise<AuditRecord[]> {
  const gone = (intent: AuditIntentRecord): boolean => {
    if (intent.process === THIS_PROCESS) return false;
    if (intent.by === 'server') return opts.server;
    return !opts.running(intent.pid) || opts.now - intent.at > COMMAND_INTENT_MAX_AGE_MS;
  };
  const left = [...store.auditIntents.getRange()].filter(({ value }) => gone(value));
  left.sort((a, b) => a.value.at - b.value.at);
  const settled: AuditRecord[] = [];
  for (const { key, value } of left) {
    const { pid: _pid, by: _by, process: _process, tookEffect: _tookEffect, detail, ...entry } = value;
    // Settled by another process meanwhile (a command and a server starting together): not twice.
    if (store.auditIntents.get(key) === undefined) continue;
    settled.push(await store.appendAudit({ ...entry, detail: { ...detail, ...interruptedOutcome(value), recordedAt: new Date(opts.now).toISOString() } }, key));
  }
  return settled;
}
