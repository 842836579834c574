/** @module Routes terminal requests (already authenticated by a front thread) and operator decisions to this thread's actor of their serial. */
import { AppError } from '../errors.js';
import { withCertificate, type Authenticated } from '../auth/request-auth.js';
import { withBody, type HttpReply, type PairingView, type TerminalRequest, type TerminalView } from '../protocol/types.js';
import type { ActorContext } from './context.js';
import type { Decision, TerminalCommand, TerminalReply } from './commands.js';
import { ActorRegistry, type ActivationHooks } from './registry.js';
import { TerminalActor } from './terminal-actor.js';

/** What operators' decisions need of the terminal actors, wherever they run. */
export interface TerminalDecisions {
  /** Runs the decision on the actor of its serial (commands.ts, OperatorCommand). */
  decide(decision: Decision): Promise<PairingView | TerminalView>;
}

export class TerminalRouter implements TerminalDecisions {
  readonly actors: ActorRegistry<TerminalCommand, TerminalReply>;

  constructor(ctx: ActorContext, idleMs: number, hooks?: ActivationHooks) {
    this.actors = new ActorRegistry((serial) => new TerminalActor(ctx, serial), idleMs, Date.now, hooks);
  }

  /** Takes the serial's actor out of memory unless it has work (its state is all in the store and the write-behind). */
  evictIfIdle(serial: string): boolean {
    return this.actors.evictIfIdle(serial);
  }

  /**
   * A request a front thread already authenticated. Buffers handed on by another thread arrive as plain
   * Uint8Arrays (structured clone): turn them back into Buffers for the actor. Almost every call is the receiving
   * thread's own and already holds Buffers: it goes as it is, without two views and two objects more per call.
   * An idle actor's answer may come at once (see `Mailbox.post`): a value, a promise, or a throw.
   */
  deliver(service: 'gate' | 'master', request: TerminalRequest, auth: Authenticated): HttpReply | Promise<HttpReply> {
    const local = Buffer.isBuffer(request.body) && Buffer.isBuffer(auth.certDer);
    const command: TerminalCommand = local
      ? { type: service, request, auth }
      : { type: service, request: withBody(request, asBuffer(request.body)), auth: withCertificate(auth, asBuffer(auth.certDer)) };
    const reply = this.actors.ask(auth.serial, command);
    return reply instanceof Promise ? reply.then(httpOf) : httpOf(reply);
  }

  /** The decision is its own command: the actor reads what it needs and leaves the serial it already has. */
  async decide(decision: Decision): Promise<PairingView | TerminalView> {
    const reply = await this.actors.ask(decision.serial, decision);
    if (reply.type === 'http') throw new AppError('internal_error', 'unexpected actor reply');
    return reply.view;
  }

  async close(): Promise<void> {
    await this.actors.drain();
    this.actors.close();
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function httpOf(reply: TerminalReply): HttpReply {
  if (reply.type !== 'http') throw new AppError('internal_error', 'unexpected actor reply');
  return reply.reply;
}
