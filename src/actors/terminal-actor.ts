/** @module The terminal actor: owns one serial's replay window and orders its gate, master and operator messages. */
import { AppError } from '../errors.js';
import type { Authenticated } from '../auth/request-auth.js';
import type { HttpReply, PairingView, TerminalRequest } from '../protocol/types.js';
import { unknownSerialView } from '../protocol/views.js';
import type { UnknownSerialRecord } from '../store/records.js';
import { forgetOldUnknownSerials } from '../store/unknown-serials.js';
import type { Actor } from './registry.js';
import type { ActorContext } from './context.js';
import type { TerminalCommand, TerminalReply } from './commands.js';
import { masterCall } from './master-calls.js';
import { OperatorDecisions } from './operator-decisions.js';
import { PairingFlow } from './pairing-flow.js';
import { ReplayWindow } from './replay-window.js';

/** lastSeenAt is informational: write it at most this often, not on every call. */
const LAST_SEEN_RESOLUTION_MS = 10_000;

/** What master answers a key that is not the serial's pinned one (PROTOCOL.md `403 not_paired`). */
export const NOT_PAIRED_MESSAGE = 'this terminal is not paired with the server; pair it through the gate';

export class TerminalActor implements Actor<TerminalCommand, TerminalReply> {
  private readonly replay: ReplayWindow;
  private readonly pairing: PairingFlow;
  private readonly decisions: OperatorDecisions;
  /** When this activation last recorded the terminal as seen. */
  private lastSeenWritten = 0;
  /** The pin as last read from the store, for master calls; see `pinnedTfp`. */
  private pin: { tfp: string | null } | null = null;

  constructor(private readonly ctx: ActorContext, private readonly serial: string) {
    this.replay = new ReplayWindow(ctx.store, ctx.writeBehind, serial);
    this.pairing = new PairingFlow(ctx, serial);
    this.decisions = new OperatorDecisions(ctx, serial);
  }

  /** Not async: a master call that answers at once (most of them) is answered with no promise made (`Mailbox.post`). */
  handle(command: TerminalCommand): TerminalReply | Promise<TerminalReply> {
    // Gate messages and decisions are what change a pin; master calls only read it.
    if (command.type !== 'master') this.pin = null;
    switch (command.type) {
      case 'gate':
        return this.gate(command.request, command.auth).then(http);
      case 'master': {
        const reply = this.master(command.request, command.auth);
        return reply instanceof Promise ? reply.then(http) : http(reply);
      }
      case 'approve':
        return this.decisions.approve(command.requestId, command.code, command.user, command.intent).then(pairing);
      case 'reject':
        return this.decisions.reject(command.requestId, command.user, command.intent).then(pairing);
      case 'unpair':
        return this.decisions.unpair(command.user, command.intent).then((view) => ({ type: 'terminal', view }));
      case 'update':
        return this.decisions.update(command.edit, command.user, command.seen, command.intent).then((view) => ({ type: 'terminal', view }));
      case 'delete':
        return this.decisions.delete(command.user, command.intent).then((view) => ({ type: 'terminal', view }));
      default:
        return assertNever(command);
    }
  }

  private async gate(request: TerminalRequest, auth: Authenticated): Promise<HttpReply> {
    const terminal = this.ctx.store.terminals.get(this.serial);
    if (!terminal) return this.unknownSerial(request, auth);
    this.admitNonce(auth, 'the request could not be authenticated: its nonce was already used');
    // Last seen is the terminal's own: any key may ask at the gate, and a thief's must not make a stolen one look alive.
    if (auth.tfp === terminal.tfp) this.touch();
    return this.pairing.handle(terminal, auth, request.body, request.remoteAddress);
  }

  /** Not async, like masterCall: a refusal throws, and so does `handle`. */
  private master(request: TerminalRequest, auth: Authenticated): HttpReply | Promise<HttpReply> {
    const pin = this.pinnedTfp();
    if (!pin) throw new AppError('unauthenticated', 'the request could not be authenticated', undefined, { cause: 'no terminal has this serial' });
    this.admitNonce(auth, 'the request could not be authenticated');
    if (pin.tfp !== auth.tfp) {
      throw new AppError('not_paired', NOT_PAIRED_MESSAGE);
    }
    this.touch();
    return masterCall(this.ctx, this.serial, auth.tfp, request);
  }

  /**
   * The pin, read from the store once per run of master calls. Every change of a pin (approve, unpair, a new
   * pairing) is a message to this actor, which drops the copy first, so an unpair committed before a master
   * call is still seen by it. A serial not in the store is never remembered: an operator may create it.
   */
  private pinnedTfp(): { tfp: string | null } | null {
    if (this.pin) return this.pin;
    const terminal = this.ctx.store.terminals.get(this.serial);
    if (!terminal) return null;
    this.pin = { tfp: terminal.tfp };
    return this.pin;
  }

  /**
   * Judged at the second the request was judged fresh (`checkedAtSec`), so that no replay fresh then finds its
   * nonce's record expired. Master's message is deliberately the same as for every other authentication failure.
   */
  private admitNonce(auth: Authenticated, message: string): void {
    if (!this.replay.admit(auth.nonce, auth.created, auth.created + this.ctx.clockSkewSec + 1, auth.checkedAtSec)) {
      throw new AppError('unauthenticated', message, undefined, { cause: 'the nonce was already used: a replay, or a terminal sending a request twice' });
    }
  }

  private async unknownSerial(request: TerminalRequest, auth: Authenticated): Promise<HttpReply> {
    const { store, events, log } = this.ctx;
    const now = this.ctx.now();
    const entry = (seen: UnknownSerialRecord | undefined): UnknownSerialRecord => ({
      serial: this.serial, tfp: auth.tfp, remoteAddress: request.remoteAddress,
      firstAttemptAt: seen?.firstAttemptAt ?? now, lastAttemptAt: now, attempts: (seen?.attempts ?? 0) + 1,
    });
    let seen: UnknownSerialRecord | undefined;
    let record: UnknownSerialRecord;
    // The record is for operators (cas unknown list); on an almost full disk the log lines stand in for it.
    if (store.space?.low) {
      seen = store.unknownSerials.get(this.serial);
      record = entry(seen);
    } else {
      // The serial is looked up again inside the write: reads there see the latest commit. An operator's create that
      // committed since the look above (a read before it, or a snapshot of this thread's not yet renewed) took the
      // serial off the list in its own transaction, and this write must not put it back.
      const written = await store.atomically(() => {
        if (store.terminals.get(this.serial)) return null;
        const before = store.unknownSerials.get(this.serial);
        const after = entry(before);
        store.unknownSerials.putSync(this.serial, after);
        return { before, after };
      });
      if (!written) {
        // Created just now: nothing to record or tell operators; the terminal's next attempt finds its serial.
        throw new AppError('unknown_serial', `serial ${this.serial} was not known to this server when the request came: retry`);
      }
      ({ before: seen, after: record } = written);
      if (!seen) void forgetOldUnknownSerials(store).catch((err: unknown) => log.error({ err }, 'forgetting old unknown serials failed'));
    }
    // Alert once per serial and minute: a retrying terminal should not drown the operators' screen. The push carries
    // the whole entry, so that a page need not ask for the list (which would count as operator activity).
    // The warning line goes with the push: every attempt already has the gate's refusal line, within its budget (a line
    // per attempt here was 200 warnings a second from anyone at the open gate).
    if (!seen || now - seen.lastAttemptAt > 60_000) {
      events('terminals', 'terminal.unknown_serial', { ...unknownSerialView(record) });
      log.warn({ serial: this.serial, tfp: auth.tfp, remoteAddress: request.remoteAddress, attempts: record.attempts }, 'pairing attempt with an unknown serial');
    }
    throw new AppError('unknown_serial', `serial ${this.serial} is not known to this server: an operator must create the terminal first`);
  }

  private touch(): void {
    const now = this.ctx.now();
    if (now - this.lastSeenWritten < LAST_SEEN_RESOLUTION_MS) return;
    this.lastSeenWritten = now;
    this.ctx.writeBehind.lastSeen(this.serial, now);
  }
}

const http = (reply: HttpReply): TerminalReply => ({ type: 'http', reply });
const pairing = (view: PairingView): TerminalReply => ({ type: 'pairing', view });

function assertNever(value: never): never {
  throw new Error(`unhandled terminal command ${JSON.stringify(value)}`);
}
