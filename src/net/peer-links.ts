/**
 * @module A front thread's direct ports to the other fronts: a request authenticated here for a serial another
 * thread holds goes to that thread's actor and its answer comes back, batched per event-loop turn (BatchedPort).
 * A peer that goes away (crash, restart) fails its calls in flight with 503 instead of leaving them hanging, and so
 * does a peer whose event loop is blocked (heartbeats.ts): calls queued behind it would hold this thread's in-flight
 * budget until it refused its own terminals too.
 */
import type { MessagePort } from 'node:worker_threads';
import { NO_CERTIFICATE, withCertificate, type Authenticated } from '../auth/request-auth.js';
import { AppError, unwrap } from '../errors.js';
import type { Logger } from '../logger.js';
import { withBody, type HttpReply, type TerminalRequest } from '../protocol/types.js';
import { BatchedPort } from './batched-port.js';
import type { ActorCall, PeerMessage } from './front-protocol.js';
import { HEARTBEAT_MS, monotonicMs, type Heartbeats } from './heartbeats.js';
import { outcomeOf, threadUnavailable } from './outcome.js';
import { PendingCalls } from './pending-calls.js';

/** Serves a call another thread handed here (`hops` times so far): on this thread's actor, or handed on to the lease's holder. */
export type LocalDelivery = (service: ActorCall['service'], request: TerminalRequest, auth: Authenticated, hops: number) => HttpReply | Promise<HttpReply>;

interface Peer {
  port: MessagePort;
  link: BatchedPort<PeerMessage, PeerMessage>;
  /** Calls sent to this peer and not yet answered. */
  waiting: PendingCalls<{ resolve: (reply: HttpReply) => void; reject: (error: AppError) => void }>;
}

/** Headers stay on the front that checked their signature; the holder gets none. */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
/**
 * A copy with its own ArrayBuffer of exactly its length (allocUnsafeSlow never uses the pool). A call handed on a
 * second time arrived by structured clone: its bytes are then a plain Uint8Array, not a Buffer.
 */
function exact(bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.byteLength);
  copy.set(bytes);
  return copy;
}

export class PeerLinks {
  private readonly peers = new Map<number, Peer>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly deliver: LocalDelivery, private readonly heartbeats: Heartbeats, private readonly log: Logger) {
    this.sweeper = setInterval(() => this.refuseWaitingOnSilent(), HEARTBEAT_MS);
    this.sweeper.unref();
  }

  /** Uses `port` for thread `index` from now on; calls still waiting on the port it replaces fail. */
  connect(index: number, port: MessagePort): void {
    this.disconnect(index);
    const peer: Peer = {
      port,
      link: new BatchedPort<PeerMessage, PeerMessage>(port, (message) => this.receive(peer, message)),
      waiting: new PendingCalls(),
    };
    // Node emits 'close' on one end when the other end's thread exits or closes it.
    port.once('close', () => {
      if (this.peers.get(index) === peer) this.disconnect(index);
    });
    this.peers.set(index, peer);
  }

  /**
   * Asks thread `holder` to serve the call; `hops`: threads it has been through, this one included. Headers stay here
   * (their signature was checked here); the certificate goes only for the gate, which records it.
   */
  call(holder: number, service: ActorCall['service'], request: TerminalRequest, auth: Authenticated, hops: number): Promise<HttpReply> {
    const peer = this.peers.get(holder);
    if (!peer) return Promise.reject(threadUnavailable('restarting'));
    if (this.heartbeats.isSilent(holder)) return Promise.reject(threadUnavailable('not responding'));
    return new Promise((resolve, reject) => {
      const id = peer.waiting.add({ resolve, reject });
      // A structured clone copies a view's whole ArrayBuffer: a small Buffer is a slice of Node's shared 8 KiB
      // pool, so the body and certificate cross as exact-size copies (bench/thread-hop.bench.ts).
      peer.link.send({
        kind: 'call', id, hops, service, request: withBody(request, exact(request.body), NO_HEADERS),
        auth: withCertificate(auth, service === 'gate' ? exact(auth.certDer) : NO_CERTIFICATE),
      });
    });
  }

  closeAll(): void {
    clearInterval(this.sweeper);
    for (const index of [...this.peers.keys()]) this.disconnect(index);
  }

  /** Calls waiting on a peer that stopped beating are answered 503 now; if it wakes, its late answers find no one waiting. */
  private refuseWaitingOnSilent(): void {
    const now = monotonicMs();
    for (const [index, peer] of this.peers) {
      if (peer.waiting.size === 0 || !this.heartbeats.isSilent(index, now)) continue;
      const waiting = peer.waiting.abandonAll();
      for (const { reject } of waiting) reject(threadUnavailable('not responding'));
      this.log.warn({ peer: index, calls: waiting.length, silentMs: this.heartbeats.silentFor(index, now) }, 'refused the calls waiting for a thread that is not responding');
    }
  }

  private receive(peer: Peer, message: PeerMessage): void {
    if (message.kind === 'call') {
      const { id, hops, service, request, auth } = message;
      void outcomeOf(() => this.deliver(service, request, auth, hops), this.log, { service, serial: auth.serial })
        // A success is built field by field: a spread makes a larger object (see withBody in protocol/types.ts).
        .then((outcome) => peer.link.send(outcome.ok ? { kind: 'result', id, ok: true, value: outcome.value } : { kind: 'result', id, ...outcome }));
      return;
    }
    const waiting = peer.waiting.take(message.id);
    if (!waiting) return;
    try {
      waiting.resolve(unwrap(message));
    } catch (error) {
      waiting.reject(error as AppError);
    }
  }

  private disconnect(index: number): void {
    const peer = this.peers.get(index);
    if (!peer) return;
    this.peers.delete(index);
    peer.link.detach();
    peer.port.close();
    for (const { reject } of peer.waiting.takeAll()) reject(threadUnavailable('restarting'));
  }
}
