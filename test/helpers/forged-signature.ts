/** @module Signs terminal requests the way an attacker would: any covered components, any declared `alg`, any signing method. */
import { constants, createHash, createHmac, createPrivateKey, randomBytes, sign } from 'node:crypto';
import { serializeDictionary, serializeInnerList, type BareItem, type Item } from 'structured-headers';
import { contentDigest } from '../../src/crypto/content-digest.js';
import { signatureBase, type RequestParts } from '../../src/crypto/signature.js';
import type { RawTerminal } from './raw-terminal.js';

/** How the signature bytes are made, whatever `alg` the request declares. */
export type SigningMethod = 'rsa-v1_5-sha256' | 'rsa-pss-sha512' | 'ecdsa-p256-sha256' | 'ed25519' | 'hmac-with-certificate';

export interface ForgeOptions {
  method: string;
  path: string;
  query?: string;
  body?: Buffer;
  serial?: string;
  components: string[];
  /** Declared parameters; created and nonce default to now and 16 random bytes. */
  params: { alg?: string; keyid?: string; created?: number; expires?: number; nonce?: string };
  signWith: SigningMethod;
  /** More headers to send (also available to covered components, e.g. `host` for `@authority`). */
  headers?: Record<string, string>;
}

function signatureBytes(terminal: RawTerminal, how: SigningMethod, base: Buffer): Buffer {
  const key = createPrivateKey(terminal.privateKeyPem);
  switch (how) {
    case 'rsa-v1_5-sha256':
      return sign('sha256', base, { key, padding: constants.RSA_PKCS1_PADDING });
    case 'rsa-pss-sha512':
      return sign('sha512', base, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 });
    case 'ecdsa-p256-sha256':
      return sign('sha256', base, { key, dsaEncoding: 'ieee-p1363' });
    case 'ed25519':
      return sign(null, base, key);
    case 'hmac-with-certificate':
      // The classic confusion: a MAC keyed with public material (the certificate everyone can see).
      return createHmac('sha256', terminal.certDer).update(base).digest();
  }
}

/** Headers (lower-case names) of a request signed exactly as told. */
export function forgeHeaders(terminal: RawTerminal, opts: ForgeOptions): Record<string, string> {
  const headers: Record<string, string> = { 'x-terminal-serial': opts.serial ?? terminal.serial, 'content-type': 'application/json' };
  if (opts.body && opts.body.length > 0) headers['content-digest'] = contentDigest(opts.body);
  for (const [name, value] of Object.entries(opts.headers ?? {})) headers[name.toLowerCase()] = value;
  const params = new Map<string, BareItem>([
    ['created', opts.params.created ?? Math.floor(Date.now() / 1000)],
    ['nonce', opts.params.nonce ?? randomBytes(16).toString('base64')],
    ['keyid', opts.params.keyid ?? terminal.tfp],
  ]);
  if (opts.params.expires !== undefined) params.set('expires', opts.params.expires);
  if (opts.params.alg !== undefined) params.set('alg', opts.params.alg);
  const signatureParams = serializeInnerList([opts.components.map((name): Item => [name, new Map()]), params]);
  const parts: RequestParts = {
    method: opts.method, path: opts.path, query: opts.query ?? '', hasBody: (opts.body?.length ?? 0) > 0,
    header: (name) => headers[name],
  };
  const base = signatureBase(parts, { components: opts.components, signatureParams });
  if (!base.ok) throw new Error(`cannot build a base: ${base.message}`);
  const signature = signatureBytes(terminal, opts.signWith, Buffer.from(base.value, 'utf8'));
  headers['signature-input'] = `term=${signatureParams}`;
  headers['signature'] = serializeDictionary(new Map([['term', [signature, new Map()]]]));
  return headers;
}

export const sha256Hex = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
