/** @module A terminal pointed at another gate keeps its old server until the new gate answers the pairing request (docs/TERMINAL-CLI.md, "Changing the gate"). */
import { AppError } from '../errors.js';
import { formatFingerprint } from '../crypto/fingerprint.js';
import { gatePairing, type PairOptions, type PairResult } from './gate-pairing.js';
import type { PinnedReply } from './pinned-https.js';
import { emptyServer, pinVouched, type StoredState } from './state-dir.js';

/** What the switch needs from the terminal: its stored state, a way to replace and persist it, and a signed gate call for a given state. */
export interface GateSwitchHost {
  current(): StoredState;
  /** Makes `candidate` the terminal's state and saves it. */
  adopt(candidate: StoredState): void;
  save(): void;
  gate(state: StoredState, body: Record<string, unknown>): Promise<PinnedReply>;
}

/**
 * A paired terminal, one with a pairing in progress, or one that has pinned a server's SFP loses something when it forgets
 * its server. The pin counts on its own: an unpaired terminal that dropped it would trust whatever the next gate presents.
 */
export function hasTrustToLose(state: StoredState): boolean {
  return state.server.gateUrl !== null && (state.paired || state.pairing !== null || state.server.sfp !== null);
}

/** A gate reply that shows the pairing exchange started: the gate took our signed request and answered in the protocol's terms. */
function startsExchange(reply: PinnedReply): boolean {
  const status = (reply.json as { status?: unknown } | null)?.status;
  return (reply.status === 200 && status === 'trusted') || (reply.status === 202 && status === 'pending');
}

/**
 * Pairs with a gate other than the one the terminal trusts (or with its own gate under a new certificate), on a copy of
 * its state. The copy is pinned before the first byte goes out: to `expectedSfp` (given by the person at the terminal,
 * who had it from the new server's operator), else to the SFP the terminal already trusts, along with the next SFP its
 * server announced (PROTOCOL.md, "Certificate rollover"), which it accepts in the pin's place. So a gate with another
 * certificate is refused at the TLS handshake (pinned-https.ts) and receives no pairing request. The pairing code cannot
 * protect a switch: it is compared by the new server's "operator", who may be whoever talked someone into typing its
 * URL. The same server at a new address, or servers sharing a licence, present the same SFP and need nothing more.
 *
 * The copy replaces the stored state (old pin, master URL, paired flag and pairing forgotten) at the new gate's first
 * pairing answer to our signed request: `202 pending` to the commit, or `200 trusted`. Not earlier: a finished TLS
 * handshake only shows that some HTTPS server listens there (a mistyped port may reach any web server), and a refusal (unknown_serial,
 * pairing_rejected, rate_limited, a 404 page) means that server will not pair us now, so dropping a working pairing
 * for it would gain nothing. Not later: from its first pending answer on, the new gate holds a request whose nonce
 * the stored state MUST keep before the reveal, or a resumed `pair` could not continue it.
 */
export async function pairWithNewGate(host: GateSwitchHost, gateUrl: string, expectedSfp: string | null, opts: PairOptions): Promise<PairResult> {
  const previous = host.current();
  // MUST pin the candidate before its first gate call: a null pin here would be trust on first use of the new server.
  const sfp = expectedSfp ?? previous.server.sfp;
  const sfpVouched = expectedSfp !== null || pinVouched(previous);
  // The next SFP the pinned server announced goes with its pin, and with nothing else (not with another server's SFP
  // given with --expect-sfp): it was read only from answers over connections that presented that pin
  // (Terminal.followServer), so it is the pin's holder naming its successor, as trustworthy as the pin itself, and
  // the URL, which authenticates nothing, does not change that. Without it a terminal that heard the announcement
  // refused its own server, promoted meanwhile, at a new address.
  const announcedSfp = sfp === previous.server.sfp ? (previous.server.announcedSfp ?? null) : null;
  const candidate: StoredState = { ...previous, server: { ...emptyServer(), gateUrl, sfp, sfpVouched, announcedSfp }, paired: false, pairedConfirmedAt: null, pairing: null };
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
    if (err.code === 'server_pin_mismatch') throw refusedCertificate(err, previous, gateUrl, expectedSfp, announcedSfp);
    const own = err.message.replace(/[.\s]+$/, '');
    throw new AppError(err.code, `${own}. ${unchangedNote(previous, gateUrl)}`, err.details, { cause: err });
  }
}

/**
 * The new gate presented another SFP than the one it was pinned to. The message names both and says where the right one
 * comes from; it MUST NOT read as "just add this flag": whoever asked for the switch may be the attacker.
 */
function refusedCertificate(err: AppError, previous: StoredState, gateUrl: string, expectedSfp: string | null, announcedSfp: string | null): AppError {
  const { expected, seen } = err.details as { expected: string; seen: string };
  const presented = formatFingerprint(seen);
  const next = announcedSfp === null ? '' : ` nor the next one its server announced, ${formatFingerprint(announcedSfp)}`;
  const against = expectedSfp === null ? `the pinned ${formatFingerprint(expected)}${next}` : `${formatFingerprint(expected)} given with --expect-sfp${next}`;
  return new AppError(
    'server_pin_mismatch',
    `the gate at ${gateUrl} presents SFP ${presented}, not ${against}; nothing was sent to it. ` +
      "If this terminal is really moving to another server, get that server's fingerprint from its operator " +
      '(`pairing-server fingerprint` on that server) over a channel you trust, not from whoever asked you to run this command, ' +
      `and only if it is the same pass \`--expect-sfp ${presented}\`. ${unchangedNote(previous, gateUrl)}`,
    { ...err.details, gateUrl },
    { cause: err },
  );
}

/** What a failed switch to `gateUrl` left as it was. */
function unchangedNote(previous: StoredState, gateUrl: string): string {
  const { server } = previous;
  const kept = previous.paired
    ? `Still paired with ${server.gateUrl} (master ${server.masterUrl ?? 'unknown'})`
    : previous.pairing !== null
      ? `Still set to gate ${server.gateUrl} with its pairing request in progress`
      : `Still set to gate ${server.gateUrl}, pinned to SFP ${formatFingerprint(server.sfp!)}`;
  const pending = server.nextGateUrl === gateUrl ? `; the switch to ${gateUrl} waits until its gate answers \`terminal pair\`` : '';
  return `${kept}; nothing changed${pending}.`;
}
