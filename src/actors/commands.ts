/** @module The closed set of messages a terminal actor handles, and what each answers. */
import type { Authenticated } from '../auth/request-auth.js';
import type { HttpReply, PairingView, TerminalEdit, TerminalRequest, TerminalView } from '../protocol/types.js';

export type TerminalCommand =
  | { type: 'gate'; request: TerminalRequest; auth: Authenticated }
  | { type: 'master'; request: TerminalRequest; auth: Authenticated }
  | { type: 'approve'; requestId: string; code: string; user: string }
  | { type: 'reject'; requestId: string; user: string }
  | { type: 'unpair'; user: string }
  | { type: 'update'; edit: TerminalEdit; user: string }
  | { type: 'delete'; user: string };

export type TerminalReply =
  | { type: 'http'; reply: HttpReply }
  | { type: 'pairing'; view: PairingView }
  | { type: 'terminal'; view: TerminalView };
