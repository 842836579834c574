/** @module Signs terminal requests the way an attacker would: any covered components, any declared `alg`, any signing method. */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { serializeDictionary, serializeInnerList, type BareItem, type Item } from 'structured-headers';
import { contentDigest } from '../../src/crypto/content-digest.js';
import { signatureBase, signSignatureBase, type RequestParts } from '../../src/crypto/signature.js';
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
  // The classic confusion: a MAC keyed with public material (the certificate everyone can see).
  if (how === 'hmac-with-certificate') return createHmac('sha256', terminal.certDer).update(base).digest();
  return signSignatureBase(how, terminal.privateKeyPem, base.toString('utf8'));
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
