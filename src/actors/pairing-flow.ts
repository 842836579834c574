/** @module The gate's commit–reveal pairing exchange for one terminal (PROTOCOL.md "Pairing (gate)"). Runs inside the terminal's actor. */
import crypto from 'node:crypto';
import { AppError } from '../errors.js';
import { commitmentOf, pairingCode } from '../crypto/pairing-code.js';
import { decodeBase64, parseJson, parsePairingBody, type PairingBody } from '../protocol/schemas.js';
import type { GateReply, HttpReply } from '../protocol/types.js';
import { pairingView } from '../protocol/views.js';
import { effectiveState } from '../store/records.js';
import type { PairingRecord, TerminalRecord } from '../store/records.js';
import { pendingRequestsOf } from '../store/pending-requests.js';
import { compositeKey } from '../store/store.js';
import type { Authenticated } from '../auth/request-auth.js';
import type { ActorContext } from './context.js';
import { otherKeysWaiting } from './operator-views.js';

const reply = (status: number, body: GateReply): HttpReply => ({ status, body });

/**
 * Requests of one serial from distinct certificates that may wait at once. A genuine terminal has one (two across a
 * factory reset); without a bound, anyone who knows a serial could file a request per throwaway key while the gate is
 * open (400 in 2.5 s were seen), each an alert to every operator and a certificate kept for good.
 */
export const MAX_PENDING_PER_SERIAL = 8;

export class PairingFlow {
  /** When the cap's refusal was last logged for this serial. */
  private capLoggedAt = -Infinity;

  constructor(private readonly ctx: ActorContext, private readonly serial: string) {}

  /** Handles one authenticated gate request for a known serial. */
  async handle(terminal: TerminalRecord, auth: Authenticated, body: Buffer, remoteAddress: string): Promise<HttpReply> {
    // Any form: a terminal whose TFP is already pinned is simply told where master is.
    if (terminal.tfp === auth.tfp) return this.trusted(terminal);
    const form = parsePairingBody(body.length === 0 ? {} : parseJson(body));
    const current = this.currentRequest(auth.tfp);
    switch (form.form) {
      case 'commit':
        return this.commit(terminal, auth, form, current, remoteAddress);
      case 'reveal':
        return this.reveal(terminal, this.requestFor(auth.tfp, form.requestId), form.reveal);
      case 'poll':
        return this.poll(form.requestId === null ? current : this.requestFor(auth.tfp, form.requestId));
      default:
        return assertNever(form);
    }
  }

  async trusted(terminal: TerminalRecord): Promise<HttpReply> {
    return reply(200, { status: 'trusted', masterUrl: this.ctx.masterUrl, vpn: await this.ctx.vpn.gateConfig(terminal) });
  }

  private async commit(
    terminal: TerminalRecord, auth: Authenticated, form: Extract<PairingBody, { form: 'commit' }>,
    current: PairingRecord | null, remoteAddress: string,
  ): Promise<HttpReply> {
    const { ctx } = this;
    const now = ctx.now();
    if (current && effectiveState(current, now) === 'rejected' && (current.decidedAt ?? 0) + ctx.pairingTtlMs > now) {
      throw new AppError('pairing_rejected', 'pairing was rejected for this terminal certificate (by an operator, or after too many wrong codes); it can ask again once the rejection expires, or with a new key after a factory reset');
    }
    if (current && effectiveState(current, now) === 'pending' && current.commitment === form.commitment) {
      return this.pendingReply(current);
    }
    // Everything below writes (a request, a certificate): anyone who reaches the open gate drives these writes, so they
    // are refused on an almost full disk as cash events are, and the room left stays the operators'.
    ctx.store.roomToWrite();
    /** This certificate's own request, still waiting: the new commitment replaces it. */
    const replaced = current && effectiveState(current, now) === 'pending' ? current : null;
    // A request for another certificate is taken from the oldest that never revealed its nonce: operators cannot see or
    // reject those (they have no code yet), so they must not hold the serial's places. A genuine terminal reveals within
    // a second of its commit. Only when every place holds a request with a code is a new commit refused.
    const evicted = replaced ? null : this.placeFor(now, remoteAddress);
    const record: PairingRecord = {
      // The prefix keeps ids from starting with '-', which command lines would read as an option.
      requestId: `pr_${crypto.randomBytes(16).toString('base64url')}`,
      serial: this.serial,
      tfp: auth.tfp,
      remoteAddress,
      requestedAt: now,
      expiresAt: now + ctx.pairingTtlMs,
      state: 'pending',
      stage: 'reveal',
      commitment: form.commitment,
      // MUST be drawn after the commitment arrived: the terminal's nonce is then fixed and neither side can steer the code.
      serverNonce: crypto.randomBytes(32).toString('base64'),
      code: null,
      info: form.info,
      wrongCodeAttempts: 0,
      decidedBy: null,
      decidedAt: null,
    };
    await ctx.store.atomically(() => {
      // A new commitment from the same TFP replaces its pending request; its certificate stays, the new request's own.
      if (replaced) ctx.store.removePairingSync(replaced);
      if (evicted) ctx.store.forgetPairingSync(evicted);
      // Kept with its request: master tells `not_paired` from `unauthenticated` by the certificates a serial has presented.
      const certKey = compositeKey(this.serial, auth.tfp);
      if (ctx.store.certs.get(certKey) === undefined) ctx.store.certs.putSync(certKey, { der: auth.certDer, firstSeenAt: now });
      ctx.store.putPairingSync(record);
      ctx.store.pairingIndex.putSync(certKey, record.requestId);
    });
    // Once per request of a certificate, not once per commit: a terminal that commits again (a new nonce after a restart)
    // replaces its own request, and operators were told of that certificate already.
    if (terminal.tfp !== null && !replaced) {
      ctx.events('terminals', 'terminal.new_fingerprint', { serial: this.serial, pairedTfp: terminal.tfp, tfp: auth.tfp, remoteAddress });
      ctx.log.warn({ serial: this.serial, tfp: auth.tfp, pairedTfp: terminal.tfp, remoteAddress }, 'a paired serial asks to pair with another certificate');
    }
    return this.pendingReply(record);
  }

  /**
   * Makes room for one more request of this serial: null when there is room, else the oldest request without a code
   * (to be removed with the new one's write). Throws rate_limited when all MAX_PENDING_PER_SERIAL places hold requests
   * operators can see, logged once a minute per serial (while its actor lives), not once per refusal.
   */
  private placeFor(now: number, remoteAddress: string): PairingRecord | null {
    const pending = pendingRequestsOf(this.ctx.store, this.serial, now);
    if (pending.length < MAX_PENDING_PER_SERIAL) return null;
    const unrevealed = pending.filter((record) => record.stage === 'reveal').sort((a, b) => a.requestedAt - b.requestedAt);
    if (unrevealed[0]) return unrevealed[0];
    if (now - this.capLoggedAt >= 60_000) {
      this.capLoggedAt = now;
      this.ctx.log.warn({ serial: this.serial, remoteAddress, waiting: pending.length }, 'pairing request refused: too many waiting for this serial');
    }
    throw new AppError('rate_limited', `${MAX_PENDING_PER_SERIAL} pairing requests for serial ${this.serial} already wait for an operator: they must be decided (or expire) first`, { retryAfter: 60 });
  }

  private async reveal(terminal: TerminalRecord, record: PairingRecord, reveal: string): Promise<HttpReply> {
    const { ctx } = this;
    this.assertPending(record);
    const terminalNonce = decodeBase64(reveal);
    const expected = Buffer.from(record.commitment, 'base64');
    const actual = terminalNonce ? Buffer.from(commitmentOf(terminalNonce), 'base64') : Buffer.alloc(32);
    const matches = terminalNonce !== null && crypto.timingSafeEqual(expected, actual);
    if (record.stage === 'approval') {
      // A retried reveal (its answer lost) is answered again. One that does not match is refused, but the request stays:
      // it has its code already, operators may be comparing it, and only this key could have sent either.
      if (!matches) throw new AppError('commitment_mismatch', 'the revealed nonce does not match the commitment this request was made with');
      return this.pendingReply(record);
    }
    if (!matches) {
      await ctx.store.atomically(() => ctx.store.forgetPairingSync(record));
      throw new AppError('commitment_mismatch', 'the revealed nonce does not match the commitment; start again with a new commit');
    }
    const code = pairingCode({
      serverNonce: Buffer.from(record.serverNonce, 'base64'),
      terminalNonce,
      serial: this.serial,
      tfp: record.tfp,
      sfp: ctx.sfp,
    });
    const updated: PairingRecord = { ...record, stage: 'approval', code };
    await ctx.store.atomically(() => ctx.store.putPairingSync(updated));
    const now = ctx.now();
    // Read once: the view counts them, and the alert below names them.
    const others = otherKeysWaiting(ctx.store, updated, now);
    ctx.events('pairing', 'pairing.requested', { request: pairingView(updated, now, terminal.tfp, others.length) });
    ctx.log.info({ serial: this.serial, tfp: record.tfp, requestId: record.requestId }, 'pairing request awaits operator approval');
    // Another key waits for this serial too, which nobody has paired yet (a paired serial's is told at its commit):
    // the genuine terminal and an impostor racing its first contact, and only the code tells them apart. Told when the
    // second becomes visible to operators, as PROTOCOL's alert for a different TFP asks.
    if (terminal.tfp === null && others.length > 0) {
      const waitingTfps = others.map((other) => other.tfp);
      ctx.events('terminals', 'terminal.new_fingerprint', { serial: this.serial, pairedTfp: null, tfp: record.tfp, waitingTfps, remoteAddress: record.remoteAddress });
      ctx.log.warn({ serial: this.serial, tfp: record.tfp, waitingTfps }, 'another key asks to pair a serial a key already waits for');
    }
    return this.pendingReply(updated);
  }

  private poll(record: PairingRecord | null): HttpReply {
    if (!record) throw new AppError('no_pairing_request', 'no pairing request for this terminal certificate; start with a commit');
    this.assertPending(record);
    return this.pendingReply(record);
  }

  /** Pending requests answer with their stage; every other state is an error the terminal acts on. */
  private assertPending(record: PairingRecord): void {
    const state = effectiveState(record, this.ctx.now());
    if (state === 'rejected') throw new AppError('pairing_rejected', 'this pairing request was rejected (by an operator, or after too many wrong codes)');
    if (state !== 'pending') {
      // Approved but not trusted any more means it was unpaired since: the terminal starts over.
      throw new AppError('no_pairing_request', `the pairing request is ${state === 'approved' ? 'no longer valid' : state}; start again with a commit`);
    }
  }

  private pendingReply(record: PairingRecord): HttpReply {
    const expiresAt = new Date(record.expiresAt).toISOString();
    return record.stage === 'reveal'
      ? reply(202, { status: 'pending', stage: 'reveal', requestId: record.requestId, serverNonce: record.serverNonce, expiresAt })
      : reply(202, { status: 'pending', stage: 'approval', requestId: record.requestId, expiresAt });
  }

  private currentRequest(tfp: string): PairingRecord | null {
    const id = this.ctx.store.pairingIndex.get(compositeKey(this.serial, tfp));
    return id === undefined ? null : this.ctx.store.pairing.get(id) ?? null;
  }

  /** Every request is bound to the TFP that created it: another key cannot read or drive it. */
  private requestFor(tfp: string, requestId: string): PairingRecord {
    const record = this.ctx.store.pairing.get(requestId);
    if (!record || record.serial !== this.serial || record.tfp !== tfp) {
      throw new AppError('no_pairing_request', 'no such pairing request for this terminal certificate; start with a commit');
    }
    return record;
  }
}

function assertNever(value: never): never {
  throw new Error(`unhandled pairing form ${JSON.stringify(value)}`);
}
