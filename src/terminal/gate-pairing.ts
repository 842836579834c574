/** @module The terminal's side of pairing with the gate (PROTOCOL.md "Pairing (gate)"): commit, reveal, show the code, wait for the operator. */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError, isErrorCode, statusOf, type ErrorCode } from '../errors.js';
import { formatFingerprint } from '../crypto/fingerprint.js';
import { commitmentOf, NONCE_BYTES, pairingCode } from '../crypto/pairing-code.js';
import { decodeBase64 } from '../protocol/schemas.js';
import type { PairingStage } from '../protocol/types.js';
import { jsonObject, parseServerUrl, type PinnedReply } from './pinned-https.js';
import { replyError } from './signed-call.js';
import { softwareVersion } from './software-version.js';
import { pinVouched, type PendingPairing, type StoredState } from './state-dir.js';

export interface PairOptions {
  /** Keep polling until the operator decides (or `timeoutMs` passes). */
  wait?: boolean;
  pollIntervalMs?: number;
  /** Limit for `wait`; unlimited when absent (the server expires requests itself). */
  timeoutMs?: number;
  /** Per-request network timeout. */
  requestTimeoutMs?: number;
  /** Called once per code, as soon as the code is known and the operator can see it too. */
  onCode?(code: string): void;
  onPoll?(polls: number): void;
  /**
   * The SFP the gate must present when it is not the pinned one (`--expect-sfp`, confirmed with the new server's operator);
   * read by `Terminal.pair`, which decides the switch, not by the exchange.
   */
  expectSfp?: string;
  /** Called when the request being resumed is gone on the server (expired or forgotten) and a new one is made: its code is void. */
  onRestart?(previous: { requestId: string; code: string }): void;
}

export type PairResult =
  | { status: 'trusted'; serial: string; tfp: string; sfp: string; masterUrl: string; vpn: unknown }
  | {
      status: 'pending';
      serial: string;
      tfp: string;
      sfp: string;
      stage: PairingStage;
      requestId: string;
      code: string;
      expiresAt: string | null;
      polls: number;
      timedOut: boolean;
    };

/** What the exchange needs from the terminal: its state (updated in place), a way to persist it, and a pinned signed gate call. */
export interface PairingContext {
  readonly state: StoredState;
  save(): void;
  gate(body: Record<string, unknown>): Promise<PinnedReply>;
}

const DEFAULT_POLL_INTERVAL_MS = 2_000;
/** Fresh starts in one run after a gate answered a new server nonce for a revealed request: a real gate never does. */
const MAX_RESTARTS = 2;

const commitBody = (terminalNonce: Buffer): Record<string, unknown> => ({
  commitment: commitmentOf(terminalNonce),
  info: { model: 'terminal-cli', softwareVersion: softwareVersion() },
});

function forgetPairing(ctx: PairingContext): void {
  ctx.state.pairing = null;
  ctx.save();
}

/**
 * Runs the exchange from wherever it stands. A pairing already in progress is resumed by polling,
 * so `pair` twice without `wait` first shows the code and then reports the outcome.
 */
export async function gatePairing(ctx: PairingContext, opts: PairOptions): Promise<PairResult> {
  return new GateExchange(ctx, opts).run();
}

/** What one gate answer leads to: the outcome of this run, or the next answer to handle. */
type Step = { done: PairResult } | { next: PinnedReply };

/** One run of the exchange: the gate's answers handled one by one, each leading to the next request or to the outcome. */
class GateExchange {
  private readonly deadline: number;
  private readonly interval: number;
  /** A fresh secret nonce per attempt, committed before the server's nonce is seen; kept in memory until the gate answers. */
  private fresh: Buffer | null = null;
  private polls = 0;
  private restarts = 0;
  /** The code this run has shown (onCode), if any. */
  private shownCode: string | null = null;

  constructor(private readonly ctx: PairingContext, private readonly opts: PairOptions) {
    this.deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
    this.interval = opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  }

  async run(): Promise<PairResult> {
    let reply = await this.start();
    for (;;) {
      const body = jsonObject(reply) ?? {};
      let step: Step;
      if (reply.status === 200 && body.status === 'trusted') step = { done: this.trusted(reply, body) };
      else if (reply.status === 202 && body.status === 'pending' && body.stage === 'reveal') step = { next: await this.reveal(reply, body) };
      else if (reply.status === 202 && body.status === 'pending' && body.stage === 'approval') step = await this.awaitApproval(reply, body);
      else throw this.ended(reply);
      if ('done' in step) return step.done;
      reply = step.next;
    }
  }

  /** A new commit, or a poll of the pairing this terminal holds; one the server no longer knows starts over. */
  private async start(): Promise<PinnedReply> {
    const { ctx, opts } = this;
    const resumed = ctx.state.pairing;
    if (resumed === null) return this.commit();
    const reply = await ctx.gate({ requestId: resumed.requestId });
    if (reply.status !== 404) return reply;
    // The request expired or the server forgot it while we were away: start again, as PROTOCOL.md says.
    forgetPairing(ctx);
    // MUST tell before the new code appears: the person may already have read the old code to the operator.
    opts.onRestart?.({ requestId: resumed.requestId, code: resumed.code });
    return this.commit();
  }

  private commit(): Promise<PinnedReply> {
    this.fresh = randomBytes(NONCE_BYTES);
    return this.ctx.gate(commitBody(this.fresh));
  }

  private trusted(reply: PinnedReply, body: Record<string, unknown>): PairResult {
    const { ctx } = this;
    // A gate trusts only a key its operator approved after hearing the code this terminal showed for it. Said to a
    // terminal that showed none, under a pin from its first contact, it is a man in the middle skipping the code.
    const codeShown = this.shownCode !== null || ctx.state.pairing?.stage === 'approval';
    if (!codeShown && !pinVouched(ctx.state)) throw trustedWithoutCode(ctx, reply.sfp);
    const masterUrl = parseServerUrl(String(body.masterUrl)).origin;
    ctx.state.server.masterUrl = masterUrl;
    ctx.state.server.vpn = body.vpn ?? null;
    ctx.state.server.sfpVouched = true;
    ctx.state.paired = true;
    ctx.state.pairedConfirmedAt = new Date().toISOString();
    ctx.state.pairing = null;
    ctx.save();
    return { status: 'trusted', serial: ctx.state.serial, tfp: ctx.state.tfp, sfp: reply.sfp, masterUrl, vpn: ctx.state.server.vpn };
  }

  /** The server's nonce is in: the code is derived and stored, then the nonce behind the commitment revealed. */
  private async reveal(reply: PinnedReply, body: Record<string, unknown>): Promise<PinnedReply> {
    const { ctx, opts } = this;
    const serverNonce = typeof body.serverNonce === 'string' ? decodeBase64(body.serverNonce) : null;
    const requestId = typeof body.requestId === 'string' ? body.requestId : null;
    const stored = ctx.state.pairing;
    if (this.fresh === null && stored !== null && (stored.requestId !== requestId || stored.serverNonce !== body.serverNonce)) {
      // The stored nonce may have been revealed already (this run, or one that ended before its answer). MUST NOT meet
      // another server nonce: whoever saw it could pick that nonce, and with it the code the screen shows. A real gate
      // repeats its request's nonce; anything else starts over with a fresh nonce, a bounded number of times.
      this.restarts += 1;
      forgetPairing(ctx);
      opts.onRestart?.({ requestId: stored.requestId, code: stored.code });
      if (this.restarts > MAX_RESTARTS) {
        throw new AppError('bad_request', 'the gate keeps answering a new server nonce for a request whose nonce this terminal revealed; check the gate URL and its SFP, then run pair again');
      }
      return this.commit();
    }
    const nonce: Buffer | null = this.fresh ?? (stored ? Buffer.from(stored.terminalNonce, 'base64') : null);
    if (nonce === null || serverNonce?.length !== NONCE_BYTES || requestId === null) {
      forgetPairing(ctx);
      throw new AppError('bad_request', 'the gate answered a pairing stage this terminal cannot continue; run pair again');
    }
    // The code uses the SFP this connection actually presented, so a man in the middle shows a different code.
    const code = pairingCode({ serverNonce, terminalNonce: nonce, serial: ctx.state.serial, tfp: ctx.state.tfp, sfp: reply.sfp });
    ctx.state.pairing = {
      requestId,
      terminalNonce: nonce.toString('base64'),
      commitment: commitmentOf(nonce),
      serverNonce: body.serverNonce as string,
      code,
      stage: 'reveal',
      expiresAt: typeof body.expiresAt === 'string' ? body.expiresAt : null,
    };
    ctx.save(); // MUST persist before revealing: a resumed `pair` needs the nonce behind the code the operator sees
    this.fresh = null;
    return ctx.gate({ requestId, reveal: nonce.toString('base64') });
  }

  /** The request waits for an operator: the code is shown once, then this run ends or polls, as asked. */
  private async awaitApproval(reply: PinnedReply, body: Record<string, unknown>): Promise<Step> {
    const { ctx, opts } = this;
    const pairing = ctx.state.pairing;
    if (pairing === null || pairing.requestId !== body.requestId) {
      forgetPairing(ctx);
      throw new AppError('invalid_state', 'the gate reports a pairing request this terminal does not hold; run pair again');
    }
    const expiresAt = typeof body.expiresAt === 'string' ? body.expiresAt : pairing.expiresAt;
    // Only a change is saved: an unchanged poll every 2 s for up to a day would rewrite state.json (two fsyncs) ~43,000 times.
    if (pairing.stage !== 'approval' || pairing.expiresAt !== expiresAt) {
      pairing.stage = 'approval';
      pairing.expiresAt = expiresAt;
      ctx.save();
    }
    if (this.shownCode !== pairing.code) {
      this.shownCode = pairing.code;
      opts.onCode?.(pairing.code);
    }
    const timedOut = Date.now() + this.interval > this.deadline;
    if (opts.wait !== true || timedOut) {
      const { requestId, stage, code } = pairing;
      const { serial, tfp } = ctx.state;
      return { done: { status: 'pending', serial, tfp, sfp: reply.sfp, stage, requestId, code, expiresAt, polls: this.polls, timedOut: opts.wait === true } };
    }
    await sleep(this.interval);
    this.polls += 1;
    opts.onPoll?.(this.polls);
    try {
      return { next: await ctx.gate({ requestId: pairing.requestId }) };
    } catch (err) {
      // A terminal waiting for its operator rides out network hiccups (the last answer stands, and the wait goes on
      // from it); a pin mismatch still ends the wait.
      if (err instanceof AppError && err.code === 'server_unreachable' && Date.now() < this.deadline) return { next: reply };
      throw err;
    }
  }

  /** Any other answer ends the run; those that end the attempt on the server too make the next `pair` start afresh. */
  private ended(reply: PinnedReply): AppError {
    const err =
      reply.status < 300 ? new AppError('bad_request', `the gate answered HTTP ${reply.status} with an unexpected body`) : notAGate(replyError(reply));
    if (!['pairing_rejected', 'no_pairing_request', 'commitment_mismatch'].includes(err.code)) return err;
    const ended = this.ctx.state.pairing;
    forgetPairing(this.ctx);
    return explainEnded(err, ended);
  }
}

/**
 * Refuses a `trusted` that no code shown and no vouched pin backs, and forgets what that gate's first contact taught the
 * terminal: its pin and any pairing under it. The next `pair` starts from nothing, so the real gate is not refused later.
 */
function trustedWithoutCode(ctx: PairingContext, sfp: string): AppError {
  const gateUrl = ctx.state.server.gateUrl;
  ctx.state.server.sfp = null;
  ctx.state.server.sfpVouched = false;
  ctx.state.server.announcedSfp = null;
  ctx.state.pairing = null;
  ctx.save();
  return new AppError('bad_request', `the gate at ${gateUrl} (SFP ${formatFingerprint(sfp)}) declared this terminal trusted, but this terminal never showed it a pairing code and its SFP was not confirmed: a real gate trusts only a key its operator approved with the code read from this screen. Nothing was trusted, and that gate's SFP is no longer pinned. Check the gate URL, get the server's fingerprint from its operator over a channel you trust, and pair again with --expect-sfp SFP`);
}

/** The errors a gate answers per PROTOCOL.md: its pairing table, and the generic ones any of its requests may meet. */
const GATE_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'unknown_serial',
  'pairing_rejected',
  'no_pairing_request',
  'commitment_mismatch',
  'storage_unavailable',
  'gate_closed',
  'bad_request',
  'malformed_json',
  'invalid_field',
  'bad_certificate',
  'bad_signature_input',
  'bad_content_digest',
  'unauthenticated',
  'request_timeout',
  'payload_too_large',
  'rate_limited',
  'overloaded',
]);

/**
 * A reply in the gate's terms: a pairing answer (`200 trusted`, `202 pending`) or one of the gate's errors with its own
 * status. A web page, master's `404 no route`, or any other HTTPS server's answer is not one, so it pins nothing.
 */
export function isGateAnswer(reply: PinnedReply): boolean {
  const body = jsonObject(reply) ?? {};
  if ((reply.status === 200 && body.status === 'trusted') || (reply.status === 202 && body.status === 'pending')) return true;
  return isErrorCode(body.error) && GATE_ERRORS.has(body.error) && statusOf(body.error) === reply.status;
}

/** The first contact reached some HTTPS server that is not a pairing gate (a mistyped port, master's port, a web server). */
export function notAPairingGate(gateUrl: string, reply: PinnedReply): AppError {
  const body = jsonObject(reply);
  const said =
    body === null
      ? ' with a body that is not a gate answer'
      : typeof body.error === 'string'
        ? ` "${body.error}${typeof body.message === 'string' ? `: ${body.message.slice(0, 160)}` : ''}"`
        : ' with a JSON body that is not a gate answer';
  return new AppError(
    reply.status === 404 ? 'not_found' : 'bad_request',
    `${gateUrl} is not a pairing gate: it answered HTTP ${reply.status}${said}. Nothing was pinned and nothing changed. ` +
      "Check the gate URL and its port (the gate listens on its own port, 7741 by default; master's port, 7743 by default, is not a gate), then pair again.",
    { httpStatus: reply.status },
  );
}

/** A server that has no pairing route is not a gate: most often master's port (7743) given for the gate's (7741). */
function notAGate(err: AppError): AppError {
  if (err.code !== 'not_found' || !err.message.startsWith('no route')) return err;
  return new AppError('not_found', `${err.message}: this address is not a gate (is it master's? the gate listens on its own port, 7741 by default)`, err.details, { cause: err });
}

/** The server's words for an ended request say what happened; the person at the terminal also needs what to do next. */
function explainEnded(err: AppError, ended: PendingPairing | null): AppError {
  const request = ended === null ? 'the pairing request' : `pairing request ${ended.requestId}`;
  switch (err.code) {
    case 'pairing_rejected':
      // The gate says "an operator rejected" even when the server rejected it after too many wrong codes,
      // and its answer carries no expiry time (PROTOCOL.md: `403 {"error":"pairing_rejected"}`), so neither is claimed here.
      return new AppError(
        'pairing_rejected',
        `${request} was rejected (by an operator, or after too many wrong codes). ` +
          'This terminal certificate cannot pair again until the rejection expires, one pairing TTL after the decision ' +
          "(24 h unless the server's --pairing-ttl says otherwise), or after `terminal factory-reset` and `terminal init` " +
          '(a new key, so a new TFP and a new request). Call the operator first: `cas pairing get` and `cas audit` show why.',
        err.details,
        { cause: err },
      );
    case 'no_pairing_request':
      return new AppError(
        'no_pairing_request',
        `${request} expired or the server no longer knows it${ended === null ? '' : `; its code ${ended.code} is void`}. ` +
          'Run `terminal pair` again: it makes a new request with a new code.',
        err.details,
        { cause: err },
      );
    default:
      return err;
  }
}

/** A refused connection to a gate is most often a closed gate: it listens only while an operator has it open. */
export function explainClosedGate(err: unknown): unknown {
  if (!(err instanceof AppError) || err.code !== 'server_unreachable') return err;
  if ((err.cause as NodeJS.ErrnoException | undefined)?.code !== 'ECONNREFUSED') return err;
  return new AppError(
    'server_unreachable',
    `${err.message}: nothing listens there. The gate listens only while an operator has it open (\`cas gate open\`); ` +
      'ask the operator to open it and pair again. If it is open, check the gate URL (`terminal status`).',
    err.details,
    { cause: err.cause },
  );
}
