/**
 * @module The seal a clean stop leaves on the store: proof at the next start that no build which does not keep every
 * index wrote it since, so that the indexes need no check entry by entry (store-upgrade.ts).
 *
 * The seal holds LMDB's id of the transaction that wrote it, which is then the store's last: any later commit, by any
 * process or build, moves the store's id past it. A start that finds the seal and the ids equal knows the store is as
 * the sealing server left it; anything else (no seal: a first start, a crash, a store from before seals; another id:
 * an older build, an offline command that does not keep the seal, a tool wrote since) has every index checked. Readers
 * (a backup's copy among them) move no id. Writes cost nothing more: the seal is one write at the stop and one at the
 * start, none per event; an offline command that keeps it (writeKeepingSeal) writes it again with each of its writes.
 */
import type { RootDatabase } from 'lmdb';
import type { Store } from './store.js';

/** The indexes this version keeps with every write of what they index, whatever its options. */
export const KEPT_INDEXES = ['pairingTimeline', 'awaitingOperator', 'foldedSerials', 'terminalSearch', 'cashEventsBySerial', 'auditTimes'] as const;
/** `cashEventTimes` is kept only while `--cash-event-days` is on. */
export type SealedIndex = (typeof KEPT_INDEXES)[number] | 'cashEventTimes';

export interface IndexSeal {
  /** The store's last transaction id once the seal was written: the seal's own. */
  txnId: number;
  /**
   * The indexes the sealing run kept with every write, and the only ones the seal vouches for. A version that adds an
   * index MUST check it when a seal does not name it: an older version that seals (this one, after a downgrade) wrote
   * its records without it, then sealed the store as intact. Absent in seals of builds before the list: none is vouched for.
   */
  indexes?: SealedIndex[];
  /** When, epoch ms: for whoever reads the settings by hand. */
  sealedAt: number;
}

/** What an intact seal vouches for. */
export interface SealVouches {
  indexes: ReadonlySet<SealedIndex>;
  sealedAt: number;
}

/** LMDB's id of the last committed write transaction (mdb_env_info's me_last_txnid; lmdb-js types getStats() as {}). */
export function lastTxnId(root: RootDatabase): number {
  return (root.getStats() as { lastTxnId: number }).lastTxnId;
}

/** Whether `seal` is the store's last write: nothing, by any process or build, has written past it. */
const isIntact = (seal: IndexSeal | undefined, root: RootDatabase): seal is IndexSeal => seal?.txnId === lastTxnId(root);

/** Whether the store holds a seal that nothing has written past: read only, for a tool that wants to know before a start. */
export function sealIntact(store: Store): boolean {
  return isIntact(store.settings.get('index-seal'), store.root);
}

/**
 * What the seal vouches for, read and removed at start-up before anything else writes; null when there is none, or
 * when the store was written since it. MUST be removed, not only compared: a later crash would otherwise leave a seal
 * that only a later store's id (a copy, a store replaced under the same path) could ever match by chance.
 */
export function breakSeal(store: Store): SealVouches | null {
  const seal = store.settings.get('index-seal');
  if (seal === undefined) return null;
  const intact = isIntact(seal, store.root);
  store.root.transactionSync(() => store.settings.removeSync('index-seal'));
  return intact ? { indexes: new Set(Array.isArray(seal.indexes) ? seal.indexes : []), sealedAt: seal.sealedAt } : null;
}

/**
 * Seals the store at a clean stop: once every thread that writes it has stopped, before it is closed. Returns whether
 * it is sealed: a write committed after this one (another process's) leaves it unsealed, which costs the next start a
 * check and nothing else.
 *
 * This run's writes that nobody awaited (a session's touch, a stale entry dropped by a read: lmdb-js commits them in a
 * batch later) MUST be committed first: committed after the seal, at the close, they left every such stop unsealed
 * while it said it was sealed.
 */
export async function sealStore(store: Store, now: number): Promise<boolean> {
  await store.root.committed;
  store.root.transactionSync(() => {
    const indexes: SealedIndex[] = [...KEPT_INDEXES, ...(store.indexesCashEventTimes ? ['cashEventTimes' as const] : [])];
    putSealSync(store, { indexes, sealedAt: now });
  });
  // One queued meanwhile would commit after the seal: then it is not sealed, and says so. Unless that write kept the seal
  // itself (writeKeepingSeal: a backup taken while this server stopped), which the seal's own id then shows.
  await store.root.committed;
  return sealIntact(store);
}

/**
 * Runs `writes` and keeps an intact seal intact, for an offline tool of this version (`identity prepare|promote` under
 * the data dir's lock; `backup`'s audit entry, beside a server or not: a running server's seal is already broken; the
 * fleet benchmark emptying its cash events between targets): `writes` MUST go through the Store's own methods
 * or keep every index whole itself, as a server's writes do. The check, the writes and the new seal are one write
 * transaction, so no other writer comes between them; a seal that was not intact stays absent. Resolves once that
 * transaction is on disk, with what `writes` returned and whether the store is sealed after it.
 */
export async function writeKeepingSeal<T>(store: Store, writes: () => T): Promise<{ value: T; sealed: boolean }> {
  await store.root.committed;
  const done = store.root.transactionSync(() => {
    // Inside the write transaction, whose lock no other writer can take: nothing commits between this check and the new seal.
    const seal = store.settings.get('index-seal');
    const intact = isIntact(seal, store.root);
    const value = writes();
    if (intact) putSealSync(store, seal);
    return { value, intact };
  });
  // Durable on resolve, as Store.atomically is: its callers' writes are audit entries (a backup's, an identity change's)
  // that the command reports done next, and lmdb's transactionSync commits without waiting for the disk (overlappingSync).
  await store.flushed();
  return { value: done.value, sealed: done.intact && sealIntact(store) };
}

/**
 * Writes the seal as this write transaction's own: MUST run inside it, whose lock no other writer can take, so that the
 * id it will commit as is the last committed one plus one.
 */
function putSealSync(store: Store, seal: Omit<IndexSeal, 'txnId'>): void {
  store.settings.putSync('index-seal', { ...seal, txnId: lastTxnId(store.root) + 1 });
}
