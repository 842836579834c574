/**
 * @module What an admin op is (OpSpec) and what it may use (OpsContext, Connection): the contract between the op tables
 * (ops.ts, vpn-ops.ts) and dispatch.ts, which runs them.
 */
import type { z } from 'zod';
import type { EventSink } from '../actors/context.js';
import type { TerminalDecisions } from '../actors/terminal-router.js';
import type { Logger } from '../logger.js';
import type { AdminTopic, GateStatus, ServerStatus } from '../protocol/types.js';
import type { Store } from '../store/store.js';
import type { VpnService } from '../vpn/vpn-service.js';
import type { LoginThrottle } from './login-throttle.js';
import type { Session, Sessions } from './sessions.js';

export interface GateControl {
  status(): GateStatus;
  open(minutes: number): Promise<GateStatus>;
  close(): Promise<GateStatus>;
}

export interface OpsContext {
  store: Store;
  /** The server's threads and load, for `server.status`. */
  server: { status(): Promise<ServerStatus> };
  sessions: Sessions;
  router: TerminalDecisions;
  gate: GateControl;
  vpn: VpnService;
  logins: LoginThrottle;
  events: EventSink;
  log: Logger;
  now(): number;
}

/** A connection's subscriptions: its topics in ADMIN_TOPICS' order, and the serial its `cash` one is narrowed to (null: none). */
export interface Subscriptions {
  topics: AdminTopic[];
  cashSerial: string | null;
}

/** What an op may know and change about the WebSocket connection that sent it. */
export interface Connection {
  session: Session | null;
  readonly remoteAddress: string;
  /** `cashSerial`: the `cash` topic about that one terminal only (null: every terminal); ignored without `cash`. */
  subscribe(topics: readonly AdminTopic[], cashSerial?: string | null): void;
  /** Ends these topics' subscriptions (`cash` whatever its serial) and answers what the connection still holds. */
  unsubscribe(topics: readonly AdminTopic[]): Subscriptions;
  unsubscribeAll(): void;
  /** Tells every connection whose session an op ended (`session.ended`) now, not at the next sweep (15 s). */
  endDeadSessions?(): void;
}

/**
 * What an op may change, which decides whether a viewer may run it (dispatch.ts): `nothing` (lists, gets, status,
 * subscribe, resume); `own-account` (the caller's own login, logout and 2FA enrolment: a viewer logs in and out too);
 * `server` (anything else: the fleet, pairing decisions, the gate, deposit addresses, the VPN; and an op that hands out
 * what lets its holder act as the server, such as the OpenVPN server's key). Only an operator runs `server` ops.
 */
export type OpChanges = 'nothing' | 'own-account' | 'server';
export const OP_CHANGES: readonly OpChanges[] = ['nothing', 'own-account', 'server'];

export interface OpSpec<A = Record<string, unknown>> {
  /** `session`: a logged-in operator; `2fa`: one whose account has TOTP enrolled. */
  access: 'none' | 'session' | '2fa';
  /**
   * MUST be declared by every op, never derived from `audit`: a new op is then a decision whether viewers may run it,
   * not a default (test/unit/admin/op-changes.test.ts checks every table). A `server` op needs a session (`access`).
   */
  changes: OpChanges;
  /** State-changing ops are written to the audit log, failures included; `failures`: only refused attempts (e.g. a dead token). */
  audit: boolean | 'failures';
  /**
   * The op spends one attempt of the address's budget (LoginThrottle.admit) every time, before its arguments are read
   * (login). Other audited ops spend one only when refused on a connection without a session.
   */
  spendsBudget?: true;
  /** false: the op is not operator activity (a page refreshing itself) and does not extend the session. Default true. */
  slides?: boolean;
  /**
   * false: no intent is written ahead of its entry (store/audit-intents.ts). For an op whose change a crash may leave
   * unaudited without harm, and which the unauthenticated may send (a login opens a session, which is audited as soon
   * as it is used; a logout ends one): such a flood must not cost two commits a try.
   */
  writeAhead?: false;
  target?(args: Record<string, unknown>, ctx: OpsContext): string | null;
  /**
   * What the audit entry adds to `detail` (besides result and address), from the args as sent and the store before the
   * op runs: small, never a secret.
   */
  auditDetail?(args: Record<string, unknown>, ctx: OpsContext): Record<string, unknown>;
  /**
   * What the entry of an op that took effect adds to `detail`, from its result: for an op whose effect the args and
   * the store before it do not fix (pairing.reject {serial} rejects what waits when it runs, after its intent's commit,
   * and a request may arrive in between). Small, never a secret; not in the entry of a refusal. A key set to undefined
   * is taken out of `detail`.
   */
  auditOutcome?(result: unknown): Record<string, unknown>;
  /**
   * The args' schema, checked before anything is written for the op (its audit intent included): a malformed request
   * costs one commit, its refusal's entry, and none past the refusal budget. `precondition` and `run` get what it parsed.
   */
  args?: z.ZodType<A>;
  /**
   * Refusals that only read (an unknown serial, a field another operator changed meanwhile), made before the intent for
   * the same reason. They read outside the transaction that makes the change, as checks in `run` would: what must hold
   * as the change commits is checked where it commits (the terminal's actor).
   */
  precondition?(ctx: OpsContext, conn: Connection, args: A): void;
  run(ctx: OpsContext, conn: Connection, args: A, call: OpCall): Promise<unknown> | unknown;
}

/** What an op's handler knows of its request besides its args. */
export interface OpCall {
  /** The client sent it by itself, not for the operator (dispatch.ts): it does not extend the session. */
  background: boolean;
  /** The key of the op's audit entry written ahead (audit-intents.ts): a decision marks it as taken effect as it commits. */
  intent: string | undefined;
}

/** An op whose handlers take its args as its schema parsed them: `op` only lets TypeScript infer `A` from `args`. */
export const op = <A>(spec: OpSpec<A> & { args: z.ZodType<A> }): OpSpec<A> => spec;

/** An argument as sent, for an audit entry's target or detail: a string cut to 128 characters, anything else null. */
export const argText = (args: Record<string, unknown>, key: string): string | null => (typeof args[key] === 'string' ? (args[key] as string).slice(0, 128) : null);
