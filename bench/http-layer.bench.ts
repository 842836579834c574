/**
 * @module Micro benchmark: what the services' HTTP layer (src/net/terminal-service.ts and http.ts: admission, copying
 * the request head, the body, the JSON answer) adds per request to a bare uWebSockets.js handler, in time and in the
 * server thread's garbage. Both answer a master call's request with a fixed 200; the client runs on another thread.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import uWS, { type TemplatedApp } from 'uWebSockets.js';
import { createSelfSignedCertificate, defaultAlgorithm, generateKeyPair } from '../src/crypto/certificates.js';
import { fingerprint } from '../src/crypto/fingerprint.js';
import { signRequest } from '../src/crypto/signature.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { Admission } from '../src/net/terminal-admission.js';
import { noCounts } from '../src/net/front-stats.js';
import { listen, type Listening } from '../src/net/listen.js';
import { RefusalLog } from '../src/net/refusal-log.js';
import { createTerminalService } from '../src/net/terminal-service.js';
import { tlsAppOptions, type TlsFiles } from '../src/net/tls-options.js';
import { ensureServerIdentity } from '../src/server/identity.js';
import { floorPing } from './lib/floor-handler.js';
import type { HttpLayerClientData, HttpLayerRun, HttpLayerTally } from './http-layer.worker.js';
import { runMicroCli, type MicroSuite, type MicroTask } from './lib/micro-runner.js';
import { reference } from './lib/openssl-speed.js';

/** Requests per measured call: the hop to the client thread and back is shared by this many. */
const BATCH = 100;
/** Keep-alive connections the client spreads them over, each one request at a time, as terminals do. */
const CONNECTIONS = 8;

const PING = '/api/v1/ping';

/** The fleet's floor server (bench/floor-uws-server.ts): its very handler. */
function bareApp(tls: TlsFiles): TemplatedApp {
  return uWS.SSLApp(tlsAppOptions(tls)).post(PING, floorPing);
}

/**
 * The service master runs on, with a handler that answers at once, with no promise, instead of authenticating and asking an actor.
 * `nextSfp`: announced on every answer, as while a next identity is prepared (next-identity.ts).
 */
function serviceApp(tls: TlsFiles, nextSfp: string | null): TemplatedApp {
  const unlimited = { perSecond: Number.MAX_SAFE_INTEGER, burst: Number.MAX_SAFE_INTEGER };
  const log = createLogger({ level: 'silent', pretty: false });
  return createTerminalService({
    name: 'master', routes: [{ method: 'post', path: PING }], maxBodyBytes: 64 * 1024, bodies: { deadlineMs: 10_000, maxArriving: 1024 }, tls,
    log, refusals: new RefusalLog(log),
    admission: new Admission({ perAddress: unlimited, global: unlimited, maxInFlight: 4096 }),
    counts: noCounts(),
    nextSfp,
    // Nothing checked, and an answer at once, as master's actor answers a ping: the layer then answers in uWS's
    // handler, with no promise.
    authenticate: () => null,
    checkBody: () => undefined,
    handle: () => ({ status: 200, body: { serverTime: new Date().toISOString() } }),
  });
}

/** A signed RSA-2048 ping as a terminal sends it: its headers are what the layer copies. */
function terminalRequest(port: number): Buffer {
  const pair = generateKeyPair('rsa');
  const { der } = createSelfSignedCertificate({ privateKeyPem: pair.privateKeyPem, commonName: 'BENCH-H000001' });
  const signed = signRequest({ method: 'POST', path: PING, serial: 'BENCH-H000001', privateKeyPem: pair.privateKeyPem, alg: defaultAlgorithm('rsa'), keyid: fingerprint(der) });
  const head = [`POST ${PING} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...Object.entries(signed).map(([name, value]) => `${name}: ${value}`), 'Content-Length: 0'];
  return Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1');
}

let dir = '';
let worker: Worker | null = null;
const listening: { app: TemplatedApp; socket: Listening }[] = [];
let answered = 0;

export const suite: MicroSuite = {
  id: 'http-layer',
  question: 'What does our HTTP layer (admission, the request head copied, the body, the JSON answer) add per request to a bare uWebSockets.js handler, in time and in the server thread\'s garbage?',
  openssl: ['rsa2048'],
  notes: [
    'ratio = requests per openssl verify. A request is answered over loopback TLS on one of 8 keep-alive connections, each one request at a time; the client runs on another thread, so on 2 cores ns/op is the slower of the two threads, not the server\'s CPU.',
    'heap B/op is the server thread\'s: what the layer allocates per request, plus a 100th of the message to the client thread.',
    'The request is a signed RSA-2048 ping as terminals send it; neither server verifies it. The fleet benchmark\'s floor server is the bare handler.',
  ],
  async setup(): Promise<MicroTask[]> {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-http-layer-'));
    // The identity the server generates in a fresh data dir.
    const tls: TlsFiles = ensureServerIdentity(loadConfig({ 'data-dir': dir }, {}));

    const bare = bareApp(tls);
    const service = serviceApp(tls, null);
    const announcing = serviceApp(tls, fingerprint(Buffer.from('the next certificate')));
    const ports: number[] = [];
    for (const app of [bare, service, announcing]) {
      const socket = await listen(app, '127.0.0.1', 0, 'http-layer');
      listening.push({ app, socket });
      ports.push(socket.port);
    }
    const [barePort, servicePort, announcingPort] = ports as [number, number, number];
    const data: HttpLayerClientData = { request: terminalRequest(servicePort), connections: CONNECTIONS };
    const client = new Worker(new URL('./http-layer.worker.js', import.meta.url), { workerData: data });
    worker = client;
    const send = (port: number, requests: number): Promise<void> =>
      new Promise((resolve, reject) => {
        client.once('message', (tally: HttpLayerTally) => {
          answered += tally.ok;
          if (tally.failed > 0) reject(new Error(`${tally.failed} of ${requests} requests were not answered 200`));
          else resolve();
        });
        client.postMessage({ port, requests } satisfies HttpLayerRun);
      });
    // Connections open and code warm before measuring.
    await send(barePort, 2_000);
    await send(servicePort, 2_000);
    await send(announcingPort, 2_000);

    const ref = (o: Parameters<typeof reference>[0]) => reference(o, 'rsa2048.verify');
    return [
      { name: 'bare uWebSockets.js handler: the body read, a fixed JSON answer', async: true, ops: BATCH, fn: () => send(barePort, BATCH), reference: ref },
      { name: 'createTerminalService (src/net): admission, head copy, body, the same answer', async: true, ops: BATCH, fn: () => send(servicePort, BATCH), reference: ref },
      { name: 'createTerminalService announcing a next SFP (Pairing-Next-SFP on every answer)', async: true, ops: BATCH, fn: () => send(announcingPort, BATCH), reference: ref },
    ];
  },
  async teardown() {
    await worker?.terminate();
    // MUST close every uWS socket and app before the process ends: an open handle at exit aborts it.
    for (const { app, socket } of listening) {
      socket.close();
      (app as TemplatedApp & { close?: () => void }).close?.();
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (answered === 0) throw new Error('no request was answered');
  },
};

await runMicroCli(suite);
