/** @module Micro benchmark: the fastest way to fingerprint a terminal certificate (SHA-256 over its DER), beside openssl's sha256. */
import { X509Certificate, hash } from 'node:crypto';
import { createSelfSignedCertificate, generateKeyPair } from '../src/crypto/certificates.js';
import { fingerprint } from '../src/crypto/fingerprint.js';
import type { KeyKind } from '../src/protocol/types.js';
import { runMicroCli, type MicroSuite, type MicroTask } from './lib/micro-runner.js';
import { reference } from './lib/openssl-speed.js';

const HEX64 = /^[0-9a-f]{64}$/;
let last = '';
const keep = (hex: string): void => {
  last = hex;
};

export const suite: MicroSuite = {
  id: 'fingerprint',
  question: 'What does the TFP (SHA-256 of the certificate DER, hex) cost, and which Node API computes it fastest?',
  openssl: ['sha256', 'rsa2048'],
  notes: ['openssl\'s sha256 rate is measured on 512-byte blocks and scaled to the certificate\'s length.'],
  setup(): MicroTask[] {
    const tasks: MicroTask[] = [];
    for (const kind of ['ec', 'rsa'] as KeyKind[]) {
      const pair = generateKeyPair(kind);
      const der = createSelfSignedCertificate({ privateKeyPem: pair.privateKeyPem, commonName: 'BENCH-000001' }).der;
      const label = `${kind === 'ec' ? 'P-256' : 'RSA-2048'} certificate, ${der.length} B`;
      tasks.push(
        { name: `${label}: fingerprint() (createHash, src)`, batch: 50, fn: () => keep(fingerprint(der)), reference: (o) => reference(o, 'sha256', der.length) },
        { name: `${label}: crypto.hash one-shot`, batch: 50, fn: () => keep(hash('sha256', der, 'hex')), reference: (o) => reference(o, 'sha256', der.length) },
        {
          name: `${label}: new X509Certificate().fingerprint256 (parse + hash)`,
          batch: 5,
          fn: () => keep(new X509Certificate(der).fingerprint256),
          reference: (o) => reference(o, 'sha256', der.length),
        },
      );
    }
    return tasks;
  },
  teardown() {
    // Consuming the output keeps the hashing from being optimised away, and proves it produced a fingerprint.
    if (!HEX64.test(last) && !/^[0-9A-F:]{95}$/.test(last)) throw new Error('the benchmark produced no fingerprint');
  },
};

await runMicroCli(suite);
