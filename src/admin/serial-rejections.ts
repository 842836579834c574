/**
 * @module `pairing.reject {serial}`: every request for one serial that waits for an operator, rejected at once. While
 * the gate is open anyone who knows a serial can ask for it with keys of their own; each request is still rejected as
 * one is, by its own `reject` decision on the terminal's actor (operator-decisions.ts), so the pairing state machine
 * stays there.
 */
import { AppError } from '../errors.js';
import type { PairingView } from '../protocol/types.js';
import type { PairingRecord } from '../store/records.js';
import { pendingRequestsOf } from '../store/pending-requests.js';
import type { Store } from '../store/store.js';
import { argText, type OpsContext } from './op-spec.js';

/** At most this many TFPs are named in the audit entry (its count is whole): an entry is small, whatever was asked. */
const TFPS_IN_ENTRY = 50;

export interface SerialRejection {
  serial: string;
  /** The requests rejected, oldest first; empty when none waited. */
  rejected: PairingView[];
}

/**
 * The serial's requests an operator can decide: pending with their code, as `pairing.list {state: pending, serial}`
 * shows them (one still waiting for the terminal's reveal cannot be decided), oldest first; only those of `only` when
 * given (the ones a confirmation showed).
 */
export function waitingWithCode(store: Store, serial: string, now: number, only?: readonly string[]): PairingRecord[] {
  return pendingRequestsOf(store, serial, now)
    .filter((record) => record.stage === 'approval' && (only === undefined || only.includes(record.requestId)))
    .sort((a, b) => a.requestedAt - b.requestedAt || (a.requestId < b.requestId ? -1 : 1));
}

/** The audit entry's detail: the serial, how many requests wait, and their TFPs, from the args as sent. */
export function serialRejectionDetail(args: Record<string, unknown>, ctx: OpsContext): Record<string, unknown> {
  const serial = argText(args, 'serial');
  if (serial === null) return {};
  const only = Array.isArray(args.requestIds) ? args.requestIds.filter((id): id is string => typeof id === 'string') : undefined;
  const waiting = waitingWithCode(ctx.store, serial, ctx.now(), only);
  return {
    serial, requests: waiting.length, tfps: waiting.slice(0, TFPS_IN_ENTRY).map((record) => record.tfp),
    ...(waiting.length > TFPS_IN_ENTRY && { tfpsLeftOut: waiting.length - TFPS_IN_ENTRY }),
  };
}

/**
 * The entry of a rejection that took effect: how many were rejected and their TFPs, in place of those that waited when
 * it was asked. It rejects what waits once its intent is on disk, and a key that asked in between is rejected too: the
 * entry names every key whose request it refused, as one reject's entry does.
 */
export function serialRejectionOutcome(result: unknown): Record<string, unknown> {
  return rejectionOutcome((result as Partial<SerialRejection> | null)?.rejected);
}

/**
 * An entry's `rejected` (how many) and `tfps` (their keys, the first TFPS_IN_ENTRY) for the requests an op rejected:
 * `pairing.reject {serial}`'s, and `terminals.delete`'s, which rejects every request of the terminal that still waits.
 */
export function rejectionOutcome(rejected: readonly { tfp: string }[] | undefined): Record<string, unknown> {
  if (!Array.isArray(rejected)) return {};
  return {
    rejected: rejected.length, tfps: rejected.slice(0, TFPS_IN_ENTRY).map((view) => view.tfp),
    tfpsLeftOut: rejected.length > TFPS_IN_ENTRY ? rejected.length - TFPS_IN_ENTRY : undefined,
  };
}

/**
 * Rejects them one decision at a time. A request decided meanwhile (approved, rejected, expired: the decision says
 * `invalid_state`) or gone meanwhile (`not_found`: its key committed anew, which replaces it with a request still
 * waiting for its reveal, or the terminal was deleted, which rejected it) is left as it is; any other failure (the store
 * cannot write) stops here and is the op's. Before, a key whose request was listed could commit again while the op ran:
 * the op stopped at `not_found`, audited as refused, with the requests before it already rejected.
 */
export async function rejectWaiting(ctx: OpsContext, serial: string, user: string, only?: readonly string[]): Promise<SerialRejection> {
  const rejected: PairingView[] = [];
  for (const record of waitingWithCode(ctx.store, serial, ctx.now(), only)) {
    try {
      rejected.push(await ctx.router.decide({ type: 'reject', serial, requestId: record.requestId, user }) as PairingView);
    } catch (error) {
      if (!(error instanceof AppError && (error.code === 'invalid_state' || error.code === 'not_found'))) throw error;
    }
  }
  return { serial, rejected };
}
