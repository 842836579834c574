/**
 * @module Interoperability: a terminal built only from third-party parts — openssl for the key and certificate,
 * the `http-message-signatures` library for RFC 9421, node:crypto for digests and the pairing code — pairs and calls master.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { httpbis, createSigner } from 'http-message-signatures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { addOperator, connectOperator } from '../helpers/operator.js';
import { rawRequest } from '../helpers/raw-terminal.js';
import { startServerProcess, tempDir, type ServerProcess } from '../helpers/server-process.js';

const SERIAL = 'THIRD-PARTY-1';
let server: ServerProcess;
let alice: AdminClient;

interface Identity {
  key: crypto.KeyObject;
  certDer: Buffer;
  tfp: string;
}

function opensslIdentity(alg: 'ed25519' | 'ec' | 'rsa'): Identity {
  const dir = tempDir('third-party');
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  const genArgs = alg === 'ed25519' ? ['-algorithm', 'ed25519'] : alg === 'ec' ? ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'];
  execFileSync('openssl', ['genpkey', ...genArgs, '-out', keyFile], { stdio: 'pipe' });
  execFileSync('openssl', ['req', '-new', '-x509', '-key', keyFile, '-subj', `/CN=${SERIAL}`, '-days', '30', '-out', certFile], { stdio: 'pipe' });
  const certDer = Buffer.from(new crypto.X509Certificate(fs.readFileSync(certFile)).raw);
  return { key: crypto.createPrivateKey(fs.readFileSync(keyFile)), certDer, tfp: crypto.createHash('sha256').update(certDer).digest('hex') };
}

/** Signs with the third-party library and sends over HTTPS; only the transport helper is ours. */
async function send(id: Identity, alg: string, url: string, method: string, body: unknown, extra: Record<string, string> = {}) {
  const bodyBytes = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = { 'X-Terminal-Serial': SERIAL, 'Content-Type': 'application/json', ...extra };
  const fields = ['@method', '@path'];
  if (new URL(url).search) fields.push('@query');
  if (bodyBytes) {
    headers['Content-Digest'] = `sha-256=:${crypto.createHash('sha256').update(bodyBytes).digest('base64')}:`;
    fields.push('content-digest');
  }
  fields.push('x-terminal-serial');
  const signed = await httpbis.signMessage({
    key: createSigner(id.key, alg, id.tfp),
    name: 'tp',
    fields,
    params: ['created', 'expires', 'nonce', 'keyid', 'alg'],
    paramValues: { nonce: crypto.randomBytes(18).toString('base64') },
  }, { method, url, headers });
  const outgoing = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));
  return rawRequest(url, method, outgoing, bodyBytes);
}

/** The pairing code of PROTOCOL.md, written here independently of src/crypto/pairing-code.ts. */
function independentCode(serverNonce: Buffer, terminalNonce: Buffer, tfp: string, sfp: string): string {
  const mac = crypto.createHmac('sha256', Buffer.concat([serverNonce, terminalNonce]))
    .update(Buffer.concat([Buffer.from('terminal-pairing-v1'), Buffer.from([0]), Buffer.from(SERIAL), Buffer.from([0]), Buffer.from(tfp, 'hex'), Buffer.from(sfp, 'hex')]))
    .digest();
  const n = mac.readUIntBE(0, 5) % 1_000_000_000_000;
  return n.toString().padStart(12, '0').replace(/(\d{3})(?=\d)/g, '$1-');
}

beforeAll(async () => {
  server = await startServerProcess();
  alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
  await alice.request('gate.open', { minutes: 10 });
  await alice.request('terminals.create', { serial: SERIAL });
});

afterAll(async () => {
  await alice?.close();
  await server?.stop();
});

describe('a terminal made of third-party parts', () => {
  for (const [kind, alg] of [['ed25519', 'ed25519'], ['ec', 'ecdsa-p256-sha256'], ['rsa', 'rsa-pss-sha512']] as const) {
    it(`pairs and calls master (${alg})`, async () => {
      const id = opensslIdentity(kind);
      const gate = (body: unknown) => send(id, alg, `${server.gateUrl}/api/v1/pairing`, 'POST', body, { 'X-Terminal-Certificate': id.certDer.toString('base64') });
      const terminalNonce = crypto.randomBytes(32);
      const commit = await gate({ commitment: crypto.createHash('sha256').update(terminalNonce).digest('base64') });
      expect(commit.status).toBe(202);
      const reveal = await gate({ requestId: commit.json.requestId, reveal: terminalNonce.toString('base64') });
      expect(reveal.json).toMatchObject({ status: 'pending', stage: 'approval' });
      const code = independentCode(Buffer.from(commit.json.serverNonce, 'base64'), terminalNonce, id.tfp, server.sfp);
      const view = await alice.request<{ code: string }>('pairing.get', { requestId: commit.json.requestId });
      expect(view.code).toBe(code);
      await alice.request('pairing.approve', { requestId: commit.json.requestId, code });
      const trusted = await gate({});
      expect(trusted.status).toBe(200);
      expect(trusted.json.status).toBe('trusted');

      const ping = await send(id, alg, `${trusted.json.masterUrl}/api/v1/ping`, 'POST', {});
      expect(ping.status).toBe(200);
      const cash = await send(id, alg, `${trusted.json.masterUrl}/api/v1/cash-events`, 'POST', { eventId: `tp-${kind}`, currency: 'EUR', denomination: 50, count: 2, at: new Date().toISOString() });
      expect(cash.json).toEqual({ accepted: true, duplicate: false });
      const address = await send(id, alg, `${trusted.json.masterUrl}/api/v1/deposit-address?coin=BTC`, 'GET', undefined);
      expect(address.status).toBe(404);
      expect(address.json.error).toBe('not_found');
    });
  }
});
