/** @module A terminal pointed at another gate keeps its old server until the new gate answers the pairing request (docs/TERMINAL-CLI.md, "Changing the gate"). */
import { AppError } from '../errors.js';
import { gatePairing, type PairOptions, type PairResult } from './gate-pairing.js';
import type { PinnedReply } from './pinned-https.js';
import { emptyServer, type StoredState } from './state-dir.js';

/** What the switch needs from the terminal: its stored state, a way to replace and persist it, and a signed gate call for a given state. */
export interface GateSwitchHost {
  current(): StoredState;
  /** Makes `candidate` the terminal's state and saves it. */
  adopt(candidate: StoredState): void;
  save(): void;
  gate(state: StoredState, body: Record<string, unknown>): Promise<PinnedReply>;
}

/** A paired terminal, or one with a pairing in progress, loses something when it forgets its server. */
export function hasTrustToLose(state: StoredState): boolean {
  return state.server.gateUrl !== null && (state.paired || state.pairing !== null);
}

/** A gate reply that shows the pairing exchange started: the gate took our signed request and answered in the protocol's terms. */
function startsExchange(reply: PinnedReply): boolean {
  const status = (reply.json as { status?: unknown } | null)?.status;
  return (reply.status === 200 && status === 'trusted') || (reply.status === 202 && status === 'pending');
}

/**
 * Pairs with a gate other than the one the terminal trusts, on a copy of its state. The copy replaces the stored
 * state (old pin, master URL, paired flag and pairing forgotten) at the new gate's first pairing answer to our
 * signed request: `202 pending` to the commit, or `200 trusted`. Not earlier: a finished TLS handshake only shows
 * that some HTTPS server listens there (a mistyped port may reach any web server), and a refusal (unknown_serial,
 * pairing_rejected, rate_limited, a 404 page) means that server will not pair us now, so dropping a working pairing
 * for it would gain nothing. Not later: from its first pending answer on, the new gate holds a request whose nonce
 * the stored state MUST keep before the reveal, or a resumed `pair` could not continue it.
 */
export async function pairWithNewGate(host: GateSwitchHost, gateUrl: string, opts: PairOptions): Promise<PairResult> {
  const previous = host.current();
  const candidate: StoredState = { ...previous, server: { ...emptyServer(), gateUrl }, paired: false, pairedConfirmedAt: null, pairing: null };
  const adopted = (): boolean => host.current() === candidate;
  const ctx = {
    state: candidate,
    save: () => {
      if (adopted()) host.save(); // until then the candidate lives in memory only
    },
    gate: async (body: Record<string, unknown>) => {
      const reply = await host.gate(candidate, body);
      if (!adopted() && startsExchange(reply)) host.adopt(candidate);
      return reply;
    },
  };
  try {
    return await gatePairing(ctx, opts);
  } catch (err) {
    if (adopted() || !(err instanceof AppError)) throw err;
    const own = err.message.replace(/[.\s]+$/, '');
    throw new AppError(err.code, `${own}. ${unchangedNote(previous, gateUrl)}`, err.details, { cause: err });
  }
}

/** What a failed switch to `gateUrl` left as it was. */
function unchangedNote(previous: StoredState, gateUrl: string): string {
  const { server } = previous;
  const kept = previous.paired
    ? `Still paired with ${server.gateUrl} (master ${server.masterUrl ?? 'unknown'})`
    : `Still set to gate ${server.gateUrl} with its pairing request in progress`;
  const pending = server.nextGateUrl === gateUrl ? `; the switch to ${gateUrl} waits until its gate answers \`terminal pair\`` : '';
  return `${kept}; nothing changed${pending}.`;
}
