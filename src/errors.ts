/** @module The one table of error codes (code → HTTP status), AppError, and Result<T>: a value or a domain error as plain data. */

/**
 * Codes are the API: never rename or reuse one. The wire protocol's codes
 * (PROTOCOL.md) come from this table, as do the admin channel's and the CLIs'.
 */
export const ERROR_CODES = {
  // wire: malformed input
  bad_request: 400,
  malformed_json: 400,
  invalid_field: 400,
  bad_certificate: 400,
  bad_signature_input: 400,
  bad_content_digest: 400,
  // wire: authentication and trust
  unauthenticated: 401,
  not_paired: 403,
  unknown_serial: 403,
  pairing_rejected: 403,
  gate_closed: 403,
  no_pairing_request: 404,
  not_found: 404,
  commitment_mismatch: 409,
  conflict: 409,
  request_timeout: 408,
  payload_too_large: 413,
  rate_limited: 429,
  overloaded: 503,
  storage_unavailable: 503,
  internal_error: 500,
  // admin channel
  login_failed: 401,
  totp_required: 401,
  session_expired: 401,
  not_logged_in: 401,
  forbidden: 403,
  requires_2fa: 403,
  code_mismatch: 403,
  unknown_op: 400,
  already_exists: 409,
  invalid_state: 409,
  // terminal side (never on the wire; the CLI prints them)
  server_pin_mismatch: 495,
  not_initialized: 400,
  server_unreachable: 502,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code];
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** A domain error: its `code` is what callers branch on; `message` is for humans and never carries secrets. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra fields for the wire answer (e.g. `retryAfter`); never secrets. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
    this.status = statusOf(code);
    this.details = details;
  }
}

/**
 * Why a request was refused, for the server's log only: master answers every authentication failure alike, and keeps
 * which check failed in the error's `cause`.
 */
export function reasonOf(error: unknown): string | undefined {
  return error instanceof AppError && typeof error.cause === 'string' ? error.cause : undefined;
}

/**
 * A value or a domain error as plain data: what crosses a thread (an Error's class does not survive it), and what a
 * check returns where a refusal is an expected answer (a garbage certificate), not an exception. `details` and
 * `reason` are an AppError's (retryAfter, the log-only reason).
 */
export type Result<T> =
  | { ok: true; value: T }
  | { ok: false; code: ErrorCode; message: string; details?: Record<string, unknown>; reason?: string };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = <T = never>(code: ErrorCode, message: string): Result<T> => ({ ok: false, code, message });

/** The value, or the error thrown again as the AppError it was. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw new AppError(result.code, result.message, result.details, result.reason ? { cause: result.reason } : undefined);
}

/** The errno code of a failed system call (`ENOENT`, `EEXIST`…), or undefined for an error that is not one. */
export function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}
