/** @module A bare-protocol terminal for tests that need to bend the rules: it signs with the project's signRequest but sends whatever it is told. */
import crypto from 'node:crypto';
import https from 'node:https';
import { createSelfSignedCertificate, defaultAlgorithm, generateKeyPair } from '../../src/crypto/certificates.js';
import { fingerprint } from '../../src/crypto/fingerprint.js';
import { commitmentOf, pairingCode } from '../../src/crypto/pairing-code.js';
import { signRequest, type SignRequestOptions } from '../../src/crypto/signature.js';
import type { KeyKind, SignatureAlgorithm } from '../../src/protocol/types.js';

export interface RawReply {
  status: number;
  json: any;
  headers: Record<string, string | string[] | undefined>;
}

export interface SendOptions {
  method?: string;
  query?: string;
  body?: string | Buffer;
  /** Send X-Terminal-Certificate (gate requests). */
  withCertificate?: boolean;
  /** Override signing inputs (created, nonce, alg, keyid, …). */
  sign?: Partial<SignRequestOptions>;
  /** Applied to the final headers: add, replace or delete (undefined). */
  headers?: Record<string, string | undefined>;
  /** Source address on loopback (127.0.0.0/8), to look like another client. */
  localAddress?: string;
  /** A keep-alive agent, to send on one connection (and so to one server thread); default: a fresh connection. */
  agent?: https.Agent;
}

/** One HTTPS request on a fresh connection; the server certificate is not checked (these tests target the server). */
export function rawRequest(url: string, method: string, headers: Record<string, string>, body?: Buffer, localAddress?: string, agent?: https.Agent): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, rejectUnauthorized: false, agent: agent ?? false, ...(localAddress ? { localAddress } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown = null;
        try {
          json = JSON.parse(text);
        } catch {
          json = text;
        }
        resolve({ status: res.statusCode ?? 0, json, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Sends `count` requests with `send`, `connections` at a time, each connection a keep-alive one of its own (a flood of
 * one captured request, say); the statuses, in the order the answers came.
 */
export async function sendConcurrently(send: (agent: https.Agent) => Promise<RawReply>, count: number, connections = 8): Promise<number[]> {
  const agents = Array.from({ length: connections }, () => new https.Agent({ keepAlive: true, maxSockets: 1 }));
  const statuses: number[] = [];
  let sent = 0;
  try {
    await Promise.all(agents.map(async (agent) => {
      while (sent < count) {
        sent++;
        statuses.push((await send(agent)).status);
      }
    }));
  } finally {
    for (const agent of agents) agent.destroy();
  }
  return statuses;
}

export class RawTerminal {
  readonly tfp: string;
  readonly alg: SignatureAlgorithm;

  private constructor(readonly serial: string, readonly privateKeyPem: string, readonly certDer: Buffer, kind: KeyKind) {
    this.tfp = fingerprint(certDer);
    this.alg = defaultAlgorithm(kind);
  }

  static create(serial: string, kind: KeyKind = 'ec', commonName = serial): RawTerminal {
    const pair = generateKeyPair(kind);
    const cert = createSelfSignedCertificate({ privateKeyPem: pair.privateKeyPem, commonName });
    return new RawTerminal(serial, pair.privateKeyPem, cert.der, kind);
  }

  async send(baseUrl: string, path: string, opts: SendOptions = {}): Promise<RawReply> {
    const method = opts.method ?? 'POST';
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    const signed = signRequest({
      method, path, query: opts.query ?? '', ...(body ? { body } : {}),
      serial: this.serial, privateKeyPem: this.privateKeyPem, alg: this.alg, keyid: this.tfp,
      ...opts.sign,
    });
    const headers: Record<string, string> = { ...signed, 'content-type': 'application/json' };
    if (opts.withCertificate) headers['X-Terminal-Certificate'] = this.certDer.toString('base64');
    for (const [name, value] of Object.entries(opts.headers ?? {})) {
      if (value === undefined) delete headers[name];
      else headers[name] = value;
    }
    const url = `${baseUrl}${path}${opts.query ? `?${opts.query}` : ''}`;
    return rawRequest(url, method, headers, body, opts.localAddress, opts.agent);
  }

  /**
   * One signed POST that can be sent again byte for byte: the first send is a call, every later one a replay. Each
   * send goes on a fresh connection, or on the connection of its own `agent` or else of `agent`.
   */
  replayable(baseUrl: string, path: string, body = '{}', agent?: https.Agent): (sendAgent?: https.Agent) => Promise<RawReply> {
    const bytes = Buffer.from(body);
    const signed = signRequest({ method: 'POST', path, body: bytes, serial: this.serial, privateKeyPem: this.privateKeyPem, alg: this.alg, keyid: this.tfp });
    const headers = { ...signed, 'content-type': 'application/json' };
    return (sendAgent = agent) => rawRequest(`${baseUrl}${path}`, 'POST', headers, bytes, undefined, sendAgent);
  }

  /** As `replayable`, to whichever server each send names: the signature covers the path, not the host. */
  replayableAnywhere(path: string, body = '{}'): (baseUrl: string) => Promise<RawReply> {
    const bytes = Buffer.from(body);
    const signed = signRequest({ method: 'POST', path, body: bytes, serial: this.serial, privateKeyPem: this.privateKeyPem, alg: this.alg, keyid: this.tfp });
    const headers = { ...signed, 'content-type': 'application/json' };
    return (baseUrl) => rawRequest(`${baseUrl}${path}`, 'POST', headers, bytes);
  }

  gate(gateUrl: string, body: unknown, opts: SendOptions = {}): Promise<RawReply> {
    return this.send(gateUrl, '/api/v1/pairing', { ...opts, body: JSON.stringify(body), withCertificate: true });
  }

  /** Commit and reveal; returns the request id and the code this terminal would show. `info`: what it says about itself. */
  async requestPairing(gateUrl: string, sfp: string, info: Record<string, unknown> = { model: 'raw-test' }): Promise<{ requestId: string; code: string }> {
    const terminalNonce = crypto.randomBytes(32);
    const commit = await this.gate(gateUrl, { commitment: commitmentOf(terminalNonce), info });
    if (commit.status !== 202) throw new Error(`commit answered ${commit.status} ${JSON.stringify(commit.json)}`);
    const { requestId, serverNonce } = commit.json as { requestId: string; serverNonce: string };
    const reveal = await this.gate(gateUrl, { requestId, reveal: terminalNonce.toString('base64') });
    if (reveal.status !== 202) throw new Error(`reveal answered ${reveal.status} ${JSON.stringify(reveal.json)}`);
    const code = pairingCode({ serverNonce: Buffer.from(serverNonce, 'base64'), terminalNonce, serial: this.serial, tfp: this.tfp, sfp });
    return { requestId, code };
  }
}
