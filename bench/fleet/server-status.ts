/**
 * @module The server's own account of a phase, read with the operators' `server.status` before and after it: how the
 * calls spread over the front threads, how many went to another thread's actor, and the leases and actors each holds.
 * Read between phases only, from the orchestrator, so the reads cost the measured phases nothing.
 */
import { AdminClient } from '../../src/admin/admin-client.js';
import type { ServerStatus } from '../../src/protocol/types.js';
import { addOperator } from './fleet-setup.js';
import { Store } from '../../src/store/store.js';

/** An operator without 2FA: it may read, not approve, which is all the bench needs of it. Re-added on every run (a reused fleet keeps it). */
const OBSERVER = { user: 'bench-observer', password: 'bench observer passphrase, read only' };

/** One front thread over one phase. */
export interface FrontPhase {
  thread: number;
  /** Master calls answered (2xx) on this thread's sockets during the phase. */
  answered: number;
  /** Of those, handed to another thread's actor (the lease holder). */
  handedOn: number;
  /** Calls other threads handed to this one. */
  received: number;
  /** Leases and actors at the end of the phase. */
  leases: number;
  actors: number;
}

/**
 * Adds the observer to the store (offline, like any operator) unless it is there: a refused `users add` is audited, a
 * write that would leave a reused fleet's store unsealed (index-seal.ts) and its next start checking every index.
 */
export async function ensureObserver(dataDir: string): Promise<void> {
  const store = Store.open(dataDir);
  const present = store.operators.get(OBSERVER.user) !== undefined;
  await store.close();
  if (!present) await addOperator(dataDir, OBSERVER, { with2fa: false });
}

export class StatusReader {
  private constructor(private readonly admin: AdminClient) {}

  static async connect(adminPort: number, sfp: string): Promise<StatusReader> {
    const admin = await AdminClient.connect(`wss://127.0.0.1:${adminPort}/admin`, { fingerprint: sfp, timeoutMs: 10_000 });
    await admin.login(OBSERVER.user, OBSERVER.password);
    return new StatusReader(admin);
  }

  read(): Promise<ServerStatus> {
    return this.admin.request<ServerStatus>('server.status');
  }

  close(): Promise<void> {
    return this.admin.close();
  }
}

/** Per thread, what happened between two reads; a thread that restarted in between (its counts began again) is left out. */
export function frontsBetween(before: ServerStatus, after: ServerStatus): FrontPhase[] {
  return after.threads.flatMap((end): FrontPhase[] => {
    const start = before.threads.find((t) => t.thread === end.thread);
    if (!start?.report || !end.report || start.startedAt !== end.startedAt) return [];
    return [{
      thread: end.thread,
      answered: end.report.master.answered - start.report.master.answered,
      handedOn: end.report.handedOn - start.report.handedOn,
      received: end.report.received - start.report.received,
      leases: end.leases,
      actors: end.report.actors,
    }];
  });
}

/**
 * "thread 0: 52% of the calls, 0.13% handed on, 4,990 leases, 5,000 actors; thread 1: …". The server's `busy` is left
 * out: it covers fixed 5 s windows, longer than a phase; the phase's CPU per thread comes from /proc.
 */
export function describeFronts(fronts: readonly FrontPhase[]): string {
  const total = fronts.reduce((n, f) => n + f.answered, 0);
  const pct = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(part > 0 && part < whole / 100 ? 2 : 0)}%` : '—');
  return fronts.map((f) => `thread ${f.thread}: ${pct(f.answered, total)} of the calls, ${pct(f.handedOn, f.answered)} handed on, `
    + `${f.leases.toLocaleString('en-US')} leases, ${f.actors.toLocaleString('en-US')} actors`).join('; ');
}
