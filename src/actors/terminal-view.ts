/** @module A terminal as operators see it, wherever it is shown: in a listing, in an op's answer, and in the push after a decision. */
import type { TerminalView } from '../protocol/types.js';
import { terminalView } from '../protocol/views.js';
import type { TerminalRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { pendingRequestsOf } from './pairing-flow.js';

/** A request for this serial that has its code and waits for an operator. */
export function awaitsApproval(store: Store, serial: string, now: number): boolean {
  return pendingRequestsOf(store, serial, now).some((record) => record.stage === 'approval');
}

/**
 * `pending` when it is not paired and a request waits for an operator. The same everywhere: the pushes after an unpair
 * said `expected` for a terminal whose listing said `pending`, and the page, which filters on the pushed state,
 * refreshed its list at every such push.
 */
export function terminalViewOf(store: Store, record: TerminalRecord, now: number): TerminalView {
  return terminalView(record, record.tfp === null && awaitsApproval(store, record.serial, now), store.lastSeenAt(record));
}
