/**
 * @module Terminals and pairing requests as operators see them, wherever they are shown: in a listing, in an op's answer,
 * and in the pushes after a request or a decision.
 */
import type { PairingView, TerminalView } from '../protocol/types.js';
import { pairingView, terminalView } from '../protocol/views.js';
import { effectiveState } from '../store/records.js';
import type { PairingRecord, TerminalRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { pendingRequestsOf } from '../store/pending-requests.js';

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

/** Requests of other keys for the serial of `record` that have their code and wait for an operator. */
export function otherKeysWaiting(store: Store, record: Pick<PairingRecord, 'serial' | 'tfp'>, now: number): PairingRecord[] {
  return pendingRequestsOf(store, record.serial, now).filter((other) => other.tfp !== record.tfp && other.stage === 'approval');
}

/**
 * With whether its serial is paired with another key, and, while it waits, how many other keys wait for the same serial:
 * two keys asking for a serial nobody has paired yet is the genuine terminal and an impostor racing its first contact
 * (or a terminal reset in the middle of pairing), and only the code tells them apart.
 */
export function pairingViewOf(store: Store, record: PairingRecord, now: number): PairingView {
  const waiting = effectiveState(record, now) === 'pending' ? otherKeysWaiting(store, record, now).length : 0;
  return pairingView(record, now, store.terminals.get(record.serial)?.tfp ?? null, waiting);
}
