/** @module The terminal's pinned HTTPS client against real local TLS servers: pins on first contact, refuses another certificate before sending a byte. */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { pinnedHttps } from '../../../src/terminal/pinned-https.js';
import { httpsPeer, serverIdentity, silentTlsPeer, type HttpsPeer, type TlsPeer } from './tls-peers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function track<T extends HttpsPeer | TlsPeer>(peer: Promise<T>): Promise<T> {
  const p = await peer;
  cleanup.push(() => p.close());
  return p;
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('pinnedHttps', () => {
  it('reports the SFP it saw on first contact and carries method, path, headers and body', async () => {
    const id = serverIdentity();
    const peer = await track(httpsPeer(id, () => ({ status: 202, body: { status: 'pending' } })));
    const reply = await pinnedHttps({
      url: `${peer.url}/api/v1/pairing?x=1`,
      method: 'POST',
      headers: { 'X-Terminal-Serial': 'T1' },
      body: Buffer.from('{"a":1}'),
      pin: null,
    });
    expect(reply).toEqual({ status: 202, json: { status: 'pending' }, sfp: id.sfp, nextSfp: { kind: 'none' } });
    expect(peer.requests).toHaveLength(1);
    const [req] = peer.requests;
    expect(req!.method).toBe('POST');
    expect(req!.url).toBe('/api/v1/pairing?x=1');
    expect(req!.headers['x-terminal-serial']).toBe('T1');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.body.toString()).toBe('{"a":1}');
  });

  it('talks to the pinned server when its certificate matches the pin', async () => {
    const id = serverIdentity();
    const peer = await track(httpsPeer(id, () => ({ status: 200, body: { ok: true } })));
    const reply = await pinnedHttps({ url: `${peer.url}/api/v1/ping`, method: 'GET', pin: id.sfp });
    expect(reply.status).toBe(200);
    expect(reply.sfp).toBe(id.sfp);
    expect(peer.requests).toHaveLength(1);
  });

  it('refuses a server with another certificate before a single request byte reaches it', async () => {
    const pinned = serverIdentity();
    const other = serverIdentity();
    const peer = await track(httpsPeer(other, () => ({ status: 200, body: {} })));
    const err = await rejection(pinnedHttps({ url: `${peer.url}/api/v1/ping`, method: 'POST', body: Buffer.from('{}'), pin: pinned.sfp }));
    expect(err.code).toBe('server_pin_mismatch');
    expect(err.details).toEqual({ expected: pinned.sfp, seen: other.sfp });
    expect(peer.requests).toHaveLength(0);
  });

  it('accepts the announced next SFP in place of the pin, and no third certificate', async () => {
    const pinned = serverIdentity();
    const next = serverIdentity();
    const peer = await track(httpsPeer(next, () => ({ status: 200, body: {} })));
    const reply = await pinnedHttps({ url: `${peer.url}/api/v1/ping`, method: 'POST', pin: pinned.sfp, nextPin: next.sfp });
    expect(reply.sfp).toBe(next.sfp);
    const err = await rejection(pinnedHttps({ url: `${peer.url}/api/v1/ping`, method: 'POST', pin: pinned.sfp, nextPin: serverIdentity().sfp }));
    expect(err.code).toBe('server_pin_mismatch');
    expect(peer.requests).toHaveLength(1);
  });

  it('reads the Pairing-Next-SFP announcement of the pinned server, a malformed one as such', async () => {
    const id = serverIdentity();
    const next = serverIdentity().sfp;
    let announced = next.toUpperCase();
    const peer = await track(httpsPeer(id, () => ({ status: 200, body: {}, headers: { 'Pairing-Next-SFP': announced } })));
    const call = () => pinnedHttps({ url: `${peer.url}/api/v1/ping`, method: 'POST', pin: id.sfp });
    expect((await call()).nextSfp).toEqual({ kind: 'sfp', sfp: next });
    announced = `${next.slice(0, 62)}zz`;
    expect((await call()).nextSfp).toEqual({ kind: 'malformed', value: announced });
  });

  it('sends no application data at all to a mismatching server (the handshake completes, then the socket is dropped)', async () => {
    const pinned = serverIdentity();
    const silent = await track(silentTlsPeer(serverIdentity()));
    const err = await rejection(pinnedHttps({ url: `${silent.url}/api/v1/pairing`, method: 'POST', body: Buffer.from('{}'), pin: pinned.sfp }));
    expect(err.code).toBe('server_pin_mismatch');
    expect(silent.connections()).toBe(1);
    await silent.allClosed();
    expect(silent.applicationBytes()).toBe(0);
  });

  it('fails with server_unreachable when nothing listens', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const err = await rejection(pinnedHttps({ url: `https://127.0.0.1:${port}/`, method: 'GET', pin: null }));
    expect(err.code).toBe('server_unreachable');
  });

  it('gives up with server_unreachable when the server never answers', async () => {
    const id = serverIdentity();
    const silent = await track(silentTlsPeer(id));
    const started = Date.now();
    const err = await rejection(pinnedHttps({ url: `${silent.url}/`, method: 'GET', pin: id.sfp, timeoutMs: 300 }));
    expect(err.code).toBe('server_unreachable');
    expect(Date.now() - started).toBeLessThan(5_000);
    await silent.allClosed();
    // The same peer does see a request whose pin matches: its byte counter is not blind.
    expect(silent.applicationBytes()).toBeGreaterThan(0);
  });

  it('accepts https URLs without credentials only', async () => {
    for (const url of ['http://127.0.0.1:1/', 'not a url', 'https://user:pw@127.0.0.1:1/']) {
      let code: string | null = null;
      try {
        await pinnedHttps({ url, method: 'GET', pin: null });
      } catch (err) {
        code = (err as AppError).code;
      }
      expect(code, url).toBe('invalid_field');
    }
  });
});
