/** @module A minimal admin-channel peer for client tests: real TLS (openssl-made cert) + ws, answering a few ops per PROTOCOL.md and recording every frame it receives. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate, createHash } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';

export interface StandIn {
  url: string;
  /** SHA-256 hex of the certificate's DER, computed here independently of src/crypto. */
  sfp: string;
  /** The data dir holding tls/server.crt, as the real server lays it out. */
  dataDir: string;
  /** Every text frame received, parsed. */
  received: Record<string, unknown>[];
  /** Resolves when the next server-side connection has closed. */
  nextClose(): Promise<void>;
  /** Sends a push to every open connection. */
  push(event: string, data: Record<string, unknown>): void;
  /** Users known to login: name → { password, totp? }. */
  users: Map<string, { password: string; totp?: string }>;
  close(): Promise<void>;
}

/** Generates a fresh self-signed P-256 certificate in a temp dir (never committed). */
export function makeCertificate(): { dir: string; key: string; cert: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'cas-test-'));
  mkdirSync(path.join(dir, 'tls'));
  const keyFile = path.join(dir, 'tls', 'server.key');
  const certFile = path.join(dir, 'tls', 'server.crt');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-subj', '/CN=localhost', '-days', '1', '-keyout', keyFile, '-out', certFile,
  ], { stdio: 'ignore' });
  return { dir, key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
}

export async function startStandIn(): Promise<StandIn> {
  const { dir, key, cert } = makeCertificate();
  const server: Server = createServer({ key, cert });
  const wss = new WebSocketServer({ server, path: '/admin' });
  const received: Record<string, unknown>[] = [];
  const users = new Map<string, { password: string; totp?: string }>();
  const closeWaiters: (() => void)[] = [];

  wss.on('connection', (socket: WebSocket) => {
    let loggedIn = false;
    socket.on('close', () => closeWaiters.shift()?.());
    socket.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as { id: number; op: string; args?: Record<string, unknown> };
      received.push(frame);
      const reply = (result: unknown): void => socket.send(JSON.stringify({ id: frame.id, ok: true, result }));
      const fail = (error: string, message: string): void => socket.send(JSON.stringify({ id: frame.id, ok: false, error, message }));
      const args = frame.args ?? {};
      switch (frame.op) {
        case 'login': {
          const user = users.get(String(args.user));
          if (user === undefined || user.password !== args.password) return fail('login_failed', 'wrong user or password');
          if (user.totp !== undefined && user.totp !== args.totp) return fail('totp_required', 'a 2FA code is required');
          loggedIn = true;
          return reply({ token: 'tok-1', expiresAt: '2030-01-01T00:00:00.000Z', user: args.user, has2fa: user.totp !== undefined });
        }
        case 'hang':
          return; // never answered: lets tests see timeouts and close handling
        case 'drop':
          return socket.terminate();
        case 'weird':
          return fail('teapot_error', 'a code the client does not know');
        default:
          if (!loggedIn) return fail('not_logged_in', 'log in first');
          if (frame.op === 'logout') return reply({});
          if (frame.op === 'subscribe') return reply({ topics: args.topics });
          if (frame.op === 'terminals.list') {
            // Two pages of one terminal each, as the real server pages a longer list: cas must follow `next`.
            const terminal = (serial: string) => ({ serial, state: 'paired', name: 'Lobby', location: 'Prague', tfp: 'ab'.repeat(32), lastSeenAt: null });
            if (args.after === undefined) return reply({ terminals: [terminal('BT100001')], next: args.limit === 1 ? null : 'BT100001', total: 2 });
            return reply({ terminals: [terminal('BT100002')], next: null, total: 2 });
          }
          return fail('unknown_op', `unknown op ${frame.op}`);
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const sfp = createHash('sha256').update(new X509Certificate(cert).raw).digest('hex');

  return {
    url: `wss://127.0.0.1:${port}/admin`,
    sfp,
    dataDir: dir,
    received,
    users,
    nextClose: () => new Promise<void>((resolve) => closeWaiters.push(resolve)),
    push: (event, data) => {
      for (const client of wss.clients) client.send(JSON.stringify({ event, data }));
    },
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
