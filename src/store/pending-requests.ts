/** @module A serial's pairing requests that still wait, whichever key made them. */
import { effectiveState, type PairingRecord } from './records.js';
import type { Store } from './store.js';

/** The serial's requests still waiting, for the terminal's own key or another (one per certificate: the index's keys). */
export function pendingRequestsOf(store: Store, serial: string, now: number): PairingRecord[] {
  const pending: PairingRecord[] = [];
  for (const { value: requestId } of store.withPrefix(store.pairingIndex, serial)) {
    const record = store.pairing.get(requestId);
    if (record?.serial === serial && effectiveState(record, now) === 'pending') pending.push(record);
  }
  return pending;
}
