/** @module Worker entry of the load generator's signing pool: terminal calls as complete signed HTTP/1.1 requests, signed as src/crypto/signature.ts signRequest signs them but with each parsed key kept. */
// signRequest parses the PEM on every call, which more than doubles an RSA signature's cost on this machine.
import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { serializeDictionary, serializeInnerList, type BareItem, type Item } from 'structured-headers';
import { contentDigest } from '../../src/crypto/content-digest.js';
import { signatureBase, signSignatureBase, type RequestParts } from '../../src/crypto/signature.js';
import type { SignatureAlgorithm } from '../../src/protocol/types.js';

export interface Signer {
  serial: string;
  privateKeyPem: string;
  /** The terminal's TFP. */
  keyid: string;
  alg: SignatureAlgorithm;
}

/**
 * For each terminal, `count` master pings then `writes` cash events (banknotes inserted: the durable write path).
 * `created[k]` is the signed `created` of each terminal's k-th call (the server accepts ±300 s around it). A cash
 * event's eventId is `e<created[0]>-<i>`: unique to the run, so none is answered as a duplicate by a store an earlier
 * run wrote to.
 */
export interface MasterSignTask {
  kind: 'master';
  created: readonly number[];
  terminals: (Signer & { count: number; writes: number })[];
}

/** One gate call: JSON body, certificate header covered by the signature. */
export interface GateSignTask {
  kind: 'gate';
  signer: Signer;
  certificateB64: string;
  body: string;
}

export type SignTask = MasterSignTask | GateSignTask;

const keys = new Map<string, KeyObject>();

function keyOf(pem: string): KeyObject {
  let key = keys.get(pem);
  if (!key) {
    key = createPrivateKey(pem);
    keys.set(pem, key);
  }
  return key;
}

/** A POST as a terminal signs it; returns the whole request. Host is not covered, so it is valid against any server holding the pin. */
function signedPost(t: Signer, path: string, body: string, extra: Record<string, string>, created: number): string {
  const headers: Record<string, string> = { 'X-Terminal-Serial': t.serial };
  const bytes = Buffer.from(body, 'utf8');
  if (bytes.length > 0) headers['Content-Digest'] = contentDigest(bytes);
  Object.assign(headers, extra);
  const lower = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  const components = ['@method', '@path', ...(bytes.length > 0 ? ['content-digest'] : []), 'x-terminal-serial', ...Object.keys(extra).map((n) => n.toLowerCase())];
  const params = new Map<string, BareItem>([['created', created], ['nonce', randomBytes(16).toString('base64')], ['keyid', t.keyid], ['alg', t.alg]]);
  const signatureParams = serializeInnerList([components.map((name): Item => [name, new Map()]), params]);
  const parts: RequestParts = { method: 'POST', path, query: '', header: (name) => lower.get(name), hasBody: bytes.length > 0 };
  const base = signatureBase(parts, { components, signatureParams });
  if (!base.ok) throw new Error(base.message);
  const signature = signSignatureBase(t.alg, keyOf(t.privateKeyPem), base.value);
  headers['Signature-Input'] = `term=${signatureParams}`;
  headers['Signature'] = serializeDictionary(new Map([['term', [signature, new Map()]]]));
  let head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  if (bytes.length > 0) head += 'Content-Type: application/json\r\n';
  return `${head}Content-Length: ${bytes.length}\r\n\r\n${body}`;
}

/** Every benchmark cash event's eventId starts with this, then the run's `created`. */
export const CASH_EVENT_PREFIX = 'e';

/** The body of a terminal's `i`-th cash event of the run whose first call was signed at `runCreated` (PROTOCOL.md, Master). */
export function cashEvent(runCreated: number, created: number, i: number): string {
  const at = new Date(created * 1000).toISOString();
  return JSON.stringify({ eventId: `${CASH_EVENT_PREFIX}${runCreated}-${i}`, currency: 'EUR', denomination: 20, count: 1, at });
}

export default function sign(task: SignTask): string[] {
  if (task.kind === 'gate') {
    return [signedPost(task.signer, '/api/v1/pairing', task.body, { 'X-Terminal-Certificate': task.certificateB64 }, Math.floor(Date.now() / 1000))];
  }
  const out: string[] = [];
  for (const t of task.terminals) {
    const created = (k: number): number => {
      const value = task.created[k];
      if (value === undefined) throw new Error(`no created time for call ${k} of ${t.count + t.writes}`);
      return value;
    };
    for (let i = 0; i < t.count; i++) out.push(signedPost(t, '/api/v1/ping', '', {}, created(i)));
    for (let i = 0; i < t.writes; i++) out.push(signedPost(t, '/api/v1/cash-events', cashEvent(created(0), created(t.count + i), i), {}, created(t.count + i)));
  }
  return out;
}
