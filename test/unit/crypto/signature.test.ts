/** @module Unit tests: RFC 9421 sign → verify round trips for all four algorithms, tampering, signRequest's output, freshness. */
import { randomBytes } from 'node:crypto';
import { parseDictionary, type InnerList } from 'structured-headers';
import { describe, expect, it } from 'vitest';
import { isFresh, parseSignature, signRequest, signatureBase, verifySignature } from '../../../src/crypto/signature.js';
import type { SignatureAlgorithm } from '../../../src/protocol/types.js';
import { makeTerminal, partsOf, receive, signed, type Terminal } from './signed-request.js';

const terminals = { rsa: makeTerminal('rsa'), ec: makeTerminal('ec'), ed25519: makeTerminal('ed25519') };

const CASES: Array<[SignatureAlgorithm, Terminal]> = [
  ['rsa-v1_5-sha256', terminals.rsa],
  ['rsa-pss-sha512', terminals.rsa],
  ['ecdsa-p256-sha256', terminals.ec],
  ['ed25519', terminals.ed25519],
];

describe.each(CASES)('%s round trip', (alg, t) => {
  it('verifies with body, without body, and with a query', () => {
    expect(receive(signed(t, alg), t.publicKey, t.kind)).toBe('ok');
    expect(receive(signed(t, alg, { body: Buffer.alloc(0) }), t.publicKey, t.kind)).toBe('ok');
    const get = signed(t, alg, { method: 'GET', path: '/api/v1/deposit-address', query: 'coin=BTC', body: Buffer.alloc(0) });
    expect(receive(get, t.publicKey, t.kind)).toBe('ok');
  });

  it('fails when any covered part is altered', () => {
    const wire = signed(t, alg, { query: 'a=1' });
    expect(receive({ ...wire, method: 'PUT' }, t.publicKey, t.kind)).toBe('bad_signature');
    expect(receive({ ...wire, path: '/api/v1/ping' }, t.publicKey, t.kind)).toBe('bad_signature');
    expect(receive({ ...wire, query: 'a=2' }, t.publicKey, t.kind)).toBe('bad_signature');
    expect(receive({ ...wire, headers: { ...wire.headers, 'X-Terminal-Serial': 'ATM-8' } }, t.publicKey, t.kind)).toBe('bad_signature');
    expect(receive({ ...wire, body: Buffer.from('{"eventId":"e2"}') }, t.publicKey, t.kind)).toBe('bad_content_digest');
    const forgedDigest = signed(t, alg, { body: Buffer.from('{"eventId":"e2"}') }).headers['Content-Digest']!;
    const swapped = { ...wire, body: Buffer.from('{"eventId":"e2"}'), headers: { ...wire.headers, 'Content-Digest': forgedDigest } };
    expect(receive(swapped, t.publicKey, t.kind)).toBe('bad_signature');
  });

  it('fails for a flipped signature bit, a truncated signature, or another key', () => {
    const wire = signed(t, alg);
    const parts = partsOf(wire);
    const parsed = parseSignature(wire.headers['Signature-Input'], wire.headers['Signature'], parts);
    if (!parsed.ok) throw new Error(parsed.code);
    const base = signatureBase(parts, parsed.value);
    if (!base.ok) throw new Error(base.code);
    const flipped = Buffer.from(parsed.value.signature);
    flipped[flipped.length >> 1]! ^= 0x01;
    expect(verifySignature(t.publicKey, alg, base.value, parsed.value.signature)).toBe(true);
    expect(verifySignature(t.publicKey, alg, base.value, flipped)).toBe(false);
    expect(verifySignature(t.publicKey, alg, base.value, parsed.value.signature.subarray(1))).toBe(false);
    expect(verifySignature(t.publicKey, alg, base.value, Buffer.alloc(0))).toBe(false);
    const other = makeTerminal(t.kind);
    expect(verifySignature(other.publicKey, alg, base.value, parsed.value.signature)).toBe(false);
  });
});

describe('verifySignature with RSA', () => {
  it('refuses a signature one octet short, even one whose dropped octet was a leading zero (RFC 8017 §8.1.2)', () => {
    const t = terminals.rsa;
    for (const alg of ['rsa-pss-sha512', 'rsa-v1_5-sha256'] as SignatureAlgorithm[]) {
      // About 1 signature in 256 starts with 0x00; OpenSSL's PSS path alone accepted it without that octet.
      let found = false;
      for (let i = 0; i < 5000 && !found; i++) {
        const wire = signed(t, alg);
        const parts = partsOf(wire);
        const parsed = parseSignature(wire.headers['Signature-Input'], wire.headers['Signature'], parts);
        if (!parsed.ok) throw new Error(parsed.code);
        if (parsed.value.signature[0] !== 0) continue;
        found = true;
        const base = signatureBase(parts, parsed.value);
        if (!base.ok) throw new Error(base.code);
        expect(verifySignature(t.publicKey, alg, base.value, parsed.value.signature), alg).toBe(true);
        expect(verifySignature(t.publicKey, alg, base.value, parsed.value.signature.subarray(1)), alg).toBe(false);
      }
      expect(found, `${alg}: no signature with a leading zero in 5000`).toBe(true);
    }
  });
});

describe('verifySignature', () => {
  it('returns false, never throws, when the algorithm does not fit the key', () => {
    const wire = signed(terminals.ec, 'ecdsa-p256-sha256');
    const sig = Buffer.from(wire.headers['Signature']!.split(':')[1]!, 'base64');
    for (const alg of ['rsa-v1_5-sha256', 'rsa-pss-sha512', 'ed25519', 'hmac-sha256'] as SignatureAlgorithm[]) {
      expect(verifySignature(terminals.ec.publicKey, alg, 'base', sig)).toBe(false);
    }
    expect(verifySignature(terminals.rsa.publicKey, 'ed25519', 'base', Buffer.alloc(64))).toBe(false);
  });

  it('accepts an RSA-PSS signature with another salt length (the npm library signs with the maximum)', async () => {
    const { sign, constants } = await import('node:crypto');
    const sig = sign('sha512', Buffer.from('base'), {
      key: terminals.rsa.privateKeyPem,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_MAX_SIGN,
    });
    expect(verifySignature(terminals.rsa.publicKey, 'rsa-pss-sha512', 'base', sig)).toBe(true);
  });
});

describe('signRequest', () => {
  it('emits exactly the profile: components in order, params created, nonce, keyid, alg', () => {
    const headers = signRequest({
      method: 'POST',
      path: '/api/v1/pairing',
      query: 'x=1',
      body: Buffer.from('{}'),
      serial: 'ATM-7',
      privateKeyPem: terminals.ed25519.privateKeyPem,
      alg: 'ed25519',
      keyid: terminals.ed25519.tfp,
      created: 1700000000,
      nonce: 'AAAAAAAAAAAAAAAAAAAAAA==',
    });
    expect(Object.keys(headers).sort()).toEqual(['Content-Digest', 'Signature', 'Signature-Input', 'X-Terminal-Serial']);
    expect(headers['Signature-Input']).toBe(
      `term=("@method" "@path" "@query" "content-digest" "x-terminal-serial");created=1700000000;` +
        `nonce="AAAAAAAAAAAAAAAAAAAAAA==";keyid="${terminals.ed25519.tfp}";alg="ed25519"`,
    );
    expect(headers['Signature']).toMatch(/^term=:[A-Za-z0-9+/]{86}==:$/);
    expect(headers['Content-Digest']).toBe('sha-256=:RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=:');
  });

  it('draws a fresh 16-byte nonce for every request', () => {
    const nonces = Array.from({ length: 20 }, () => {
      const input = parseDictionary(signed(terminals.ed25519, 'ed25519').headers['Signature-Input']!).get('term') as InnerList;
      return input[1].get('nonce') as string;
    });
    expect(new Set(nonces).size).toBe(20);
    for (const nonce of nonces) expect(Buffer.from(nonce, 'base64')).toHaveLength(16);
  });

  it('covers extra headers and sends them', () => {
    const cert = randomBytes(300).toString('base64');
    const wire = signed(terminals.ed25519, 'ed25519', {}, { extraHeaders: { 'X-Terminal-Certificate': cert }, label: 'sig1' });
    expect(wire.headers['X-Terminal-Certificate']).toBe(cert);
    expect(wire.headers['Signature-Input']).toMatch(/^sig1=\(.*"x-terminal-serial" "x-terminal-certificate"\)/);
    expect(receive(wire, terminals.ed25519.publicKey, 'ed25519')).toBe('ok');
    const swapped = { ...wire, headers: { ...wire.headers, 'X-Terminal-Certificate': randomBytes(300).toString('base64') } };
    expect(receive(swapped, terminals.ed25519.publicKey, 'ed25519')).toBe('bad_signature');
  });
});

describe('isFresh', () => {
  it('accepts created within ±skew and an expires not yet past', () => {
    expect(isFresh({ created: 1000, expires: null }, 1000, 300)).toBe(true);
    expect(isFresh({ created: 700, expires: null }, 1000, 300)).toBe(true);
    expect(isFresh({ created: 1300, expires: null }, 1000, 300)).toBe(true);
    expect(isFresh({ created: 1000, expires: 1000 }, 1000, 300)).toBe(true);
  });

  it('refuses created outside the skew, or an expired signature', () => {
    expect(isFresh({ created: 699, expires: null }, 1000, 300)).toBe(false);
    expect(isFresh({ created: 1301, expires: null }, 1000, 300)).toBe(false);
    expect(isFresh({ created: 990, expires: 999 }, 1000, 300)).toBe(false);
  });

  it('makes a stale signed request fail end to end', () => {
    const wire = signed(terminals.ec, 'ecdsa-p256-sha256', {}, { created: Math.floor(Date.now() / 1000) - 301 });
    expect(receive(wire, terminals.ec.publicKey, 'ec')).toBe('stale');
  });

  it('makes a signature whose alg does not fit the key type fail end to end', () => {
    const wire = signed(terminals.ec, 'ecdsa-p256-sha256');
    expect(receive(wire, terminals.ec.publicKey, 'rsa')).toBe('alg_mismatch');
  });
});
