/** @module The admin channel's operations (PROTOCOL.md "Admin channel"): one table of op → access rule, audit flag and handler. */
import { z } from 'zod';
import { AppError } from '../errors.js';
import { serialSchema } from '../protocol/schemas.js';
import { ADMIN_TOPICS, EDITABLE_TERMINAL_FIELDS, GATE_DEFAULT_MINUTES, GATE_MAX_MINUTES, type DeletedTerminalView, type DepositSetView, type EditableTerminalField, type GateStatus, type UnpairedTerminalView, type UpdatedTerminalView } from '../protocol/types.js';
import { depositView, terminalView, unknownSerialView } from '../protocol/views.js';
import type { TerminalRecord } from '../store/records.js';
import { foldSerial } from '../store/store.js';
import { ADDRESS_FORMATS, isValidDepositAddress, SUPPORTED_COINS } from '../protocol/deposit-address.js';
import { staleEdit } from '../actors/operator-decisions.js';
import { pairingViewOf, terminalViewOf } from '../actors/operator-views.js';
import { listAudit, listPairing, listTerminals } from './listings.js';
import { argText, op, type Connection, type OpSpec, type OpsContext } from './op-spec.js';
import { beginTotpEnrolment, checkLogin, confirmTotpEnrolment, hasTwoFactor, nameTried, roleOf } from './operators.js';
import { rejectionOutcome, rejectWaiting, serialRejectionDetail, serialRejectionOutcome } from './serial-rejections.js';
import { VPN_OPS } from './vpn-ops.js';
import { CASH_OPS, knownSerial } from './cash-ops.js';
import { checkRights } from './op-rights.js';

/**
 * An operator's free text (a terminal's name, location, contact): one line of visible text. No control characters, which
 * would forge rows of cas tables and logs; no format characters (bidi marks and overrides, zero-width spaces, BOM,
 * tags), which reorder or hide what the page shows (two right-to-left marks made "+44 20 7946 0958" read
 * "+44 200958 7946"), except the zero-width joiner that emoji are made of; no half surrogate pairs.
 */
const line = (max: number) => z.string().max(max).regex(/^(?:(?![\p{Cc}\p{Cf}\p{Cs}\u2028\u2029])[^]|\u200d)*$/u, 'one line of visible text, without control or format characters');
const text = (max: number) => line(max).default('');
const requestIdArg = z.object({ requestId: z.string().min(1).max(64) });
/**
 * `subscribe`'s and `unsubscribe`'s topics: 1 to 3 entries, as there are three topics (a frame of thousands is refused,
 * not walked through).
 */
const topicsArg = z.array(z.enum(ADMIN_TOPICS)).min(1).max(ADMIN_TOPICS.length);
const serialArg = z.object({ serial: serialSchema });

/**
 * A decision's audit entry names the terminal too, and the key decided on: `audit.list {serial}` then finds its whole
 * story, and which key was trusted stays on record after the request leaves the pairing history (90 days).
 */
function requestDetail(args: Record<string, unknown>, ctx: OpsContext): Record<string, unknown> {
  const requestId = argText(args, 'requestId');
  const request = requestId === null ? undefined : ctx.store.pairing.get(requestId);
  return { serial: request?.serial ?? null, tfp: request?.tfp ?? null };
}
/** A value as sent, for an audit entry: a string cut to its longest bound, a boolean as it is, anything else null. */
const asSent = (value: unknown): string | boolean | null => (typeof value === 'string' ? value.slice(0, 256) : typeof value === 'boolean' ? value : null);
const terminalEditArgs = z.object({
  serial: serialSchema, name: line(128).optional(), location: line(256).optional(), contact: line(128).optional(),
  /** The values the editor saw: a field another operator changed meanwhile is refused (conflict), not overwritten. */
  seen: z.object({ name: z.string().max(128).optional(), location: z.string().max(256).optional(), contact: z.string().max(128).optional() }).strict().optional(),
});
/** The editable fields an update names, as sent (valid or not): what the operator meant to change. */
const editedFields = (args: Record<string, unknown>): (typeof EDITABLE_TERMINAL_FIELDS)[number][] => EDITABLE_TERMINAL_FIELDS.filter((field) => args[field] !== undefined);

/**
 * An update's audit detail: the fields named, and for each the value before and the one asked for (strings only, cut to
 * their bound). The contact is the number operators call to have codes read out: a swapped one must leave a trace, as a
 * swapped deposit address does.
 */
function updateDetail(args: Record<string, unknown>, ctx: OpsContext): Record<string, unknown> {
  const fields = editedFields(args);
  const serial = argText(args, 'serial');
  const before = serial === null ? undefined : ctx.store.terminals.get(serial);
  const changes = Object.fromEntries(fields.map((field) => [field, { from: before?.[field] ?? null, to: typeof args[field] === 'string' ? (args[field] as string).slice(0, 256) : null }]));
  return { fields, changes };
}

/**
 * The entry of an update that took effect: each field's `from` as the terminal's actor found it as it wrote, `to` as
 * saved. Read as the op arrived (updateDetail), another operator's edit landing in between left `from` naming a value
 * that edit had already replaced.
 */
function updateOutcome(result: unknown): Record<string, unknown> {
  const saved = result as Partial<UpdatedTerminalView> | null;
  if (!saved?.previous) return {};
  return { changes: Object.fromEntries(Object.entries(saved.previous).map(([field, from]) => [field, { from, to: saved[field as EditableTerminalField] ?? null }])) };
}

const loginArgs = z.object({ user: z.string().max(64), password: z.string().max(1024), totp: z.string().max(16).optional() });

async function login(ctx: OpsContext, conn: Connection, { user, password, totp }: z.infer<typeof loginArgs>) {
  // The address's attempt budget was spent before its arguments were read (OpSpec.spendsBudget), whatever they were.
  ctx.logins.checkUser(user, conn.remoteAddress);
  let record;
  try {
    record = await checkLogin(ctx.store, user, password, totp, ctx.now(), (hash) => ctx.logins.checkPassword(conn.remoteAddress, hash));
  } catch (error) {
    // Neither a missing TOTP code on the first try (part of a normal login) nor a busy server's refusal is a guess.
    const notAGuess = error instanceof AppError && ((error.code === 'totp_required' && !totp) || error.code === 'rate_limited');
    if (notAGuess) ctx.logins.released(user);
    else ctx.logins.failed(user);
    throw error;
  }
  ctx.logins.succeeded(user, conn.remoteAddress);
  const { token, session } = await ctx.sessions.create(record);
  startSession(conn, session);
  // The role lets a client offer only what the account may do; the server still checks it on every op (dispatch.ts).
  return { token, expiresAt: new Date(session.expiresAt).toISOString(), user: record.name, has2fa: record.totpSecret !== null, role: roleOf(record) };
}

/**
 * A session taken up on a connection starts it with no subscriptions, as a new connection has: those it held were
 * granted to the session before, whose rights (`cash` follows cash.list's) need not be this one's.
 */
function startSession(conn: Connection, session: NonNullable<Connection['session']>): void {
  conn.unsubscribeAll();
  conn.session = session;
}

const contactNeeds2fa = (): AppError => new AppError('requires_2fa', 'setting a terminal\'s contact needs 2FA: approvers call it to hear the pairing code. Enrol TOTP first (cas totp enroll --code CODE), or ask an operator with 2FA');

function terminalOf(ctx: OpsContext, serial: string): TerminalRecord {
  const terminal = ctx.store.terminals.get(serial);
  if (!terminal) throw new AppError('not_found', `no terminal with serial ${serial}`);
  return terminal;
}

function pairingOf(ctx: OpsContext, requestId: string) {
  const record = ctx.store.pairing.get(requestId);
  if (!record) throw new AppError('not_found', `no pairing request ${requestId}`);
  return record;
}

export const OPS: Readonly<Record<string, OpSpec>> = {
  login: op({ access: 'none', changes: 'own-account', audit: true, spendsBudget: true, writeAhead: false, target: (a, ctx) => nameTried(ctx.store, a.user), args: loginArgs, run: login }),
  resume: {
    // Every page reload resumes: audit only refusals, which mean a stale or stolen token.
    access: 'none', changes: 'nothing', audit: 'failures',
    run(ctx, conn, args, call) {
      // A page reconnecting by itself after a network blip is not the operator at work: it must not keep a session alive.
      const session = ctx.sessions.resume(args.token, !call.background);
      startSession(conn, session);
      const account = ctx.store.operators.get(session.user);
      return { user: session.user, expiresAt: new Date(session.expiresAt).toISOString(), has2fa: account?.totpSecret != null, role: roleOf(account ?? {}) };
    },
  },
  logout: {
    access: 'session', changes: 'own-account', audit: true, writeAhead: false,
    async run(ctx, conn) {
      if (conn.session) await ctx.sessions.destroy(conn.session.tokenHash);
      conn.session = null;
      conn.unsubscribeAll();
      return { loggedOut: true };
    },
  },
  'totp.enroll': {
    // The enrolment code is a secret: checked in operators.ts, never put into the audit entry or the log.
    access: 'session', changes: 'own-account', audit: true,
    run: (ctx, conn, args) => beginTotpEnrolment(ctx.store, conn.session!.user, args.code, conn.session!.tokenHash, ctx.now()),
  },
  'totp.confirm': op({
    access: 'session', changes: 'own-account', audit: true, args: z.object({ totp: z.string().max(16) }),
    async run(ctx, conn, { totp }) {
      // Ends the operator's other sessions (operators.ts): their connections are told now, not at the next sweep.
      const { sessionsEnded } = await confirmTotpEnrolment(ctx.store, conn.session!.user, totp, ctx.now(), conn.session!.tokenHash);
      if (sessionsEnded > 0) conn.endDeadSessions?.();
      return { has2fa: true, sessionsEnded };
    },
  }),
  'terminals.create': op({
    access: 'session', changes: 'server', audit: true, target: (a) => argText(a, 'serial'),
    // What it was created with: the contact approvers will call is on record from the start, as its changes are.
    auditDetail: (a) => Object.fromEntries((['name', 'location', 'contact', 'vpn'] as const).filter((f) => a[f] !== undefined).map((f) => [f, asSent(a[f])])),
    args: z.object({ serial: serialSchema, name: text(128), location: text(256), contact: text(128), vpn: z.boolean().default(false) }),
    // The contact as for an update: set at creation, a password alone would choose the number approvers call.
    precondition(ctx, conn, { contact }) {
      if (contact !== '' && !hasTwoFactor(ctx.store, conn.session!.user)) throw contactNeeds2fa();
    },
    async run(ctx, conn, spec) {
      const record: TerminalRecord = {
        ...spec, createdAt: ctx.now(), createdBy: conn.session!.user,
        tfp: null, certDer: null, pairedAt: null, pairedBy: null, lastSeenAt: null,
      };
      const folded = foldSerial(spec.serial);
      const existing = await ctx.store.atomically(() => {
        const taken = ctx.store.foldedSerials.get(folded) ?? (ctx.store.terminals.get(spec.serial) && spec.serial);
        if (taken) return taken;
        ctx.store.putTerminalSync(record);
        ctx.store.foldedSerials.putSync(folded, spec.serial);
        // Created, it is no longer unknown: the list is what operators still have to look into.
        ctx.store.unknownSerials.removeSync(spec.serial);
        // A deleted namesake's time, written behind just after its delete (write-behind.ts), is not this terminal's.
        ctx.store.lastSeen.removeSync(spec.serial);
        return null;
      });
      if (existing === spec.serial) throw new AppError('already_exists', `a terminal with serial ${spec.serial} already exists`);
      if (existing !== null) throw new AppError('already_exists', `terminal ${existing} already exists, and serials that differ only in case are one terminal to a person: ${spec.serial} was not created`);
      const view = terminalView(record, false, null);
      ctx.events('terminals', 'terminal.created', { terminal: view });
      return view;
    },
  }),
  'terminals.list': {
    access: 'session', changes: 'nothing', audit: false,
    run: (ctx, _conn, args) => listTerminals(ctx.store, args, ctx.now()),
  },
  'terminals.get': op({
    access: 'session', changes: 'nothing', audit: false, args: serialArg,
    run: (ctx, _conn, { serial }) => terminalViewOf(ctx.store, terminalOf(ctx, serial), ctx.now()),
  }),
  'terminals.unpair': op({
    // 2FA: unpairing breaks a terminal's trust until someone on site pairs it again with a phone call. With a password
    // alone, whoever had it could unpair the whole fleet in a loop.
    access: '2fa', changes: 'server', audit: true, target: (a) => argText(a, 'serial'), args: serialArg,
    // The key whose trust ends: which key was trusted, and until when, stays on record. Read as the op arrives for a
    // refusal's entry; the entry of an unpair that took effect names the key the actor found pinned as it ran: an
    // approval of another key landing in between (a second operator) made it forget that one, and the entry named the
    // key the approval had already replaced.
    auditDetail: (a, ctx) => ({ tfp: ctx.store.terminals.get(argText(a, 'serial') ?? '')?.tfp ?? null }),
    auditOutcome: (result) => {
      const unpaired = (result as Partial<UnpairedTerminalView> | null)?.unpairedTfp;
      return typeof unpaired === 'string' ? { tfp: unpaired } : {};
    },
    precondition: (ctx, _conn, { serial }) => terminalOf(ctx, serial),
    run: (ctx, conn, { serial }, { intent }) => ctx.router.decide({ type: 'unpair', serial, user: conn.session!.user, intent }),
  }),
  'terminals.delete': op({
    // 2FA as for a contact change: deleted and created again, a terminal's contact would be whatever a password chose.
    access: '2fa', changes: 'server', audit: true, target: (a) => argText(a, 'serial'),
    // What the terminal was: a deletion by mistake can be undone by hand from the audit log.
    auditDetail: (a, ctx) => {
      const serial = argText(a, 'serial');
      const terminal = serial === null ? undefined : ctx.store.terminals.get(serial);
      return terminal ? { name: terminal.name, location: terminal.location, contact: terminal.contact, vpn: terminal.vpn } : {};
    },
    // The requests its delete rejected, with their keys, as pairing.reject {serial} names them: the pairing history
    // forgets them after its days, and the audit log is then the only record of which keys asked for the serial.
    auditOutcome: (result) => rejectionOutcome((result as Partial<DeletedTerminalView> | null)?.rejectedRequests),
    args: serialArg,
    precondition: (ctx, _conn, { serial }) => terminalOf(ctx, serial),
    run: (ctx, conn, { serial }, { intent }) => ctx.router.decide({ type: 'delete', serial, user: conn.session!.user, intent }),
  }),
  'terminals.update': op({
    access: 'session', changes: 'server', audit: true, target: (a) => argText(a, 'serial'), auditDetail: updateDetail, args: terminalEditArgs,
    auditOutcome: updateOutcome,
    precondition(ctx, conn, { serial, seen, ...edit }) {
      if (Object.keys(edit).length === 0) throw new AppError('invalid_field', `give at least one of ${EDITABLE_TERMINAL_FIELDS.join(', ')}`);
      const stale = staleEdit(serial, seen, terminalOf(ctx, serial));
      if (stale) throw stale;
      // The approver reads the pairing code to this number: a password alone must not redirect that call to a thief's phone.
      // Any update that names it, the same value too: compared here, it could still undo a change queued in the actor.
      if (edit.contact !== undefined && !hasTwoFactor(ctx.store, conn.session!.user)) throw contactNeeds2fa();
    },
    // Through the terminal's actor, never read-modify-write here: the actor writes the same record when it pairs or unpairs.
    run: (ctx, conn, { serial, seen, ...edit }, { intent }) => ctx.router.decide({ type: 'update', serial, edit, seen, user: conn.session!.user, intent }),
  }),
  'pairing.list': {
    access: 'session', changes: 'nothing', audit: false,
    run: (ctx, _conn, args) => listPairing(ctx.store, args, ctx.now()),
  },
  'pairing.get': op({
    access: 'session', changes: 'nothing', audit: false, args: requestIdArg,
    run: (ctx, _conn, { requestId }) => pairingViewOf(ctx.store, pairingOf(ctx, requestId), ctx.now()),
  }),
  'pairing.approve': op({
    access: '2fa', changes: 'server', audit: true, target: (a) => argText(a, 'requestId'), auditDetail: requestDetail,
    args: requestIdArg.extend({ code: z.string().max(32) }),
    precondition: (ctx, _conn, { requestId }) => pairingOf(ctx, requestId),
    run: (ctx, conn, { requestId, code }, { intent }) => ctx.router.decide({ type: 'approve', serial: pairingOf(ctx, requestId).serial, requestId, code, user: conn.session!.user, intent }),
  }),
  'pairing.reject': op({
    // One request, or every request of a serial that waits with its code (serial-rejections.ts): keys anyone made at an
    // open gate, rejected at once. The same access as one reject: refusing trust is never the dangerous direction.
    access: 'session', changes: 'server', audit: true, target: (a) => argText(a, 'requestId') ?? argText(a, 'serial'),
    auditDetail: (a, ctx) => (a.requestId !== undefined ? requestDetail(a, ctx) : serialRejectionDetail(a, ctx)),
    auditOutcome: serialRejectionOutcome,
    args: z.object({
      requestId: requestIdArg.shape.requestId.optional(), serial: serialSchema.optional(),
      requestIds: z.array(requestIdArg.shape.requestId).min(1).max(1000).optional(),
    }).refine((a) => (a.requestId === undefined) !== (a.serial === undefined) && (a.requestIds === undefined || a.serial !== undefined), {
      path: ['requestId'], message: 'give requestId (one request) or serial (every request of it that waits; requestIds: only those of them)',
    }),
    precondition: (ctx, _conn, { requestId, serial }) => (requestId !== undefined ? pairingOf(ctx, requestId) : terminalOf(ctx, serial!)),
    run: (ctx, conn, { requestId, serial, requestIds }, { intent }) => (requestId !== undefined
      ? ctx.router.decide({ type: 'reject', serial: pairingOf(ctx, requestId).serial, requestId, user: conn.session!.user, intent })
      : rejectWaiting(ctx, serial!, conn.session!.user, requestIds)),
  }),
  'unknown.list': {
    access: 'session', changes: 'nothing', audit: false,
    run: (ctx) => [...ctx.store.unknownSerials.getRange().map(({ value }) => unknownSerialView(value))],
  },
  subscribe: op({
    access: 'session', changes: 'nothing', audit: false,
    // `serial` narrows `cash` to one terminal (its detail page): subscribing to `cash` again replaces the earlier one.
    args: z.object({ topics: topicsArg, serial: serialSchema.optional() })
      .refine((a) => a.serial === undefined || a.topics.includes('cash'), { path: ['serial'], message: 'serial: only with the cash topic (whose events it narrows to one terminal)' }),
    precondition(ctx, conn, { topics, serial }) {
      if (!topics.includes('cash')) return;
      // Pushes about cash events are a read of them: whoever may not run cash.list may not hear of them either.
      checkRights(ctx, conn.session!.user, CASH_OPS['cash.list']!, 'cash.list');
      if (serial !== undefined) knownSerial(ctx, serial);
    },
    run(_ctx, conn, { topics, serial }) {
      conn.subscribe(topics, serial ?? null);
      return serial === undefined ? { topics } : { topics, serial };
    },
  }),
  unsubscribe: op({
    access: 'session', changes: 'nothing', audit: false,
    // A connection holds one `cash` subscription: unsubscribing from `cash` ends it whatever serial narrowed it. Strict,
    // so that a `serial` sent in the belief that it picks which one is refused rather than ignored.
    args: z.object({ topics: topicsArg }).strict(),
    run(_ctx, conn, { topics }) {
      const { topics: held, cashSerial } = conn.unsubscribe(topics);
      return cashSerial === null ? { topics: held } : { topics: held, serial: cashSerial };
    },
  }),
  'audit.list': {
    access: 'session', changes: 'nothing', audit: false,
    run: (ctx, _conn, args) => listAudit(ctx.store, args),
  },
  'deposit.set': op({
    // The address customers pay into is what an attacker would swap: 2FA as for an approval (a password alone is what
    // leaks), and the entry keeps the new one and the one it replaced.
    access: '2fa', changes: 'server', audit: true, target: (a) => argText(a, 'coin'),
    // Read as the op arrives for a refusal's entry. The entry of a change names the address its own write replaced, read
    // in that write's transaction: a second operator's deposit.set landing in between (the entry written ahead of each
    // takes a commit) had both entries name the same address replaced.
    auditDetail: (a, ctx) => {
      const coin = argText(a, 'coin')?.toUpperCase() ?? null;
      return { address: argText(a, 'address'), previous: (coin && ctx.store.deposits.get(coin)?.address) ?? null };
    },
    auditOutcome: (result) => {
      const replaced = (result as Partial<DepositSetView> | null)?.previous;
      return replaced === undefined ? {} : { previous: replaced };
    },
    args: z.object({ coin: z.string().toUpperCase().pipe(z.enum(SUPPORTED_COINS as [string, ...string[]])), address: z.string().trim().max(128) }),
    precondition(_ctx, _conn, { coin, address }) {
      if (!isValidDepositAddress(coin, address)) throw new AppError('invalid_field', `address: not a valid ${coin} address (checksum or format; expected ${ADDRESS_FORMATS[coin]})`);
    },
    async run(ctx, conn, { coin, address }): Promise<DepositSetView> {
      const record = { coin, address, updatedAt: ctx.now(), updatedBy: conn.session!.user };
      const previous = await ctx.store.atomically(() => {
        const replaced = ctx.store.deposits.get(coin)?.address ?? null;
        ctx.store.deposits.putSync(coin, record);
        return replaced;
      });
      return { ...depositView(record), previous };
    },
  }),
  'deposit.list': { access: 'session', changes: 'nothing', audit: false, run: (ctx) => [...ctx.store.deposits.getRange().map(({ value }) => depositView(value))] },
  'gate.status': { access: 'session', changes: 'nothing', audit: false, run: (ctx) => ctx.gate.status() },
  'gate.open': op({
    // Who let anyone at the gate, and for how long: the minutes as the op takes them (an open without any was kept as
    // null, the default's 60 said nowhere), and until when the gate opened.
    access: 'session', changes: 'server', audit: true,
    auditDetail: (a) => ({ minutes: a.minutes === undefined ? GATE_DEFAULT_MINUTES : typeof a.minutes === 'number' ? a.minutes : null }),
    auditOutcome: (result) => ({ openUntil: (result as Partial<GateStatus> | null)?.openUntil ?? undefined }),
    args: z.object({ minutes: z.number().int().min(1).max(GATE_MAX_MINUTES).default(GATE_DEFAULT_MINUTES) }),
    run: (ctx, _conn, { minutes }) => ctx.gate.open(minutes),
  }),
  'gate.close': { access: 'session', changes: 'server', audit: true, run: (ctx) => ctx.gate.close() },
  // Read by pages that refresh themselves: it must not keep an unattended session alive.
  'server.status': { access: 'session', changes: 'nothing', audit: false, slides: false, run: (ctx) => ctx.server.status() },
  ...VPN_OPS,
  ...CASH_OPS,
};
