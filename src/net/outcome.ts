/** @module Settles work whose answer crosses threads as a Result (errors.ts): an Error's class does not survive the boundary. */
import { AppError, reasonOf, type Result } from '../errors.js';
import type { Logger } from '../logger.js';

/** 503 for a call or decision whose terminal's actor is on a thread that cannot take it now; it is retried after a second. */
export const threadUnavailable = (state: 'restarting' | 'not responding'): AppError =>
  new AppError('overloaded', `the server thread of this terminal is ${state}; try again shortly`, { retryAfter: 1 });

/**
 * 503 for a call to a thread that exited before answering. For an operator's decision that is not "refused": the
 * thread may have committed it first (dispatch.ts reads the op's audit intent to tell).
 */
export class ThreadExited extends AppError {
  constructor(readonly thread: number, exitCode: number) {
    super('overloaded', `front thread ${thread} exited (code ${exitCode}); try again shortly`, { retryAfter: 1 });
  }
}

/**
 * Runs `work` and settles what it gives (a value, a promise, or a throw) as a Result: a domain error keeps its code,
 * details and reason; anything else is logged here and crosses as internal_error.
 */
export async function outcomeOf<T>(work: () => T | Promise<T>, log: Logger, context: Record<string, unknown>): Promise<Result<T>> {
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
