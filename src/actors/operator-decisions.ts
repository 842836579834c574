/** @module An operator's decisions on one terminal — approve, reject, unpair, update, delete — run in the terminal's actor, in order with its requests. */
import { AppError } from '../errors.js';
import { codesEqual, normalizeCode } from '../crypto/pairing-code.js';
import { EDITABLE_TERMINAL_FIELDS, type DeletedTerminalView, type PairingView, type TerminalEdit, type TerminalView, type UnpairedTerminalView, type UpdatedTerminalView } from '../protocol/types.js';
import { pairingView } from '../protocol/views.js';
import { effectiveState } from '../store/records.js';
import type { PairingRecord, TerminalRecord } from '../store/records.js';
import { compositeKey } from '../store/store.js';
import type { ActorContext } from './context.js';
import { pendingRequestsOf } from '../store/pending-requests.js';
import { pairingViewOf, terminalViewOf } from './operator-views.js';
import { VpnStore } from '../vpn/vpn-store.js';
import { noteTookEffectSync } from '../store/audit-intents.js';

/**
 * Each decision commits with its audit intent (`intent`, the key of the op's entry written ahead) marked as taken
 * effect: a front thread that exits between the commit and the answer leaves the op audited as done (dispatch.ts).
 */
export class OperatorDecisions {
  constructor(private readonly ctx: ActorContext, private readonly serial: string) {}

  /** The caller has already checked that `user` has 2FA; this checks the code and pins the TFP. */
  async approve(requestId: string, code: string, user: string, intent?: string): Promise<PairingView> {
    const { ctx } = this;
    const { terminal, record } = this.pendingForDecision(requestId);
    const given = normalizeCode(code);
    if (given === null || record.code === null || !codesEqual(given, record.code)) {
      return this.wrongCode(record, user);
    }
    const cert = ctx.store.certs.get(compositeKey(this.serial, record.tfp));
    if (!cert) throw new AppError('internal_error', 'the certificate of this pairing request is missing from the store');
    const now = ctx.now();
    const approved: PairingRecord = { ...record, state: 'approved', decidedBy: user, decidedAt: now };
    const paired: TerminalRecord = { ...terminal, tfp: record.tfp, certDer: cert.der, pairedAt: now, pairedBy: user };
    // The VPN certificates of a key pinned before are revoked with the new pin, in one commit.
    const superseded = await this.commit(intent, () => {
      ctx.store.putPairingSync(approved);
      ctx.store.putTerminalSync(paired);
      return VpnStore.of(ctx.store).revokeSync(this.serial, now, 'superseded', record.tfp);
    });
    if (superseded.length > 0) await this.publishRevocations(superseded, 'superseded');
    // After the pin is durable: the VPN certificate is for the key just pinned. A failure does not undo the approval; the gate's trusted answer issues it then.
    if (paired.vpn) await ctx.vpn.issue(this.serial, user).catch((err: unknown) => ctx.log.error({ err, serial: this.serial }, 'issuing the VPN certificate failed'));
    const view = pairingViewOf(ctx.store, approved, now);
    ctx.events('pairing', 'pairing.approved', { request: view });
    ctx.events('terminals', 'terminal.paired', { terminal: terminalViewOf(ctx.store, paired, now) });
    ctx.log.info({ serial: this.serial, tfp: record.tfp, requestId, user }, 'pairing approved: terminal certificate pinned');
    return view;
  }

  /** The CRL file follows a committed revocation; failing to write it is logged and loses nothing (start-up writes it again). */
  private async publishRevocations(certSerials: string[], reason: string): Promise<void> {
    const { ctx } = this;
    ctx.log.info({ serial: this.serial, certSerials, reason }, 'VPN certificates revoked');
    await ctx.vpn.publishCrl().catch((err: unknown) => ctx.log.error({ err, serial: this.serial }, 'publishing the VPN CRL failed; it is written again at the next revocation and at start-up'));
  }

  async reject(requestId: string, user: string, intent?: string): Promise<PairingView> {
    const { record } = this.pendingForDecision(requestId);
    return this.decideRejected(record, user, intent);
  }

  /** Answers the key it unpaired too: the op's audit entry names it (the pin read when the op arrived may be older). */
  async unpair(user: string, intent?: string): Promise<UnpairedTerminalView> {
    const { ctx } = this;
    const terminal = this.terminal();
    if (terminal.tfp === null) throw new AppError('invalid_state', `terminal ${this.serial} is not paired`);
    const unpaired: TerminalRecord = { ...terminal, tfp: null, certDer: null, pairedAt: null, pairedBy: null };
    // MUST be durable before the reply: the terminal's very next master call has to see it. Its VPN certificates are
    // revoked in the same commit: in two, a crash between them left a certificate that nothing would revoke any more
    // (a second unpair is refused). A regenerate committed before is revoked too; one after it refuses (issue re-checks).
    const revoked = await this.commit(intent, () => {
      ctx.store.putTerminalSync(unpaired);
      return VpnStore.of(ctx.store).revokeSync(this.serial, ctx.now(), 'cessationOfOperation', null);
    });
    if (revoked.length > 0) await this.publishRevocations(revoked, 'cessationOfOperation');
    const view = terminalViewOf(ctx.store, unpaired, ctx.now());
    ctx.events('terminals', 'terminal.unpaired', { terminal: view, tfp: terminal.tfp, user });
    ctx.log.info({ serial: this.serial, tfp: terminal.tfp, user }, 'terminal unpaired: pinned certificate forgotten');
    return { ...view, unpairedTfp: terminal.tfp };
  }

  /**
   * Corrects name, location or contact. Here and not on the main thread: this actor also writes the record (a pin,
   * an unpair), and a read-modify-write anywhere else could lose its write or be overwritten by it. `seen`: the values
   * the editor saw, checked here in order with every other write of the record (staleEdit). Answers the named fields as
   * they were before this write too (`previous`), for the op's audit entry.
   */
  async update(edit: TerminalEdit, user: string, seen?: TerminalEdit, intent?: string): Promise<UpdatedTerminalView> {
    const { ctx } = this;
    const current = this.terminal();
    const stale = staleEdit(this.serial, seen, current);
    if (stale) throw stale;
    const named = EDITABLE_TERMINAL_FIELDS.filter((field) => edit[field] !== undefined);
    const previous: TerminalEdit = Object.fromEntries(named.map((field) => [field, current[field]]));
    const changed = named.filter((field) => edit[field] !== current[field]);
    const view = (record: TerminalRecord): TerminalView => terminalViewOf(ctx.store, record, ctx.now());
    if (changed.length === 0) return { ...view(current), previous }; // the same values again: nothing to write or tell
    const updated: TerminalRecord = { ...current };
    for (const field of changed) updated[field] = edit[field]!;
    // MUST be durable before the reply: an acknowledged correction survives a crash, and the operator calls the number shown.
    await this.commit(intent, () => ctx.store.putTerminalSync(updated));
    const shown = view(updated);
    ctx.events('terminals', 'terminal.updated', { terminal: shown, user, changed });
    ctx.log.info({ serial: this.serial, user, changed }, 'terminal details updated');
    return { ...shown, previous };
  }

  /**
   * Takes an unpaired terminal out of the store, with its search entry, its place in the case-folded index (so the
   * serial can be created again) and its last-seen time; its pending requests are rejected in the same transaction,
   * so no code of it can be approved afterwards. A paired terminal must be unpaired first: one step that breaks trust
   * is enough. Its cash events and decided requests stay: they are history, and the audit refers to them. The answer
   * names the requests it rejected, with their keys, for the op's audit entry (the pairing history forgets them).
   */
  async delete(user: string, intent?: string): Promise<DeletedTerminalView> {
    const { ctx } = this;
    const terminal = this.terminal();
    if (terminal.tfp !== null) throw new AppError('invalid_state', `terminal ${this.serial} is paired: unpair it first (cas terminals unpair, or Unpair on the web page), then delete it`);
    // A last-seen time this actor queued (a gate or master call in the last half second) is written first, so that
    // the delete removes it instead of the write-behind putting it back after the terminal is gone. Only this actor
    // queues this serial's, and it is busy with the delete, so none is queued meanwhile.
    await ctx.writeBehind.written();
    const now = ctx.now();
    const rejected = pendingRequestsOf(ctx.store, this.serial, now).map((record): PairingRecord => ({ ...record, state: 'rejected', decidedBy: user, decidedAt: now }));
    await this.commit(intent, () => {
      ctx.store.deleteTerminalSync(terminal);
      for (const record of rejected) ctx.store.putPairingSync(record);
    });
    const view = terminalViewOf(ctx.store, terminal, now);
    for (const record of rejected.filter((r) => r.stage === 'approval')) ctx.events('pairing', 'pairing.rejected', { request: pairingView(record, now, null) });
    ctx.events('terminals', 'terminal.deleted', { terminal: view, user });
    ctx.log.info({ serial: this.serial, user, rejectedRequests: rejected.length }, 'terminal deleted');
    return { ...view, rejectedRequests: rejected.map(({ requestId, tfp }) => ({ requestId, tfp })) };
  }

  private async wrongCode(record: PairingRecord, user: string): Promise<never> {
    const { ctx } = this;
    const attempts = record.wrongCodeAttempts + 1;
    ctx.log.warn({ serial: this.serial, requestId: record.requestId, user, attempts }, 'approval with a wrong pairing code');
    if (attempts >= ctx.maxCodeAttempts) {
      // Guessing a 12-digit code is hopeless, but an unbounded number of tries is not a design anyone should audit.
      await this.decideRejected({ ...record, wrongCodeAttempts: attempts }, 'system');
      throw new AppError('code_mismatch', `the code does not match; after ${attempts} wrong codes the request was rejected: this terminal key cannot ask again until the rejection expires (one pairing TTL, 24 h by default) or after a factory reset (a new key)`, { attemptsLeft: 0 });
    }
    await ctx.store.atomically(() => ctx.store.putPairingSync({ ...record, wrongCodeAttempts: attempts }));
    const left = ctx.maxCodeAttempts - attempts;
    throw new AppError('code_mismatch', `the code does not match the code on the terminal screen; ${left} more wrong ${left === 1 ? 'code rejects' : 'codes reject'} the request`, { attemptsLeft: left });
  }

  private async decideRejected(record: PairingRecord, user: string, intent?: string): Promise<PairingView> {
    const { ctx } = this;
    const now = ctx.now();
    const rejected: PairingRecord = { ...record, state: 'rejected', decidedBy: user, decidedAt: now };
    await this.commit(intent, () => ctx.store.putPairingSync(rejected));
    const view = pairingViewOf(ctx.store, rejected, now);
    ctx.events('pairing', 'pairing.rejected', { request: view });
    ctx.log.info({ serial: this.serial, tfp: record.tfp, requestId: record.requestId, user }, 'pairing rejected');
    return view;
  }

  /** A decision's change, durable, with its audit intent marked in the same transaction. */
  private commit<T>(intent: string | undefined, change: () => T): Promise<T> {
    return this.ctx.store.atomically(() => {
      const result = change();
      noteTookEffectSync(this.ctx.store, intent);
      return result;
    });
  }

  private terminal(): TerminalRecord {
    const terminal = this.ctx.store.terminals.get(this.serial);
    if (!terminal) throw new AppError('not_found', `no terminal with serial ${this.serial}`);
    return terminal;
  }

  private pendingForDecision(requestId: string): { terminal: TerminalRecord; record: PairingRecord } {
    const terminal = this.terminal();
    const record = this.ctx.store.pairing.get(requestId);
    if (!record || record.serial !== this.serial) throw new AppError('not_found', `no pairing request ${requestId}`);
    const state = effectiveState(record, this.ctx.now());
    if (state !== 'pending') throw new AppError('invalid_state', `the pairing request is ${state}${state === 'expired' ? ': the terminal asks again with terminal pair, and the new request has a new code' : ''}`);
    if (record.stage !== 'approval') throw new AppError('invalid_state', 'the terminal has not revealed its nonce yet: there is no code to compare');
    return { terminal, record };
  }
}

/**
 * The refusal of an edit made on values another operator changed meanwhile, or null: a form open for minutes must not
 * silently undo another operator's correction of the number codes are read out on. Checked as the op arrives (a refusal
 * before its audit intent) and again by the terminal's actor as it writes: an update landing in between passed the first.
 */
export function staleEdit(serial: string, seen: TerminalEdit | undefined, current: TerminalRecord): AppError | null {
  const moved = EDITABLE_TERMINAL_FIELDS.filter((field) => seen?.[field] !== undefined && seen[field] !== current[field]);
  if (moved.length === 0) return null;
  return new AppError('conflict', `${moved.join(' and ')} of ${serial} changed meanwhile (now ${moved.map((f) => JSON.stringify(current[f])).join(', ')}): look again before you save`);
}
