/** @module Runs one admin request: access check, the op, the audit entry, and the reply frame. Every failure becomes a coded reply. */
import { AppError } from '../errors.js';
import type { AdminReply, AdminRequest } from '../protocol/types.js';
import { check } from '../protocol/schemas.js';
import { intendAudit, intentNow, interruptedOutcome } from '../store/audit-intents.js';
import type { AuditIntentRecord } from '../store/records.js';
import { ThreadExited } from '../net/outcome.js';
import { nameTried } from './operators.js';
import { checkRights } from './op-rights.js';
import type { Connection, OpSpec, OpsContext } from './op-spec.js';
import { OPS } from './ops.js';

/** Parses a raw frame into a request; a frame that is not one still gets an answer (with id 0 when none is readable). */
export function parseFrame(raw: string): Required<AdminRequest> {
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
  return { id, op: frame.op, args: args as Record<string, unknown>, background: frame.background === true };
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

/** `rate_limited` because the address spent its attempt budget: written only as ThrottledAttempts allows. */
class OverBudget extends AppError {}

/** Spends one attempt of the connection's address budget; throws OverBudget when it is spent. */
function spendAttempt(ctx: OpsContext, conn: Connection): void {
  const admission = ctx.logins.admit(conn.remoteAddress);
  if (!admission.ok) throw new OverBudget('rate_limited', `too many attempts from this address; try again in ${admission.retryAfterSec} s`, { retryAfter: admission.retryAfterSec });
}

export async function dispatch(ctx: OpsContext, conn: Connection, raw: string): Promise<AdminReply> {
  let id = 0;
  try {
    const frame = parseFrame(raw);
    id = frame.id;
    const spec = Object.hasOwn(OPS, frame.op) ? OPS[frame.op] : undefined;
    if (!spec) throw new AppError('unknown_op', `unknown op "${frame.op.slice(0, 64)}"`);
    // From the args as sent and the store before the op runs (deposit.set keeps the address it replaced).
    const target = spec.target?.(frame.args, ctx) ?? null;
    const detail = spec.auditDetail?.(frame.args, ctx) ?? {};
    // Captured first: logout clears the session, login sets it.
    const before = conn.session?.user ?? null;
    // A failed login is the name it tried, also on a connection logged in as someone else: under the session's user it
    // would read as that operator failing to log in.
    const failedAs = (): string | null => (frame.op === 'login' ? `?${nameTried(ctx.store, frame.args.user) ?? NOT_A_USER_NAME}` : conn.session?.user ?? null);
    let spent = false;
    /** The entry written ahead of the op (audit-intents.ts), settled by the entry of its outcome. */
    let intent: string | null = null;
    try {
      // MUST come before the arguments are read: a login with arguments that do not validate is an attempt too.
      if (spec.spendsBudget) {
        spent = true;
        spendAttempt(ctx, conn);
      }
      // A page refreshing itself (`background`) is not operator activity: an unattended page must still time out. Only
      // reads and resume may say so: an op that changes something is the operator at work, whatever the frame says.
      checkAccess(ctx, conn, spec, frame.op, spec.slides !== false && !(frame.background && spec.audit !== true));
      // Refusals that write nothing come before the intent: a refused request costs one commit, not two (OpSpec.args).
      const args = spec.args ? check(spec.args, frame.args) : frame.args;
      spec.precondition?.(ctx, conn, args);
      if (spec.audit === true && spec.writeAhead !== false) {
        const entry = { at: ctx.now(), user: failedAs() ?? '(anonymous)', action: frame.op, target };
        intent = await intendAudit(ctx.store, 'server', { ...entry, detail: withAddress(detail, conn.remoteAddress) });
      }
      const result = await spec.run(ctx, conn, args, { background: frame.background, intent: intent ?? undefined });
      if (spec.audit === true) await auditDone(ctx, conn.session?.user ?? before, frame.op, target, withOutcome(ctx, detail, spec, result), conn.remoteAddress, intent);
      return { id, ok: true, result };
    } catch (caught) {
      if (intent !== null && caught instanceof ThreadExited) {
        const { outcome, error } = cutShort(frame.op, caught, intentNow(ctx.store, intent));
        await audit(ctx, failedAs(), frame.op, target, { ...detail, ...outcome }, conn.remoteAddress, intent);
        throw error;
      }
      let error = caught;
      // An audited refusal without a live session (a dead resume token, an op before login) spends an attempt as well,
      // before it is written: sent in a loop, each would otherwise be an audit entry. A refused resume spends one on a
      // logged-in connection too: it is a token tried, not the operator at work. A valid resume spends nothing.
      if (spec.audit && !spent && (frame.op === 'resume' || !hasLiveSession(ctx, conn))) {
        try {
          spent = true;
          spendAttempt(ctx, conn);
        } catch (limited) {
          error = limited;
        }
      }
      // Refused attempts are audited too: operators must see who tried what. Past the budget, the first per window. A
      // logged-in operator's own refusals (no address budget spent on them) are written 30 a minute (refusal-budget.ts).
      // A refusal that changed something (the fifth wrong code rejected the request: attemptsLeft 0) is always written.
      const changedSomething = error instanceof AppError && error.details?.attemptsLeft === 0;
      const writeIt = (): boolean => (error instanceof OverBudget ? ctx.logins.throttled.note(conn.remoteAddress, frame.op)
        : spent || changedSomething || !conn.session || !hasLiveSession(ctx, conn) || ctx.logins.refusals.admit(conn.session.user, frame.op));
      if (spec.audit && writeIt()) {
        const code = error instanceof AppError ? error.code : 'internal_error';
        // attemptsLeft 0: the fifth wrong code rejected the request (decided by `system`), and the entry says so.
        const attemptsLeft = error instanceof AppError ? error.details?.attemptsLeft : undefined;
        await audit(ctx, failedAs(), frame.op, target, {
          ...detail, result: code, ...(error instanceof OverBudget ? { budgetSpent: true } : {}), ...(typeof attemptsLeft === 'number' ? { attemptsLeft } : {}),
        }, conn.remoteAddress, intent);
      } else if (intent !== null) {
        // A refusal past the budget is not written one by one: neither is its intent, which would read as interrupted.
        await ctx.store.atomically(() => ctx.store.auditIntents.removeSync(intent!));
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

/** What a failed login that did not name an operator is recorded as. */
const NOT_A_USER_NAME = '(unknown user)';

function hasLiveSession(ctx: OpsContext, conn: Connection): boolean {
  return conn.session !== null && ctx.sessions.isLive(conn.session.tokenHash);
}

/**
 * Writes the summary of the attempts refused past their address's budget and not written one by one (ThrottledAttempts),
 * and starts a new window. Called at each window's end and at shutdown.
 */
export async function auditThrottled(ctx: OpsContext, windowSec: number): Promise<void> {
  const summary = ctx.logins.throttled.drain();
  if (summary) await audit(ctx, null, 'attempts.throttled', null, { result: 'rate_limited', windowSec, ...summary }, null);
  for (const { user, ...counted } of ctx.logins.refusals.drain()) {
    await audit(ctx, user, 'refusals.throttled', null, { result: 'rate_limited', windowSec, ...counted }, null);
  }
}

function checkAccess(ctx: OpsContext, conn: Connection, { access, changes }: Pick<OpSpec, 'access' | 'changes'>, op: string, slide: boolean): void {
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
  checkRights(ctx, conn.session.user, { access, changes }, op);
}

/**
 * A decision whose front thread exited before answering: its commit may have come first. Audited as `interrupted`, as
 * a server killed at that moment is at its next start, always (no refusal budget: it is no refusal), and with
 * `tookEffect` when the commit marked the intent (OperatorDecisions). The operator is told which, not "try again":
 * an approval or an unpairing done twice, or believed undone, is the mistake the intent exists to prevent.
 */
function cutShort(op: string, exited: ThreadExited, intent: AuditIntentRecord | undefined): { outcome: Record<string, unknown>; error: AppError } {
  const outcome = interruptedOutcome(intent);
  const message = outcome.tookEffect
    ? `front thread ${exited.thread} exited after ${op} took effect, before it answered: it is done; do not send it again`
    : `front thread ${exited.thread} exited while running ${op}: it may or may not have taken effect; look at its target before sending it again`;
  return { outcome, error: new AppError('overloaded', message) };
}

/**
 * The entry of an op that took effect. Its write failing (a full disk) MUST NOT turn the op into a refusal: the approval
 * or unpairing has committed, an error would have the operator retry it or believe it undone, and the catch would audit
 * it a second time as refused. The op's log line is written before the entry, so log-based monitoring still has it.
 */
async function auditDone(
  ctx: OpsContext, user: string | null, action: string, target: string | null, detail: Record<string, unknown>, remoteAddress: string | null, intent: string | null,
): Promise<void> {
  try {
    await audit(ctx, user, action, target, { ...detail, result: 'ok' }, remoteAddress, intent);
  } catch (err) {
    ctx.log.error({ err, user, action, target }, 'the audit log could not record an operator action that took effect');
  }
}

/**
 * The audit entry, and the same as one log line: monitoring that reads logs (a SIEM) sees logins, lockouts and changes
 * without a session. Details hold no secret (OpSpec.auditDetail); the logger's redaction stays as a second line.
 */
async function audit(
  ctx: OpsContext, user: string | null, action: string, target: string | null, detail: Record<string, unknown>, remoteAddress: string | null, intent: string | null = null,
): Promise<void> {
  const who = user ?? '(anonymous)';
  const { result, ...rest } = detail;
  const level = result === 'ok' ? 'info' : 'warn';
  ctx.log[level]({ user: who, action, target, result, remoteAddress, ...(Object.keys(rest).length > 0 ? { detail: rest } : {}) }, 'operator action');
  await ctx.store.appendAudit({ at: ctx.now(), user: who, action, target, detail: withAddress(detail, remoteAddress) }, intent);
}

/**
 * The detail of an op that took effect, with what its outcome says (OpSpec.auditOutcome): a key it sets to undefined is
 * left out. Reading the outcome MUST NOT fail the op, for the reason auditDone gives: the detail as sent is kept then.
 */
function withOutcome(ctx: OpsContext, detail: Record<string, unknown>, spec: OpSpec, result: unknown): Record<string, unknown> {
  if (!spec.auditOutcome) return detail;
  try {
    return Object.fromEntries(Object.entries({ ...detail, ...spec.auditOutcome(result) }).filter(([, value]) => value !== undefined));
  } catch (err) {
    ctx.log.error({ err }, 'the outcome of an operator action that took effect could not be read for its audit entry');
    return detail;
  }
}

/** An entry's detail with the address the op came from (none for the server's own entries). */
function withAddress(detail: Record<string, unknown>, remoteAddress: string | null): Record<string, unknown> {
  return remoteAddress === null ? detail : { ...detail, remoteAddress };
}
