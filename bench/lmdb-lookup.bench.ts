/** @module Micro benchmark: the pinned-certificate lookup master does per call (LMDB read of the terminal record), beside one RSA-2048 verify. */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CertificateCache } from '../src/auth/certificate-cache.js';
import { createSelfSignedCertificate, generateKeyPair } from '../src/crypto/certificates.js';
import { fingerprint } from '../src/crypto/fingerprint.js';
import type { TerminalRecord } from '../src/store/records.js';
import { Store } from '../src/store/store.js';
import { runMicroCli, type MicroSuite, type MicroTask } from './lib/micro-runner.js';
import { reference } from './lib/openssl-speed.js';

const TERMINALS = 100_000;
const WRITE_CHUNK = 5_000;

let dir = '';
let store: Store | null = null;
let found = 0;

function record(serial: string, der: Buffer): TerminalRecord {
  return {
    serial, name: `Lobby ${serial}`, location: 'Main street 1', contact: '+1 555 0100', vpn: false,
    createdAt: Date.now(), createdBy: 'bench', tfp: fingerprint(der), certDer: der,
    pairedAt: Date.now(), pairedBy: 'bench', lastSeenAt: null,
  };
}

export const suite: MicroSuite = {
  id: 'lmdb-lookup',
  question: `What does master's per-call read of the pinned terminal record cost (LMDB, ${TERMINALS.toLocaleString('en-US')} paired terminals)?`,
  openssl: ['rsa2048'],
  notes: [
    'ratio = lookups per verify: N means one lookup costs 1/N of an RSA-2048 verify (openssl).',
    'Serials are read in a shuffled order, so most reads miss the CPU caches as a fleet\'s would.',
    'Each record carries ~370 bytes of certificate DER and a distinct TFP, like a paired P-256 terminal\'s.',
  ],
  async setup(): Promise<MicroTask[]> {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-lmdb-'));
    store = Store.open(dir);
    const s = store;
    const pair = generateKeyPair('ec');
    const serials = Array.from({ length: TERMINALS }, (_, i) => `BENCH-${String(i).padStart(6, '0')}`);
    // Distinct bytes per record (a different TFP each), without generating 100k certificates.
    const base = createSelfSignedCertificate({ privateKeyPem: pair.privateKeyPem, commonName: 'BENCH' }).der;
    const records = new Map<string, TerminalRecord>();
    for (let start = 0; start < serials.length; start += WRITE_CHUNK) {
      await s.root.transaction(() => {
        for (const serial of serials.slice(start, start + WRITE_CHUNK)) {
          const der = Buffer.concat([base.subarray(0, base.length - 32), randomBytes(32)]);
          const r = record(serial, der);
          s.terminals.putSync(serial, r);
          records.set(serial, r);
        }
      });
    }
    const order = [...serials].sort(() => Math.random() - 0.5);
    let i = 0;
    const next = (): string => order[i++ % order.length]!;
    const count = (r: unknown): void => {
      if (r !== undefined && r !== null) found++;
    };
    const hot = serials[0]!;
    // The certificate cache holds what the fleet used: a parse of the real certificate under each key.
    const certs = new CertificateCache(s);
    const realSerial = 'BENCH-REAL';
    const real = createSelfSignedCertificate({ privateKeyPem: pair.privateKeyPem, commonName: realSerial }).der;
    await s.terminals.put(realSerial, record(realSerial, real));
    const realTfp = fingerprint(real);
    if (!certs.lookup(realSerial, realTfp)) throw new Error('certificate cache lookup failed');
    return [
      { name: 'Store.terminals.get (msgpack decode), shuffled serials', batch: 50, fn: () => count(s.terminals.get(next())), reference: (o) => reference(o, 'rsa2048.verify') },
      { name: 'Store.terminals.get, one hot serial', batch: 50, fn: () => count(s.terminals.get(hot)), reference: (o) => reference(o, 'rsa2048.verify') },
      { name: 'terminals.getBinary (no decode), shuffled serials', batch: 50, fn: () => count(s.terminals.getBinary(next())), reference: (o) => reference(o, 'rsa2048.verify') },
      { name: 'CertificateCache.lookup, hit (src/auth)', batch: 50, fn: () => count(certs.lookup(realSerial, realTfp)), reference: (o) => reference(o, 'rsa2048.verify') },
      { name: 'Map.get of decoded records (in-memory upper bound)', batch: 50, fn: () => count(records.get(next())), reference: (o) => reference(o, 'rsa2048.verify') },
    ];
  },
  async teardown() {
    await store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    if (found === 0) throw new Error('no lookup found a record');
  },
};

await runMicroCli(suite);
