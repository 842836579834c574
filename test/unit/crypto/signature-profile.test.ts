/** @module Unit tests: the PROTOCOL.md profile of RFC 9421 in parseSignature, the signature base, and RFC 9421 appendix B.2.6. */
import { createPublicKey, randomBytes } from 'node:crypto';
import { parseDictionary, serializeInnerList, type InnerList } from 'structured-headers';
import { describe, expect, it } from 'vitest';
import { formatFingerprint } from '../../../src/crypto/fingerprint.js';
import { parseSignature, signatureBase, verifySignature, type RequestParts } from '../../../src/crypto/signature.js';
import { makeTerminal, partsOf, type Wire } from './signed-request.js';

const terminals = { ed25519: makeTerminal('ed25519') };

describe('parseSignature: the profile', () => {
  const t = terminals.ed25519;
  const now = Math.floor(Date.now() / 1000);
  const nonce = randomBytes(16).toString('base64');
  const goodParams = `;created=${now};nonce="${nonce}";keyid="${t.tfp}";alg="ed25519"`;
  const goodList = '("@method" "@path" "content-digest" "x-terminal-serial")';
  const fakeSig = `term=:${randomBytes(64).toString('base64')}:`;
  const request: Wire = {
    method: 'POST',
    path: '/api/v1/ping',
    query: '',
    body: Buffer.from('{}'),
    headers: { 'x-terminal-serial': 'ATM-7', 'content-digest': 'sha-256=:RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=:' },
  };
  const parse = (input: string | undefined, signature: string | undefined, wire: Wire = request) =>
    parseSignature(input, signature, partsOf(wire));
  const codeOf = (result: { ok: boolean; code?: string }) => (result.ok ? 'ok' : result.code);

  it('accepts the minimal profile and reports normalized params', () => {
    const result = parse(`term=${goodList}${goodParams}`, fakeSig);
    if (!result.ok) throw new Error(result.message);
    expect(result.value.label).toBe('term');
    expect(result.value.components).toEqual(['@method', '@path', 'content-digest', 'x-terminal-serial']);
    expect(result.value.params).toEqual({ created: now, expires: null, nonce, keyid: t.tfp, alg: 'ed25519' });
    expect(result.value.signatureParams).toBe(`${goodList}${goodParams}`);
    expect(result.value.signature).toHaveLength(64);
  });

  it('requires alg, and says so when it is missing rather than calling it unsupported', () => {
    const missing = parse(`term=${goodList};created=${now};nonce="${nonce}";keyid="${t.tfp}"`, fakeSig);
    expect(missing).toMatchObject({ ok: false, code: 'bad_signature_input', message: expect.stringContaining('alg is missing') });
    const other = parse(`term=${goodList};created=${now};nonce="${nonce}";keyid="${t.tfp}";alg="hmac-sha256"`, fakeSig);
    expect(other).toMatchObject({ ok: false, code: 'bad_signature_input', message: 'alg is not supported' });
  });

  it('normalizes a keyid in openssl colon form, and keeps it as sent in the signed line', () => {
    const colon = formatFingerprint(t.tfp);
    const result = parse(`term=${goodList};created=${now};nonce="${nonce}";keyid="${colon}";alg="ed25519"`, fakeSig);
    expect(result.ok && result.value.params.keyid).toBe(t.tfp);
    expect(result.ok && result.value.signatureParams.includes(colon)).toBe(true);
  });

  it('honours expires and extra parameters and components', () => {
    const wire = { ...request, headers: { ...request.headers, host: 'example.com' } };
    const result = parse(`term=("@method" "@path" "@authority" "content-digest" "x-terminal-serial" "host")${goodParams};expires=${now + 60};tag="x"`, fakeSig, wire);
    expect(result.ok && result.value.params.expires).toBe(now + 60);
  });

  it('re-serializes the inner list, so optional whitespace the sender chose does not matter', () => {
    const result = parse(`term=(  "@method" "@path"   "content-digest" "x-terminal-serial" )${goodParams}`, fakeSig);
    expect(result.ok && result.value.signatureParams).toBe(`${goodList}${goodParams}`);
  });

  it.each([
    ['a missing Signature-Input', undefined, fakeSig],
    ['a missing Signature', `term=${goodList}${goodParams}`, undefined],
    ['two signatures', `term=${goodList}${goodParams}, other=${goodList}${goodParams}`, fakeSig],
    ['two signature values', `term=${goodList}${goodParams}`, `${fakeSig}, other=:AAAA:`],
    ['different labels', `sig=${goodList}${goodParams}`, fakeSig],
    ['a non-dictionary', 'this is not (a dictionary', fakeSig],
    ['an item instead of an inner list', `term="@method"${goodParams}`, fakeSig],
    ['a signature that is not a byte sequence', `term=${goodList}${goodParams}`, 'term="abc"'],
    ['an oversized header', `term=${goodList}${goodParams};pad="${'x'.repeat(5000)}"`, fakeSig],
  ])('refuses %s', (_name, input, signature) => {
    expect(codeOf(parse(input, signature))).toBe('bad_signature_input');
  });

  it.each([
    ['without @method', '("@path" "content-digest" "x-terminal-serial")'],
    ['without @path', '("@method" "content-digest" "x-terminal-serial")'],
    ['without x-terminal-serial', '("@method" "@path" "content-digest")'],
    ['without content-digest on a request with a body', '("@method" "@path" "x-terminal-serial")'],
    ['with a repeated component', '("@method" "@path" "@path" "content-digest" "x-terminal-serial")'],
    ['with an uppercase field name', '("@method" "@path" "Content-Digest" "x-terminal-serial")'],
    ['with an unsupported derived component', '("@method" "@path" "@status" "content-digest" "x-terminal-serial")'],
    ['with @signature-params covered', '("@method" "@path" "@signature-params" "content-digest" "x-terminal-serial")'],
    ['with component parameters', '("@method" "@path" "content-digest";sf "x-terminal-serial")'],
    ['with a covered header the request lacks', '("@method" "@path" "content-digest" "x-terminal-serial" "date")'],
    ['with a token instead of a string', '(method "@path" "content-digest" "x-terminal-serial")'],
    ['with too many components', `("@method" "@path" "content-digest" "x-terminal-serial" ${Array.from({ length: 30 }, (_, i) => `"x-${i}"`).join(' ')})`],
  ])('refuses a component list %s', (_name, list) => {
    const headers = { ...request.headers, ...Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`x-${i}`, 'v'])) };
    expect(codeOf(parse(`term=${list}${goodParams}`, fakeSig, { ...request, headers }))).toBe('bad_signature_input');
  });

  it('accepts nonces of 16 to 64 bytes, base64 or base64url', () => {
    for (const nonceOf of [randomBytes(16).toString('base64'), randomBytes(64).toString('base64'), randomBytes(64).toString('base64url')]) {
      const result = parse(`term=${goodList};created=${now};nonce="${nonceOf}";keyid="${t.tfp}";alg="ed25519"`, fakeSig);
      expect(result.ok, nonceOf).toBe(true);
    }
  });

  it('requires @query when the request has a query', () => {
    expect(codeOf(parse(`term=${goodList}${goodParams}`, fakeSig, { ...request, query: 'coin=BTC' }))).toBe('bad_signature_input');
  });

  it.each([
    ['no created', `;nonce="${nonce}";keyid="${t.tfp}";alg="ed25519"`],
    ['a decimal created', `;created=${now}.5;nonce="${nonce}";keyid="${t.tfp}";alg="ed25519"`],
    ['a string created', `;created="${now}";nonce="${nonce}";keyid="${t.tfp}";alg="ed25519"`],
    ['a string expires', `;created=${now};expires="x";nonce="${nonce}";keyid="${t.tfp}";alg="ed25519"`],
    ['no nonce', `;created=${now};keyid="${t.tfp}";alg="ed25519"`],
    ['a 15-byte nonce', `;created=${now};nonce="${randomBytes(15).toString('base64')}";keyid="${t.tfp}";alg="ed25519"`],
    ['a 65-byte nonce', `;created=${now};nonce="${randomBytes(65).toString('base64')}";keyid="${t.tfp}";alg="ed25519"`],
    ['a nonce of 3,000 characters', `;created=${now};nonce="${'A'.repeat(3_000)}";keyid="${t.tfp}";alg="ed25519"`],
    ['a nonce that is not base64', `;created=${now};nonce="${'!'.repeat(24)}";keyid="${t.tfp}";alg="ed25519"`],
    ['a byte-sequence nonce', `;created=${now};nonce=:${nonce}:;keyid="${t.tfp}";alg="ed25519"`],
    ['no keyid', `;created=${now};nonce="${nonce}";alg="ed25519"`],
    ['a keyid that is not a fingerprint', `;created=${now};nonce="${nonce}";keyid="test-key";alg="ed25519"`],
    ['no alg', `;created=${now};nonce="${nonce}";keyid="${t.tfp}"`],
    ['an unknown alg', `;created=${now};nonce="${nonce}";keyid="${t.tfp}";alg="hmac-sha256"`],
    ['a token alg', `;created=${now};nonce="${nonce}";keyid="${t.tfp}";alg=ed25519`],
  ])('refuses parameters with %s', (_name, params) => {
    expect(codeOf(parse(`term=${goodList}${params}`, fakeSig))).toBe('bad_signature_input');
  });
});

describe('signatureBase', () => {
  const parts = (headers: Record<string, string>, extra: Partial<RequestParts> = {}): RequestParts => ({
    method: 'post',
    path: '/api/v1/ping',
    query: 'a=1&b=2',
    header: (name) => headers[name],
    hasBody: false,
    ...extra,
  });

  it('derives every supported component as RFC 9421 §2.2 says', () => {
    const components = ['@method', '@target-uri', '@authority', '@scheme', '@request-target', '@path', '@query', 'x-terminal-serial'];
    const base = signatureBase(parts({ host: 'Pairing.Example:443', 'x-terminal-serial': '  ATM-7 ' }), { components, signatureParams: '(…)' });
    expect(base.ok && base.value).toBe(
      [
        '"@method": POST',
        '"@target-uri": https://pairing.example/api/v1/ping?a=1&b=2',
        '"@authority": pairing.example',
        '"@scheme": https',
        '"@request-target": /api/v1/ping?a=1&b=2',
        '"@path": /api/v1/ping',
        '"@query": ?a=1&b=2',
        '"x-terminal-serial": ATM-7',
        '"@signature-params": (…)',
      ].join('\n'),
    );
  });

  it('uses ? for an empty query, and the context over the Host header', () => {
    const base = signatureBase(parts({ host: 'ignored' }, { query: '' }), { components: ['@query', '@authority', '@scheme'], signatureParams: '()' }, { scheme: 'http', authority: 'gate.local:7741' });
    expect(base.ok && base.value).toBe('"@query": ?\n"@authority": gate.local:7741\n"@scheme": http\n"@signature-params": ()');
  });

  it('refuses a line break inside a value (it could forge further lines)', () => {
    const base = signatureBase(parts({ 'x-a': 'ok\n"@method": GET' }), { components: ['x-a'], signatureParams: '()' });
    expect(base.ok ? 'ok' : base.code).toBe('bad_signature_input');
  });

  it('refuses a component the request lacks', () => {
    const base = signatureBase(parts({}), { components: ['@authority'], signatureParams: '()' });
    expect(base.ok ? 'ok' : base.code).toBe('bad_signature_input');
  });

  it('reproduces RFC 9421 appendix B.2.6 and verifies its Ed25519 signature', () => {
    // Test key "test-key-ed25519" (RFC 9421 B.1.4, public half as JWK) and the example request and signature.
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: 'JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs' }, format: 'jwk' });
    const headers: Record<string, string> = {
      host: 'example.com',
      date: 'Tue, 20 Apr 2021 02:07:55 GMT',
      'content-type': 'application/json',
      'content-length': '18',
    };
    const input = parseDictionary(
      'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
    ).get('sig-b26') as InnerList;
    const components = input[0].map(([name]) => name as string);
    const request = parts(headers, { method: 'POST', path: '/foo', query: 'param=Value&Pet=dog', hasBody: true });
    const base = signatureBase(request, { components, signatureParams: serializeInnerList(input) });
    expect(base.ok && base.value).toBe(
      [
        '"date": Tue, 20 Apr 2021 02:07:55 GMT',
        '"@method": POST',
        '"@path": /foo',
        '"@authority": example.com',
        '"content-type": application/json',
        '"content-length": 18',
        '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
      ].join('\n'),
    );
    const signature = Buffer.from('wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==', 'base64');
    expect(base.ok && verifySignature(publicKey, 'ed25519', base.value, signature)).toBe(true);
  });
});
