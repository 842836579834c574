/** @module AdminClient against a real TLS + WebSocket peer: pinning before anything is sent, request/reply matching, pushes, timeouts. */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../../src/admin/admin-client.js';
import { AppError } from '../../../src/errors.js';
import type { AdminPush } from '../../../src/protocol/types.js';
import { startStandIn, type StandIn } from './stand-in-server.js';
import { refusalCode } from '../../helpers/refusal.js';

let peer: StandIn;

beforeAll(async () => {
  peer = await startStandIn();
  peer.users.set('alice', { password: 'correct horse' });
});
afterAll(async () => {
  await peer.close();
});

function colonForm(hex: string): string {
  return hex.toUpperCase().match(/../g)!.join(':');
}

describe('AdminClient.connect pinning', () => {
  it('refuses a server whose certificate does not match the pin, and sends it nothing', async () => {
    const before = peer.received.length;
    const closed = peer.nextClose();
    const wrongPin = peer.sfp.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    expect(await refusalCode(AdminClient.connect(peer.url, { fingerprint: wrongPin }))).toBe('server_pin_mismatch');
    await closed;
    expect(peer.received.length).toBe(before);
  });

  it('connects when the pin matches, in hex or AB:CD form', async () => {
    for (const pin of [peer.sfp, colonForm(peer.sfp)]) {
      const client = await AdminClient.connect(peer.url, { fingerprint: pin });
      expect(client.isOpen).toBe(true);
      await client.close();
      expect(client.isOpen).toBe(false);
    }
  });

  it('refuses to connect with neither a pin nor insecure', async () => {
    expect(await refusalCode(AdminClient.connect(peer.url, {}))).toBe('bad_request');
  });

  it('rejects a malformed pin', async () => {
    expect(await refusalCode(AdminClient.connect(peer.url, { fingerprint: 'abc' }))).toBe('invalid_field');
  });

  it('reports a port nobody listens on as server_unreachable', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    expect(await refusalCode(AdminClient.connect(`wss://127.0.0.1:${port}/admin`, { fingerprint: peer.sfp }))).toBe('server_unreachable');
  });

  it('reports a wrong path (HTTP answer, no upgrade) as server_unreachable', async () => {
    const url = peer.url.replace('/admin', '/nowhere');
    expect(await refusalCode(AdminClient.connect(url, { fingerprint: peer.sfp }))).toBe('server_unreachable');
  });
});

describe('AdminClient requests', () => {
  it('logs in, keeps the token, and matches replies to requests by id', async () => {
    const client = await AdminClient.connect(peer.url, { fingerprint: peer.sfp });
    try {
      const session = await client.login('alice', 'correct horse');
      expect(session.user).toBe('alice');
      expect(client.token).toBe(session.token);
      const [list, missing] = await Promise.allSettled([client.request('terminals.list'), client.request('no.such.op')]);
      expect(list.status).toBe('fulfilled');
      expect(missing.status === 'rejected' && (missing.reason as AppError).code).toBe('unknown_op');
      await client.logout();
      expect(client.token).toBeNull();
    } finally {
      await client.close();
    }
  });

  it('maps server error codes, and unknown ones to bad_request', async () => {
    const client = await AdminClient.connect(peer.url, { fingerprint: peer.sfp });
    try {
      expect(await refusalCode(client.login('alice', 'wrong'))).toBe('login_failed');
      expect(await refusalCode(client.request('terminals.list'))).toBe('not_logged_in');
      const err = await client.request('weird').catch((e: AppError) => e);
      expect((err as AppError).code).toBe('bad_request');
      expect((err as AppError).details).toEqual({ serverCode: 'teapot_error' });
    } finally {
      await client.close();
    }
  });

  it('relays server pushes to event listeners', async () => {
    const client = await AdminClient.connect(peer.url, { fingerprint: peer.sfp });
    try {
      await client.login('alice', 'correct horse');
      await client.subscribe(['pairing']);
      const got = new Promise<AdminPush>((resolve) => client.on('event', resolve));
      peer.push('pairing.requested', { serial: 'BT100001', requestId: 'r1' });
      expect(await got).toEqual({ event: 'pairing.requested', data: { serial: 'BT100001', requestId: 'r1' } });
    } finally {
      await client.close();
    }
  });

  it('times out a request the server never answers', async () => {
    const client = await AdminClient.connect(peer.url, { fingerprint: peer.sfp, timeoutMs: 200 });
    try {
      expect(await refusalCode(client.request('hang'))).toBe('server_unreachable');
    } finally {
      await client.close();
    }
  });

  it('rejects everything pending when the connection drops, and refuses new requests', async () => {
    const client = await AdminClient.connect(peer.url, { fingerprint: peer.sfp });
    const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
    const pending = client.request('hang');
    const dropped = client.request('drop');
    expect(await refusalCode(pending)).toBe('server_unreachable');
    expect(await refusalCode(dropped)).toBe('server_unreachable');
    await closed;
    expect(await refusalCode(client.request('terminals.list'))).toBe('server_unreachable');
  });
});
