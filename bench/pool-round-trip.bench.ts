/** @module Micro benchmark: verifying on the crypto worker pool (src/crypto/pool.ts) vs inline — the hop's cost, thread count and batch size, beside openssl's per-core RSA-2048 verify. */
import { createPublicKey } from 'node:crypto';
import { generateKeyPair } from '../src/crypto/certificates.js';
import { CryptoPool } from '../src/crypto/pool.js';
import type { VerifyItem } from '../src/crypto/pool-tasks.js';
import { signRequest, verifySignature } from '../src/crypto/signature.js';
import { runMicroCli, type MicroSuite, type MicroTask } from './lib/micro-runner.js';
import { reference } from './lib/openssl-speed.js';

/** Verifications each measured call completes: enough in flight to keep every thread busy. */
const PER_CALL = 64;

const pools: CryptoPool[] = [];
let verified = 0;

function count(results: boolean[][]): void {
  for (const batch of results) for (const ok of batch) if (ok) verified++;
}

export const suite: MicroSuite = {
  id: 'pool-round-trip',
  question: 'Does moving RSA-2048 verification to the crypto worker pool pay: hop cost, threads, batch size?',
  openssl: ['rsa2048'],
  notes: [
    `Pool rows keep ${PER_CALL} verifications in flight per measured call; ratio is against ONE core's openssl verify rate, so 2 threads could exceed 1×.`,
    'The empty batch is one task at a time with no work: the pure hop (post, wake a thread, reply). The pool parses the SPKI key per item.',
  ],
  async setup(): Promise<MicroTask[]> {
    const pair = generateKeyPair('rsa');
    const headers = signRequest({ method: 'POST', path: '/api/v1/ping', serial: 'BENCH-1', privateKeyPem: pair.privateKeyPem, alg: 'rsa-pss-sha512', keyid: 'a'.repeat(64) });
    const input = headers['Signature-Input']!.slice('term='.length);
    const signature = Buffer.from(/:([^:]+):/.exec(headers['Signature']!)![1]!, 'base64');
    const base = `"@method": POST\n"@path": /api/v1/ping\n"x-terminal-serial": BENCH-1\n"@signature-params": ${input}`;
    const publicKey = createPublicKey(pair.publicKeyPem);
    if (!verifySignature(publicKey, 'rsa-pss-sha512', base, signature)) throw new Error('the test signature does not verify');
    const item: VerifyItem = { spkiDer: publicKey.export({ type: 'spki', format: 'der' }), alg: 'rsa-pss-sha512', base, signature };
    const one = new CryptoPool({ threads: 1 });
    const two = new CryptoPool({ threads: 2 });
    pools.push(one, two);
    // Start the threads before measuring: the pool creates them on demand.
    await Promise.all([one, two, two].map((p) => p.verifyBatch([item])));
    const inFlight = (p: CryptoPool, batch: number) => async (): Promise<void> => {
      const tasks: Promise<boolean[]>[] = [];
      for (let i = 0; i < PER_CALL / batch; i++) tasks.push(p.verifyBatch(Array.from({ length: batch }, () => item)));
      count(await Promise.all(tasks));
    };
    const ref = (o: Parameters<typeof reference>[0]) => reference(o, 'rsa2048.verify');
    return [
      { name: 'inline verifySignature (calling thread)', fn: () => count([[verifySignature(publicKey, 'rsa-pss-sha512', base, signature)]]), reference: ref },
      { name: 'pool hop with an empty batch, 1 in flight', async: true, batch: 20, fn: async () => count([await two.verifyBatch([])]), reference: ref },
      { name: 'pool 1 thread, batch 1', async: true, ops: PER_CALL, fn: inFlight(one, 1), reference: ref },
      { name: 'pool 2 threads, batch 1', async: true, ops: PER_CALL, fn: inFlight(two, 1), reference: ref },
      { name: 'pool 2 threads, batch 16', async: true, ops: PER_CALL, fn: inFlight(two, 16), reference: ref },
    ];
  },
  async teardown() {
    await Promise.all(pools.map((p) => p.close()));
    if (verified === 0) throw new Error('nothing verified');
  },
};

await runMicroCli(suite);
