/** @module Unit tests: the pairing code against an independent computation and a fixed vector. */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { codesEqual, commitmentOf, normalizeCode, pairingCode } from '../../../src/crypto/pairing-code.js';

/** PROTOCOL.md's formula written out again, with BigInt and string building instead of the module's code path. */
function independentCode(serverNonce: Buffer, terminalNonce: Buffer, serial: string, tfp: string, sfp: string): string {
  const message = Buffer.concat([
    Buffer.from('terminal-pairing-v1\u0000' + serial + '\u0000', 'utf8'),
    Buffer.from(tfp + sfp, 'hex'),
  ]);
  const mac = createHmac('sha256', Buffer.concat([serverNonce, terminalNonce])).update(message).digest('hex');
  const digits = (BigInt('0x' + mac.slice(0, 10)) % 10n ** 12n).toString().padStart(12, '0');
  return digits.replace(/^(\d{3})(\d{3})(\d{3})(\d{3})$/, '$1-$2-$3-$4');
}

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

describe('pairingCode', () => {
  // Fixed vector, computed outside this code base (Python hmac/hashlib):
  // serverNonce = 00..1f, terminalNonce = 20..3f, serial "ATM-0001",
  // TFP = SHA-256("terminal certificate"), SFP = SHA-256("server certificate").
  const vector = {
    serverNonce: Buffer.from(Array.from({ length: 32 }, (_, i) => i)),
    terminalNonce: Buffer.from(Array.from({ length: 32 }, (_, i) => i + 32)),
    serial: 'ATM-0001',
    tfp: sha256Hex('terminal certificate'),
    sfp: sha256Hex('server certificate'),
  };

  it('matches the fixed vector 214-281-169-402', () => {
    expect(vector.tfp).toBe('1db00e53f9a097eaab32481927cea5a8fa5714e4b00b3c26709063929f8d0d1d');
    expect(pairingCode(vector)).toBe('214-281-169-402');
  });

  it('matches an independent computation on random inputs', () => {
    for (let i = 0; i < 200; i++) {
      const input = {
        serverNonce: randomBytes(32),
        terminalNonce: randomBytes(32),
        serial: `SN-${i}-${randomBytes(3).toString('hex')}`,
        tfp: randomBytes(32).toString('hex'),
        sfp: randomBytes(32).toString('hex'),
      };
      const code = pairingCode(input);
      expect(code).toMatch(/^\d{3}-\d{3}-\d{3}-\d{3}$/);
      expect(code).toBe(independentCode(input.serverNonce, input.terminalNonce, input.serial, input.tfp, input.sfp));
    }
  });

  it('changes with every input (a man in the middle sees another SFP)', () => {
    const base = pairingCode(vector);
    expect(pairingCode({ ...vector, sfp: sha256Hex('attacker certificate') })).not.toBe(base);
    expect(pairingCode({ ...vector, tfp: sha256Hex('attacker terminal') })).not.toBe(base);
    expect(pairingCode({ ...vector, serial: 'ATM-0002' })).not.toBe(base);
    expect(pairingCode({ ...vector, serverNonce: Buffer.alloc(32, 1) })).not.toBe(base);
    expect(pairingCode({ ...vector, terminalNonce: Buffer.alloc(32, 1) })).not.toBe(base);
  });

  it('refuses inputs the protocol rules out', () => {
    const bad = [
      { ...vector, serverNonce: Buffer.alloc(31) },
      { ...vector, terminalNonce: Buffer.alloc(33) },
      { ...vector, serial: '' },
      { ...vector, serial: 'a\u0000b' },
      { ...vector, tfp: vector.tfp.toUpperCase() },
      { ...vector, sfp: 'abc' },
    ];
    for (const input of bad) {
      expect(() => pairingCode(input)).toThrow(expect.objectContaining({ code: 'invalid_field' }));
    }
  });
});

describe('commitmentOf', () => {
  it('is base64 SHA-256 of the nonce', () => {
    // Same vector nonce; value computed with Python hashlib.
    const terminalNonce = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 32));
    expect(commitmentOf(terminalNonce)).toBe('ctu3M2x2eAAj+D2kw1Xy7uqFczsT00d2l5F3kMEikIQ=');
  });
});

describe('normalizeCode and codesEqual', () => {
  it.each([
    ['123-456-789-012', '123-456-789-012'],
    ['123456789012', '123-456-789-012'],
    [' 123 456 789 012 ', '123-456-789-012'],
    ['123-456 789012', '123-456-789-012'],
  ])('normalizes %j', (input, expected) => {
    expect(normalizeCode(input)).toBe(expected);
  });

  it.each(['', '12345678901', '1234567890123', '123-456-789-01a', '１２３456789012', '123.456.789.012'])(
    'refuses %j',
    (input) => {
      expect(normalizeCode(input)).toBeNull();
    },
  );

  it('compares normalized digits', () => {
    expect(codesEqual('123-456-789-012', '123456789012')).toBe(true);
    expect(codesEqual('123-456-789-012', '123-456-789-013')).toBe(false);
    expect(codesEqual('garbage', 'garbage')).toBe(false);
    expect(codesEqual('', '')).toBe(false);
  });
});
