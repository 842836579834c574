/** @module The other thread of bench/thread-hop.bench.ts: the same echo behind comlink, a plain MessagePort and a BatchedPort. */
import { workerData, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { BatchedPort } from '../src/net/batched-port.js';
import { endpointOf } from '../src/net/comlink-endpoint.js';
import type { ActorCall, ActorResult } from '../src/net/front-protocol.js';

export interface ThreadHopData {
  comlink: MessagePort;
  plain: MessagePort;
  batched: MessagePort;
}

export interface Echo {
  call(call: ActorCall): ActorResult;
}

/** A fresh master-sized answer per call, as an actor would return: the clone back is part of the hop. */
function reply(id: number): ActorResult {
  return { id, ok: true, value: { status: 200, body: { serverTime: new Date().toISOString() } } };
}

const data = workerData as ThreadHopData;

const echo: Echo = { call: (call) => reply(call.id) };
Comlink.expose(echo, endpointOf(data.comlink));

data.plain.on('message', (call: ActorCall) => data.plain.postMessage(reply(call.id)));

// Answers go back through the batch too, as src/net/peer-links.ts sends its results.
const link: BatchedPort<ActorResult, ActorCall> = new BatchedPort(data.batched, (call) => link.send(reply(call.id)));
