/** @module Runs one admin request: access check, the op, the audit entry, and the reply frame. Every failure becomes a coded reply. */
import { AppError } from '../errors.js';
import type { AdminReply } from '../protocol/types.js';
import { OPS, type Connection, type OpsContext } from './ops.js';

/** Parses a raw frame into a request; a frame that is not one still gets an answer (with id 0 when none is readable). */
export function parseFrame(raw: string): { id: number; op: string; args: Record<string, unknown> } {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new FrameError(0, new AppError('malformed_json', 'the message is not valid JSON'));
  }
  const frame = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const id = typeof frame.id === 'number' && Number.isSafeInteger(frame.id) ? frame.id : 0;
  if (typeof frame.op !== 'string') throw new FrameError(id, new AppError('invalid_field', 'op: a string is required'));
  const args = frame.args ?? {};
  if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new FrameError(id, new AppError('invalid_field', 'args: an object is required'));
  return { id, op: frame.op, args: args as Record<string, unknown> };
}

export class FrameError extends Error {
  constructor(readonly id: number, override readonly cause: AppError) {
    super(cause.message);
  }
}

export function errorFrame(id: number, error: AppError): AdminReply {
  // Details (retryAfter, attemptsLeft) let a client say how long to wait or how many tries are left.
  return { ...error.details, id, ok: false, error: error.code, message: error.message };
}

export async function dispatch(ctx: OpsContext, conn: Connection, raw: string): Promise<AdminReply> {
  let id = 0;
  try {
    const frame = parseFrame(raw);
    id = frame.id;
    const spec = Object.hasOwn(OPS, frame.op) ? OPS[frame.op] : undefined;
    if (!spec) throw new AppError('unknown_op', `unknown op "${frame.op.slice(0, 64)}"`);
    const target = spec.target?.(frame.args) ?? null;
    const detail = spec.auditDetail?.(frame.args, ctx) ?? {};
    // Captured first: logout clears the session, login sets it.
    const before = conn.session?.user ?? null;
    try {
      checkAccess(ctx, conn, spec.access, spec.slides !== false);
      const result = await spec.run(ctx, conn, frame.args);
      if (spec.audit === true) await audit(ctx, conn.session?.user ?? before, frame.op, target, { ...detail, result: 'ok', remoteAddress: conn.remoteAddress });
      return { id, ok: true, result };
    } catch (error) {
      // Refused attempts are audited too: operators must see who tried what.
      if (spec.audit) {
        const code = error instanceof AppError ? error.code : 'internal_error';
        const who = conn.session?.user ?? (frame.op === 'login' ? `?${String(frame.args.user ?? '').slice(0, 32)}` : null);
        await audit(ctx, who, frame.op, target, { ...detail, result: code, remoteAddress: conn.remoteAddress });
      }
      throw error;
    }
  } catch (error) {
    if (error instanceof FrameError) return errorFrame(error.id, error.cause);
    if (error instanceof AppError) return errorFrame(id, error);
    ctx.log.error({ err: error }, 'admin op failed unexpectedly');
    return errorFrame(id, new AppError('internal_error', 'the server failed to process the request'));
  }
}

function checkAccess(ctx: OpsContext, conn: Connection, access: 'none' | 'session' | '2fa', slide: boolean): void {
  if (access === 'none') return;
  if (!conn.session) throw new AppError('not_logged_in', 'log in first');
  // Re-checked on every op: a logout or expiry elsewhere ends this connection's rights at once.
  try {
    conn.session = ctx.sessions.check(conn.session.tokenHash, slide);
  } catch (error) {
    conn.session = null;
    conn.unsubscribeAll();
    throw error;
  }
  if (access === '2fa' && ctx.store.operators.get(conn.session.user)?.totpSecret == null) {
    throw new AppError('requires_2fa', 'only operators with 2FA enrolled may do this: enrol TOTP first');
  }
}

async function audit(ctx: OpsContext, user: string | null, action: string, target: string | null, detail: Record<string, unknown>): Promise<void> {
  await ctx.store.appendAudit({ at: ctx.now(), user: user ?? '(anonymous)', action, target, detail });
}
