/** @module The closed set of messages a terminal actor handles, and what each answers. */
import type { Authenticated } from '../auth/request-auth.js';
import type { HttpReply, PairingView, TerminalEdit, TerminalRequest, TerminalView } from '../protocol/types.js';

/**
 * An operator's decision on a terminal: approve and reject answer the request's view, the others the terminal's.
 * `intent`: the key of its op's audit entry written ahead (audit-intents.ts), which the decision's commit marks as taken
 * effect.
 */
export type OperatorCommand = (
  | { type: 'approve'; requestId: string; code: string; user: string }
  | { type: 'reject'; requestId: string; user: string }
  | { type: 'unpair'; user: string }
  /** Name, location, contact: through the actor, like every other write of a terminal record. */
  | { type: 'update'; edit: TerminalEdit; user: string; seen?: TerminalEdit }
  /** An unpaired terminal leaves the store (a mistyped serial, retired hardware); its pending requests are rejected. */
  | { type: 'delete'; user: string }
) & { intent?: string };

/** An operator's decision with the serial whose actor runs it, as it travels from the admin thread. */
export type Decision = OperatorCommand & { serial: string };

export type TerminalCommand =
  | { type: 'gate'; request: TerminalRequest; auth: Authenticated }
  | { type: 'master'; request: TerminalRequest; auth: Authenticated }
  | OperatorCommand;

export type TerminalReply =
  | { type: 'http'; reply: HttpReply }
  | { type: 'pairing'; view: PairingView }
  | { type: 'terminal'; view: TerminalView };
