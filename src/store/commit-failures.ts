/** @module When lmdb cannot commit (a full disk, an I/O error): telling such a failure from the caller's own errors, finding its cause, and logging it on the thread that opened the store. */
import type { Store } from './store.js';

/** A failed asynchronous write's cause, and how many failed since the last one reported. */
export interface WriteFailure {
  cause: unknown;
  failures: number;
}

/**
 * Logs a store's failed writes on the thread that opened it (the first at once, then at most a line per 10 s).
 *
 * When a commit fails, lmdb 3.5 also rejects a promise it made for the batch itself and handed to nobody (write.js,
 * the start of an event-turn batch): unhandled, it ended the thread even with every write of ours waited for. Such a
 * rejection is taken here as the store's failure; any other unhandled rejection still ends the thread, as Node's
 * default does. Once per thread.
 */
export function logWriteFailures(store: Store, log: { error(fields: object, msg: string): void }): void {
  process.on('unhandledRejection', (reason) => {
    if (!isCommitFailure(reason)) throw reason;
    void store.settled(Promise.reject(reason));
  });
  store.onWriteFailure = ({ cause, failures }) =>
    log.error({ err: cause, failures }, 'the store cannot write (is the disk full?): writes are refused with storage_unavailable until it can');
}

/** lmdb's rejection of a write whose commit failed. */
export function isCommitFailure(reason: unknown): reason is Error & { commitError: Promise<unknown> } {
  return reason instanceof Error && (reason as { commitError?: unknown }).commitError instanceof Promise;
}

/**
 * Takes lmdb's rejection of a write and returns its cause. lmdb rejects every write of a failed commit with "Commit
 * failed" and puts the cause (ENOSPC, EIO…) in `commitError`, a promise rejected a moment later that nobody else waits
 * for: unhandled, it ended the thread, and a restarted thread cannot make room on a full disk (the fronts went into a
 * crash loop: bench/JOURNAL.md, session 23).
 */
export async function causeOf(err: Error & { commitError: Promise<unknown> }): Promise<unknown> {
  const { commitError } = err;
  // Settled in the same turn as the rejection in lmdb 3.5; the race keeps a cause that never comes from holding us up.
  return Promise.race([commitError.then(() => err, (cause: unknown) => cause), new Promise((resolve) => setImmediate(() => resolve(err)))]);
}
