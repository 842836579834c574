/**
 * @module Unit tests: the load generator's keep-alive client reads every connection into one shared buffer, so a reply
 * split across reads, a chunked reply and two connections answered in turns must each come out whole and unmixed.
 * A raw TLS server on loopback writes the replies byte for byte, in the pieces each test chooses.
 */
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeepAliveConnection } from '../../../bench/fleet/keep-alive-connection.js';
import { serverIdentity } from '../terminal/tls-peers.js';

/** Each request's first line names how the server answers it: `GET /split/<body>`, `/chunked/<body>` or `/held/<body>`. */
type Respond = (socket: tls.TLSSocket, kind: string, body: string) => void;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const reply = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

/** `/held/` replies by body, each sent when the test calls it, so a test can order two connections' bytes. */
const held = new Map<string, () => void>();

const respond: Respond = (socket, kind, body) => {
  const text = reply(body);
  if (kind === 'split') {
    // The head in one read, then the body in two: the client must keep what it has between reads. The second read
    // is long enough to cover the status code where the first one was read, had the client kept a view of it.
    const cut = text.indexOf('\r\n\r\n') + 4;
    socket.write(text.slice(0, cut));
    setTimeout(() => socket.write(text.slice(cut, cut + 14)), 20);
    setTimeout(() => socket.write(text.slice(cut + 14)), 40);
  } else if (kind === 'chunked') {
    socket.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n`);
    setTimeout(() => socket.write(`${body}\r\n0\r\n\r\n`), 20);
  } else {
    held.set(body, () => socket.write(text));
  }
};

describe('KeepAliveConnection', () => {
  let server: tls.Server;
  let port = 0;

  beforeAll(async () => {
    const identity = serverIdentity();
    server = tls.createServer({ key: identity.key, cert: identity.cert }, (socket) => {
      let pending = '';
      socket.on('data', (data: Buffer) => {
        pending += data.toString('latin1');
        for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
          const [, kind, body] = /^GET \/(\w+)\/(\S*) HTTP/.exec(pending)!;
          pending = pending.slice(end + 4);
          respond(socket, kind!, body!);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = (path: string) => `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`;

  it('keeps a reply that arrives in several reads until it is whole', async () => {
    const conn = await KeepAliveConnection.connect({ host: '127.0.0.1', port });
    const { status, body } = await conn.request(get('/split/first-reply-body'));
    expect(status).toBe(200);
    expect(body.toString()).toBe('first-reply-body');
    // The same connection again: nothing of the first reply is left over.
    expect((await conn.request(get('/split/second'))).body.toString()).toBe('second');
    conn.close();
  });

  it('decodes a chunked reply split across reads', async () => {
    const conn = await KeepAliveConnection.connect({ host: '127.0.0.1', port });
    expect((await conn.request(get('/chunked/in-pieces'))).body.toString()).toBe('in-pieces');
    conn.close();
  });

  it('gives each connection its own body when replies arrive one after another into the shared buffer', async () => {
    const a = await KeepAliveConnection.connect({ host: '127.0.0.1', port });
    const b = await KeepAliveConnection.connect({ host: '127.0.0.1', port });
    const first = a.request(get('/held/aaaaaaaaaaaaaaaa'));
    const second = b.request(get('/held/bbbbbbbb'));
    while (held.size < 2) await sleep(5);
    held.get('aaaaaaaaaaaaaaaa')!();
    const replyA = await first;
    // b's bytes now land where a's were read: a's body must be a copy, not a view of that buffer.
    held.get('bbbbbbbb')!();
    const replyB = await second;
    expect(replyA.body.toString()).toBe('aaaaaaaaaaaaaaaa');
    expect(replyB.body.toString()).toBe('bbbbbbbb');
    a.close();
    b.close();
  });
});
