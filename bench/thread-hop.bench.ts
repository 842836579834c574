/** @module Micro benchmark: what handing a call to another thread and getting its answer back costs — comlink vs a plain MessagePort vs src/net/batched-port.ts — beside one RSA-2048 verify. */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import type { Authenticated } from '../src/auth/request-auth.js';
import { BatchedPort } from '../src/net/batched-port.js';
import { endpointOf } from '../src/net/comlink-endpoint.js';
import type { ActorCall, ActorResult } from '../src/net/front-protocol.js';
import type { TerminalRequest } from '../src/protocol/types.js';
import { runMicroCli, type MicroSuite, type MicroTask } from './lib/micro-runner.js';
import { reference } from './lib/openssl-speed.js';
import type { Echo, ThreadHopData } from './thread-hop.worker.js';

/** Calls each measured call of the concurrent rows keeps in flight. */
const IN_FLIGHT = 64;

/** What src/net/peer-links.ts sends for a master call: headers stripped, certificate emptied. */
const REQUEST: TerminalRequest = {
  method: 'POST', path: '/api/v1/ping', query: '', headers: {}, remoteAddress: '127.0.0.1',
  // alloc, not from: a Buffer cut from Node's pool would clone the whole 8 KiB slab.
  body: Buffer.alloc(2),
};
const AUTH: Authenticated = {
  serial: 'BENCH-R000001', tfp: 'ab'.repeat(32), nonce: 'AAECAwQFBgcICQoLDA0ODxAR',
  created: Math.floor(Date.now() / 1000), checkedAtSec: Math.floor(Date.now() / 1000), certDer: Buffer.alloc(0),
};

/** Calls with ids and a waiting Map, matched to their answers as src/net/peer-links.ts does. */
class Calls {
  private readonly waiting = new Map<number, (result: ActorResult) => void>();
  private nextId = 1;

  constructor(private readonly post: (call: ActorCall) => void) {}

  call(): Promise<ActorResult> {
    return new Promise((resolve) => {
      const id = this.nextId++;
      this.waiting.set(id, resolve);
      this.post({ id, hops: 0, service: 'master', request: REQUEST, auth: AUTH });
    });
  }

  receive(result: ActorResult): void {
    const resolve = this.waiting.get(result.id);
    if (!resolve) return;
    this.waiting.delete(result.id);
    resolve(result);
  }
}

let answered = 0;
const count = (result: ActorResult): void => {
  if (result.ok) answered++;
};
const cleanup: (() => void | Promise<unknown>)[] = [];

export const suite: MicroSuite = {
  id: 'thread-hop',
  question: 'What does handing a call to another thread and getting its answer back cost: comlink vs a plain MessagePort vs the batched port the server uses?',
  openssl: ['rsa2048'],
  notes: [
    'ratio = round trips per verify: N means one call to the other thread and back costs 1/N of an RSA-2048 verify (openssl).',
    `"One at a time" rows are a lone call's latency (each sample the mean of a batch of 100); "${IN_FLIGHT} in flight" rows are per call with ${IN_FLIGHT} outstanding, i.e. throughput.`,
    'The payload is a master ActorCall and its answer, as between two fronts. BatchedPort waits for setImmediate on each side, so a lone call pays two extra event-loop turns.',
  ],
  async setup(): Promise<MicroTask[]> {
    const comlinkChannel = new MessageChannel();
    const plainChannel = new MessageChannel();
    const batchedChannel = new MessageChannel();
    const data: ThreadHopData = { comlink: comlinkChannel.port2, plain: plainChannel.port2, batched: batchedChannel.port2 };
    const worker = new Worker(new URL('./thread-hop.worker.js', import.meta.url), {
      workerData: data, transferList: [data.comlink, data.plain, data.batched],
    });
    const ports: MessagePort[] = [comlinkChannel.port1, plainChannel.port1, batchedChannel.port1];

    const remote = Comlink.wrap<Echo>(endpointOf(comlinkChannel.port1));
    const plainPort = plainChannel.port1;
    const plain = new Calls((call) => plainPort.postMessage(call));
    plainPort.on('message', (result: ActorResult) => plain.receive(result));
    const batched = new Calls((call) => link.send(call));
    const link = new BatchedPort<ActorCall, ActorResult>(batchedChannel.port1, (result) => batched.receive(result));

    cleanup.push(() => remote[Comlink.releaseProxy](), () => link.detach(), () => {
      for (const port of ports) port.close();
    }, () => worker.terminate());

    // Start the thread before measuring: its first answer waits for the module to load.
    const first = await Promise.all([remote.call({ id: 0, hops: 0, service: 'master', request: REQUEST, auth: AUTH }), plain.call(), batched.call()]);
    if (!first.every((result) => result.ok)) throw new Error('the echo thread did not answer ok');

    const inFlight = (calls: Calls) => async (): Promise<void> => {
      const results = await Promise.all(Array.from({ length: IN_FLIGHT }, () => calls.call()));
      for (const result of results) count(result);
    };
    const ref = (o: Parameters<typeof reference>[0]) => reference(o, 'rsa2048.verify');
    let id = 1;
    return [
      {
        name: 'comlink call, one at a time', async: true, batch: 100,
        fn: async () => count(await remote.call({ id: id++, hops: 0, service: 'master', request: REQUEST, auth: AUTH })),
        reference: ref,
      },
      { name: 'plain MessagePort, one at a time', async: true, batch: 100, fn: async () => count(await plain.call()), reference: ref },
      { name: 'BatchedPort, one at a time', async: true, batch: 100, fn: async () => count(await batched.call()), reference: ref },
      { name: `plain MessagePort, ${IN_FLIGHT} in flight`, async: true, ops: IN_FLIGHT, fn: inFlight(plain), reference: ref },
      { name: `BatchedPort, ${IN_FLIGHT} in flight (one postMessage per turn)`, async: true, ops: IN_FLIGHT, fn: inFlight(batched), reference: ref },
    ];
  },
  async teardown() {
    for (const step of cleanup) await step();
    if (answered === 0) throw new Error('the echo thread answered nothing');
  },
};

await runMicroCli(suite);
