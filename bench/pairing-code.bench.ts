/** @module Micro benchmark: deriving and comparing the 12-digit pairing code (HMAC-SHA256), beside openssl's HMAC rate. */
import { createHmac, randomBytes } from 'node:crypto';
import { codesEqual, pairingCode, type PairingCodeInput } from '../src/crypto/pairing-code.js';
import { runMicroCli, type MicroSuite, type MicroTask } from './lib/micro-runner.js';
import { reference } from './lib/openssl-speed.js';

const CODE = /^\d{3}-\d{3}-\d{3}-\d{3}$/;
let last = '';

/** The same MAC as src/crypto/pairing-code.ts with the message concatenated first: one update instead of six. */
function pairingCodeOneUpdate(input: PairingCodeInput): string {
  const message = Buffer.concat([
    Buffer.from('terminal-pairing-v1\u0000', 'ascii'), Buffer.from(input.serial, 'utf8'), Buffer.from([0]),
    Buffer.from(input.tfp, 'hex'), Buffer.from(input.sfp, 'hex'),
  ]);
  const mac = createHmac('sha256', Buffer.concat([input.serverNonce, input.terminalNonce])).update(message).digest();
  const digits = (mac.readUIntBE(0, 5) % 1_000_000_000_000).toString().padStart(12, '0');
  return `${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6, 9)}-${digits.slice(9, 12)}`;
}

export const suite: MicroSuite = {
  id: 'pairing-code',
  question: 'What do the pairing code\'s derivation and the operator\'s code comparison cost?',
  openssl: ['hmac-sha256', 'sha256', 'rsa2048'],
  notes: ['The code MACs ~100 bytes under a 64-byte key; openssl\'s figure is HMAC-SHA256 of 128-byte messages.'],
  setup(): MicroTask[] {
    const input: PairingCodeInput = {
      serverNonce: randomBytes(32), terminalNonce: randomBytes(32), serial: 'ATM-000001',
      tfp: randomBytes(32).toString('hex'), sfp: randomBytes(32).toString('hex'),
    };
    const code = pairingCode(input);
    if (pairingCodeOneUpdate(input) !== code) throw new Error('the one-update variant computes another code');
    const typed = code.replaceAll('-', ' ');
    return [
      { name: 'pairingCode (src: HMAC with six updates)', batch: 20, fn: () => (last = pairingCode(input)), reference: (o) => reference(o, 'hmac-sha256') },
      { name: 'HMAC over a pre-concatenated message', batch: 20, fn: () => (last = pairingCodeOneUpdate(input)), reference: (o) => reference(o, 'hmac-sha256') },
      {
        name: 'codesEqual: normalise + timingSafeEqual', batch: 50,
        fn: () => {
          if (!codesEqual(typed, code)) throw new Error('codes differ');
        },
        reference: (o) => reference(o, 'rsa2048.verify'),
      },
    ];
  },
  teardown() {
    if (!CODE.test(last)) throw new Error('the benchmark produced no code');
  },
};

await runMicroCli(suite);
