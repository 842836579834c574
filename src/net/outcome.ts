/** @module Results and domain errors as plain data, for answers that cross threads (an Error's class does not survive the boundary). */
import { AppError, reasonOf } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ErrorCode } from '../errors.js';

/** 503 for a call or decision whose terminal's actor is on a thread that cannot take it now; it is retried after a second. */
export const threadUnavailable = (state: 'restarting' | 'not responding'): AppError =>
  new AppError('overloaded', `the server thread of this terminal is ${state}; try again shortly`, { retryAfter: 1 });

/** A value or a domain error crossing threads. */
export type Outcome<T> =
  | { ok: true; value: T }
  | { ok: false; code: ErrorCode; message: string; details?: Record<string, unknown>; reason?: string };

/**
 * Runs `work` and settles what it gives (a value, a promise, or a throw) as an Outcome: a domain error keeps its code;
 * anything else is logged here and crosses as internal_error.
 */
export async function outcomeOf<T>(work: () => T | Promise<T>, log: Logger, context: Record<string, unknown>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    if (error instanceof AppError) {
      const reason = reasonOf(error);
      return { ok: false, code: error.code, message: error.message, ...(error.details ? { details: { ...error.details } } : {}), ...(reason ? { reason } : {}) };
    }
    log.error({ err: error, ...context }, 'actor call failed unexpectedly');
    return { ok: false, code: 'internal_error', message: 'the server failed to process the request' };
  }
}

/** The value of an Outcome, or its error thrown again as an AppError. */
export function valueOf<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  throw new AppError(outcome.code, outcome.message, outcome.details, outcome.reason ? { cause: outcome.reason } : undefined);
}
