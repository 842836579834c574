/** @module The error code an attempt was refused with, for tests that compare refusals: 'ok' when it was not refused. */
import { AppError } from '../../src/errors.js';

/** Anything but an AppError (a test's own mistake, a broken connection) is thrown on, not taken for a refusal. */
export async function refusalCode(attempt: Promise<unknown>): Promise<string> {
  try {
    await attempt;
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
  return 'ok';
}
