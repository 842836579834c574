/**
 * @module Micro benchmark: everything a front thread does for one signed master call except the network — the
 * authentication, the actor, the pin, the replay window and the write-behind — on a real store, beside one verify.
 * The fleet's CPU per call, less the floor server's and less this, is what threads, wake-ups and GC add.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CertificateCache } from '../src/auth/certificate-cache.js';
import { authenticateMaster } from '../src/auth/request-auth.js';
import type { ActorContext } from '../src/actors/context.js';
import { TerminalRouter } from '../src/actors/terminal-router.js';
import { WriteBehind } from '../src/actors/write-behind.js';
import { createSelfSignedCertificate, defaultAlgorithm, generateKeyPair, parseCertificate } from '../src/crypto/certificates.js';
import { fingerprint } from '../src/crypto/fingerprint.js';
import { parseSignature, signRequest, signatureBase, verifySignature, type RequestParts } from '../src/crypto/signature.js';
import { createLogger } from '../src/logger.js';
import type { TerminalRequest } from '../src/protocol/types.js';
import { Store } from '../src/store/store.js';
import { runMicroCli, type MicroSuite, type MicroTask } from './lib/micro-runner.js';
import { reference } from './lib/openssl-speed.js';

/** Paired terminals; each has its own certificate (and so its own parsed key object) over one RSA-2048 key. */
const TERMINALS = Number(process.env.BENCH_MASTER_CALL_TERMINALS ?? 256);
if (!Number.isInteger(TERMINALS) || TERMINALS <= 0) {
  throw new Error(`BENCH_MASTER_CALL_TERMINALS must be a positive whole number, got "${process.env.BENCH_MASTER_CALL_TERMINALS}"`);
}
/** Pre-signed calls, used round robin (see the note on nonces). */
const CALLS = Math.max(2_000, TERMINALS);
/** The freshness window authentication allows, as the server's default. */
const CLOCK_SKEW_SEC = 300;

let dir = '';
let store: Store | null = null;
let writeBehind: WriteBehind | null = null;
let router: TerminalRouter | null = null;
let answered = 0;

/** A call as `copyHead` and `readBody` hand it to the service: lower-case header names, an empty body. */
function asReceived(signed: Record<string, string>): TerminalRequest {
  const headers: Record<string, string> = { host: '127.0.0.1:7743', 'content-length': '0' };
  for (const [name, value] of Object.entries(signed)) headers[name.toLowerCase()] = value;
  return { method: 'POST', path: '/api/v1/ping', query: '', headers, body: Buffer.alloc(0), remoteAddress: '127.0.0.1' };
}

export const suite: MicroSuite = {
  id: 'master-call',
  question: 'What does a front thread spend on one signed master call (RSA-2048) apart from the network, and how much of it is the verify?',
  openssl: ['rsa2048'],
  notes: [
    'ratio = calls per openssl verify: 0.5× means the step costs two RSA-2048 verifies (openssl, one core).',
    `A real store in a temp dir with ${TERMINALS} paired terminals, each certificate parsed into its own key object at setup (master caches them); ${CALLS.toLocaleString('en-US')} calls signed at setup with the default RSA algorithm, used round robin.`,
    'The actor\'s replay window runs with a skew of 0, so a nonce expires a second after its call was signed and the same calls can be used again: its lookup then finds an expired nonce where a real call finds none, at the same cost. Authentication keeps the 300 s freshness window.',
    'The fleet\'s server CPU per call, less the floor server\'s (uWebSockets.js and TLS) and less the full row here, is what the threads, their wake-ups, GC and the host add.',
  ],
  async setup(): Promise<MicroTask[]> {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-master-call-'));
    const s = Store.open(dir);
    store = s;
    const log = createLogger({ level: 'silent', pretty: false });
    const pair = generateKeyPair('rsa');
    const alg = defaultAlgorithm('rsa');
    const terminals: { serial: string; tfp: string; der: Buffer }[] = [];
    for (let i = 0; i < TERMINALS; i++) {
      const serial = `BENCH-${String(i).padStart(6, '0')}`;
      const { der } = createSelfSignedCertificate({ privateKeyPem: pair.privateKeyPem, commonName: serial });
      terminals.push({ serial, tfp: fingerprint(der), der });
    }
    await s.root.transaction(() => {
      for (const t of terminals) {
        s.terminals.putSync(t.serial, {
          serial: t.serial, name: t.serial, location: 'Main street 1', contact: '+1 555 0100', vpn: false,
          createdAt: Date.now(), createdBy: 'bench', tfp: t.tfp, certDer: t.der, pairedAt: Date.now(), pairedBy: 'bench', lastSeenAt: null,
        });
      }
    });
    // Signed a few seconds ago, so that with the actor's skew of 0 every nonce has already expired when it is used.
    const created = Math.floor(Date.now() / 1000) - 5;
    const calls: TerminalRequest[] = [];
    for (let i = 0; i < CALLS; i++) {
      const t = terminals[i % TERMINALS]!;
      calls.push(asReceived(signRequest({ method: 'POST', path: '/api/v1/ping', serial: t.serial, privateKeyPem: pair.privateKeyPem, alg, keyid: t.tfp, created })));
    }

    writeBehind = new WriteBehind(s, log);
    const ctx: ActorContext = {
      store: s, writeBehind, log, sfp: 'bench', masterUrl: 'https://127.0.0.1:7743', clockSkewSec: 0,
      pairingTtlMs: 600_000, maxCodeAttempts: 5, events: () => undefined, cashRecorded: () => undefined, now: () => Date.now(),
      vpn: {
        issue: () => Promise.reject(new Error('no VPN in this benchmark')),
        publishCrl: () => Promise.resolve(),
        gateConfig: () => Promise.resolve(null),
      },
    };
    const r = new TerminalRouter(ctx, 60_000);
    router = r;
    const certs = new CertificateCache(s);
    const authOptions = () => ({ nowSec: Math.floor(Date.now() / 1000), clockSkewSec: CLOCK_SKEW_SEC });
    // Each terminal's key parsed and cached once before measuring, as a running server has them.
    for (const request of calls.slice(0, TERMINALS)) authenticateMaster(request, certs, authOptions());

    // The verify alone, on the first call's parsed key, base and signature.
    const first = calls[0]!;
    const parts: RequestParts = { method: first.method, path: first.path, query: first.query, header: (name) => first.headers[name], hasBody: false };
    const parsed = parseSignature(first.headers['signature-input'], first.headers['signature'], parts);
    if (!parsed.ok) throw new Error(parsed.message);
    const base = signatureBase(parts, parsed.value);
    if (!base.ok) throw new Error(base.message);
    const cert = parseCertificate(terminals[0]!.der);
    if (!cert.ok) throw new Error(cert.message);
    const key = cert.value.publicKey;
    const signature = parsed.value.signature;

    let next = 0;
    const call = (): TerminalRequest => calls[next++ % CALLS]!;
    const ok = (status: number): void => {
      // A benchmark of a refused call would measure the wrong path.
      if (status !== 200) throw new Error(`master answered ${status}`);
      answered++;
    };
    const ref = (o: Parameters<typeof reference>[0]) => reference(o, 'rsa2048.verify');
    return [
      {
        name: `${alg}: verifySignature alone (cached KeyObject)`,
        fn: () => ok(verifySignature(key, alg, base.value, signature) ? 200 : 401),
        reference: ref,
      },
      {
        name: 'authenticateMaster: keyid, certificate cache, RFC 9421 parse, verify',
        fn: () => ok(authenticateMaster(call(), certs, authOptions()).serial ? 200 : 401),
        reference: ref,
      },
      {
        name: 'the whole call: authenticateMaster + TerminalRouter.deliver (actor, pin, replay window, write-behind, reply)',
        async: true,
        batch: 16,
        fn: async () => {
          const request = call();
          ok((await r.deliver('master', request, authenticateMaster(request, certs, authOptions()))).status);
        },
        reference: ref,
      },
    ];
  },
  async teardown() {
    await router?.close();
    await writeBehind?.close();
    await store?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (answered === 0) throw new Error('no call was answered');
  },
};

await runMicroCli(suite);
