/**
 * @module A small protocol peer for the terminal's client tests: gate and master per PROTOCOL.md over real TLS,
 * authenticating every request with the project's request-auth, with operator actions (approve, reject, expire, unpair) as plain calls.
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '../../../src/errors.js';
import { authenticateGate } from '../../../src/auth/request-auth.js';
import { parseCertificate, type ParsedCertificate } from '../../../src/crypto/certificates.js';
import { verifyContentDigest } from '../../../src/crypto/content-digest.js';
import { commitmentOf, pairingCode } from '../../../src/crypto/pairing-code.js';
import { parseSignature, signatureBase, verifySignature, type RequestParts } from '../../../src/crypto/signature.js';
import type { TerminalRequest } from '../../../src/protocol/types.js';
import { httpsPeer, type HttpsPeer, type RecordedRequest, type ServerIdentity } from './tls-peers.js';

export interface PeerRequest {
  requestId: string;
  serial: string;
  tfp: string;
  commitment: string;
  serverNonce: Buffer;
  stage: 'reveal' | 'approval';
  state: 'pending' | 'rejected';
  /** Computed by the server side with its own SFP, as the admin view would show it. */
  code: string | null;
}

export interface ProtocolPeer {
  gate: HttpsPeer;
  master: HttpsPeer;
  knownSerials: Set<string>;
  requests: Map<string, PeerRequest>;
  /** serial → pinned TFP. */
  paired: Map<string, string>;
  cashEvents: Map<string, unknown>;
  /** `METHOD /path` → what master answers instead, to a caller it authenticated: a master that says what it should not. */
  masterAnswers: Map<string, { status: number; body: unknown }>;
  forms: string[];
  approve(requestId: string): void;
  reject(requestId: string): void;
  expire(requestId: string): void;
  unpair(serial: string): void;
  close(): Promise<void>;
}

const json = (status: number, body: unknown) => ({ status, body });
const err = (status: number, error: string) => json(status, { error, message: error });

function terminalRequest(r: RecordedRequest): TerminalRequest {
  const [path, query = ''] = r.url.split('?') as [string, string?];
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(r.headers)) if (typeof value === 'string') headers[name] = value;
  return { method: r.method, path, query, headers, body: r.body, remoteAddress: '127.0.0.1' };
}

/** Master side: the certificate is the one seen while pairing; same checks as request-auth's shared part. */
function verifyMaster(req: TerminalRequest, cert: ParsedCertificate): boolean {
  const parts: RequestParts = { method: req.method, path: req.path, query: req.query, header: (n) => req.headers[n], hasBody: req.body.length > 0 };
  const sig = parseSignature(req.headers['signature-input'], req.headers['signature'], parts);
  if (!sig.ok || sig.value.params.keyid !== cert.tfp) return false;
  if (req.body.length > 0 && !verifyContentDigest(req.headers['content-digest'], req.body).ok) return false;
  const base = signatureBase(parts, sig.value);
  return base.ok && verifySignature(cert.publicKey, sig.value.params.alg, base.value, sig.value.signature);
}

/** `gatePort`: listen there instead of a free port (a server that changed its certificate at the same address). */
export async function protocolPeer(identity: ServerIdentity, masterIdentity: ServerIdentity = identity, gatePort = 0): Promise<ProtocolPeer> {
  const requests = new Map<string, PeerRequest>();
  const paired = new Map<string, string>();
  const certs = new Map<string, ParsedCertificate>();
  const knownSerials = new Set<string>();
  const cashEvents = new Map<string, unknown>();
  const forms: string[] = [];

  const gate = await httpsPeer(identity, (recorded) => {
    const req = terminalRequest(recorded);
    let auth;
    try {
      auth = authenticateGate(req, { nowSec: Math.floor(Date.now() / 1000), clockSkewSec: 300 });
    } catch (e) {
      return err((e as AppError).status, (e as AppError).code);
    }
    const parsed = parseCertificate(auth.certDer);
    if (parsed.ok) certs.set(auth.tfp, parsed.value);
    if (!knownSerials.has(auth.serial)) return err(403, 'unknown_serial');
    if (paired.get(auth.serial) === auth.tfp) return json(200, { status: 'trusted', masterUrl: master.url, vpn: null });
    const body = JSON.parse(req.body.toString('utf8')) as Record<string, string>;
    const pendingReply = (r: PeerRequest) =>
      json(202, { status: 'pending', stage: r.stage, requestId: r.requestId, expiresAt: '2099-01-01T00:00:00Z', ...(r.stage === 'reveal' ? { serverNonce: r.serverNonce.toString('base64') } : {}) });
    if ('commitment' in body) {
      forms.push('commit');
      const existing = [...requests.values()].find((r) => r.tfp === auth.tfp && r.commitment === body.commitment);
      if (existing) return pendingReply(existing);
      for (const [id, r] of requests) if (r.tfp === auth.tfp) requests.delete(id);
      const r: PeerRequest = {
        requestId: randomBytes(12).toString('base64url'), serial: auth.serial, tfp: auth.tfp, commitment: body.commitment!,
        serverNonce: randomBytes(32), stage: 'reveal', state: 'pending', code: null,
      };
      requests.set(r.requestId, r);
      return pendingReply(r);
    }
    forms.push('reveal' in body ? 'reveal' : 'poll');
    const r = requests.get(body.requestId ?? '');
    if (!r || r.tfp !== auth.tfp) return err(404, 'no_pairing_request');
    if (r.state === 'rejected') return err(403, 'pairing_rejected');
    if ('reveal' in body) {
      const nonce = Buffer.from(body.reveal!, 'base64');
      if (commitmentOf(nonce) !== r.commitment) {
        requests.delete(r.requestId);
        return err(409, 'commitment_mismatch');
      }
      r.stage = 'approval';
      r.code = pairingCode({ serverNonce: r.serverNonce, terminalNonce: nonce, serial: r.serial, tfp: r.tfp, sfp: identity.sfp });
      return pendingReply(r);
    }
    return pendingReply(r);
  }, gatePort);

  const masterAnswers = new Map<string, { status: number; body: unknown }>();
  const master = await httpsPeer(masterIdentity, (recorded) => {
    const req = terminalRequest(recorded);
    const serial = req.headers['x-terminal-serial'] ?? '';
    const keyid = /keyid="([0-9a-f]{64})"/.exec(req.headers['signature-input'] ?? '')?.[1] ?? '';
    const cert = certs.get(keyid);
    if (!cert || cert.commonName !== serial || !verifyMaster(req, cert)) return err(401, 'unauthenticated');
    if (paired.get(serial) !== cert.tfp) return err(403, 'not_paired');
    const forced = masterAnswers.get(`${req.method} ${req.path}`);
    if (forced) return forced;
    if (req.method === 'POST' && req.path === '/api/v1/ping') return json(200, { serverTime: new Date().toISOString() });
    if (req.method === 'POST' && req.path === '/api/v1/cash-events') {
      const event = JSON.parse(req.body.toString('utf8')) as { eventId: string };
      const duplicate = cashEvents.has(event.eventId);
      if (!duplicate) cashEvents.set(event.eventId, event);
      return json(200, { accepted: true, duplicate });
    }
    if (req.method === 'GET' && req.path === '/api/v1/deposit-address') {
      const coin = new URLSearchParams(req.query).get('coin');
      return coin === 'BTC' ? json(200, { coin, address: 'bc1qexampleaddress0000000000000000000000' }) : err(404, 'not_found');
    }
    return err(404, 'not_found');
  });

  return {
    gate, master, knownSerials, requests, paired, cashEvents, masterAnswers, forms,
    approve(requestId) {
      const r = requests.get(requestId)!;
      paired.set(r.serial, r.tfp);
      requests.delete(requestId);
    },
    reject(requestId) {
      requests.get(requestId)!.state = 'rejected';
    },
    expire(requestId) {
      requests.delete(requestId);
    },
    unpair(serial) {
      paired.delete(serial);
    },
    close: async () => {
      await gate.close();
      await master.close();
    },
  };
}
