/** @module Local TLS peers for the terminal's client tests: certificates generated at setup, servers on 127.0.0.1 port 0 that record what reaches them. */
import { X509Certificate, createHash } from 'node:crypto';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSelfSignedCertificate, generateKeyPair } from '../../../src/crypto/certificates.js';

export interface ServerIdentity {
  key: string;
  cert: string;
  /** SHA-256 of the DER, computed here with node:crypto directly, independent of src/crypto/fingerprint. */
  sfp: string;
}

export function serverIdentity(): ServerIdentity {
  const { privateKeyPem } = generateKeyPair('ec');
  const { certPem } = createSelfSignedCertificate({ privateKeyPem, commonName: 'localhost', altNames: ['localhost', '127.0.0.1'] });
  const sfp = createHash('sha256').update(new X509Certificate(certPem).raw).digest('hex');
  return { key: privateKeyPem, cert: certPem, sfp };
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** `headers`: sent besides content-type (a `Pairing-Next-SFP` announcement, say). */
export type PeerAnswer = { status: number; body: unknown; headers?: Record<string, string> };
export type Handler = (req: RecordedRequest) => PeerAnswer | Promise<PeerAnswer>;

export interface HttpsPeer {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** An HTTPS server that records every request and answers with `handler`; `port` 0 picks a free one. */
export async function httpsPeer(identity: ServerIdentity, handler: Handler, port = 0): Promise<HttpsPeer> {
  const requests: RecordedRequest[] = [];
  const server: HttpsServer = createHttpsServer({ key: identity.key, cert: identity.cert }, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(recorded);
      void Promise.resolve(handler(recorded)).then(({ status, body, headers }) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${bound}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface TlsPeer {
  url: string;
  /** Decrypted application bytes received over all connections. */
  applicationBytes(): number;
  /** Resolves once every TCP connection accepted so far has closed. */
  allClosed(): Promise<void>;
  connections(): number;
  close(): Promise<void>;
}

/** A bare TLS server that never answers: it only counts the application bytes a client sends it. */
export async function silentTlsPeer(identity: ServerIdentity): Promise<TlsPeer> {
  let bytes = 0;
  const closed: Promise<void>[] = [];
  const server: TlsServer = createTlsServer({ key: identity.key, cert: identity.cert }, (socket) => {
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    socket.on('error', () => undefined);
  });
  server.on('tlsClientError', () => undefined);
  // 'connection' is the raw TCP socket, seen even when the handshake never completes on this side.
  server.on('connection', (raw: Socket) => {
    closed.push(new Promise<void>((resolve) => raw.once('close', () => resolve())));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    applicationBytes: () => bytes,
    allClosed: async () => {
      await Promise.all(closed);
    },
    connections: () => closed.length,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
