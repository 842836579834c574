/**
 * @module Terminals on slow links: requests that reach the server in many small pieces are answered as if they came at
 * once, up to what uWebSockets.js can hold of a request head between reads (docs/DECISIONS.md, "Hostile input").
 */
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { ok, terminalCli } from '../helpers/cli.js';
import { addOperator, connectOperator, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, tempDir, type ServerProcess } from '../helpers/server-process.js';
import { startSlowLink, type SlowLink } from '../helpers/slow-link.js';

/** The most plaintext one TLS record carries (RFC 8446 §5.1). */
const TLS_RECORD_BYTES = 16_384;

let server: ServerProcess;
let alice: AdminClient;
let slowGate: SlowLink;
let slowMaster: SlowLink;
const terminal = RawTerminal.create('SLOW-1', 'rsa');

beforeAll(async () => {
  server = await startServerProcess();
  alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
  await alice.request('gate.open', { minutes: 30 });
  // 1,000 bytes every 2 ms: a request head of a few KB takes several reads, a TLS record of 16 KB about 35 ms.
  slowGate = await startSlowLink(server.ports.gate);
  slowMaster = await startSlowLink(server.ports.master);
}, 60_000);

afterAll(async () => {
  await slowGate?.close();
  await slowMaster?.close();
  await alice?.close();
  await server?.stop();
});

/**
 * Writes `pieces` on one fresh TLS connection, `gapMs` apart, and resolves with the answer's status line or null if closed
 * without one. Not live-fuzz's sendRawTls: that one ends the client's side with its bytes, and uWS gave no answer even to a
 * 3 KB head in two pieces when the second came with the end.
 */
function sendInPieces(port: number, pieces: string[], gapMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    let text = '';
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, async () => {
      for (const [i, piece] of pieces.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, gapMs));
        if (socket.destroyed) return;
        socket.write(piece);
      }
    });
    socket.on('data', (bytes: Buffer) => {
      text += bytes.toString('latin1');
      if (text.includes('\r\n\r\n')) socket.end();
    });
    socket.on('error', () => undefined);
    socket.setTimeout(5_000, () => socket.destroy());
    socket.on('close', () => resolve(/^HTTP\/1\.1 \d{3}[^\r]*/.exec(text)?.[0] ?? null));
  });
}

describe('a terminal on a slow link', () => {
  it('pairs through the gate and calls master, every request arriving in pieces', async () => {
    await pairRawTerminal(alice, { gateUrl: slowGate.url, sfp: server.sfp }, terminal);
    const ping = await terminal.send(slowMaster.url, '/api/v1/ping', { body: '{}' });
    expect(ping.status).toBe(200);
    const cash = JSON.stringify({ eventId: 'slow-1', currency: 'USD', denomination: 20, count: 1, at: new Date().toISOString() });
    const stored = await terminal.send(slowMaster.url, '/api/v1/cash-events', { body: cash });
    expect(stored.status).toBe(200);
    expect(stored.json).toMatchObject({ duplicate: false });
  });

  it('the terminal CLI pairs through the slow gate and pins the real server', async () => {
    const atm = tempDir('slow-terminal');
    const term = (args: string[]) => terminalCli(atm, args);
    await alice.request('terminals.create', { serial: 'SLOW-CLI' });
    ok(await term(['init', '--serial', 'SLOW-CLI', '--key', 'rsa']));
    const pending = ok(await term(['pair', '--gate', slowGate.url]));
    expect(pending).toMatchObject({ status: 'pending', sfp: server.sfp });
    await alice.request('pairing.approve', { requestId: pending.requestId, code: pending.code });
    expect(ok(await term(['pair', '--gate', slowGate.url])).status).toBe('trusted');
    // Master's address comes from the gate (the server's own port), so this call goes direct.
    expect(ok(await term(['ping'])).serverTime).toBeTruthy();
  });

  it('a request head that fills most of one TLS record is read whole, however slowly the record arrives', async () => {
    // Node sends the head in one write, so it starts a record; the padding brings it near the record's 16 KiB.
    const reply = await terminal.send(slowMaster.url, '/api/v1/ping', { body: '{}', headers: { 'x-padding': 'p'.repeat(TLS_RECORD_BYTES - 2_000) } });
    expect(reply.status).toBe(200);
  });

  it('a head over 4 KiB written in two pieces gets no answer: uWS holds at most 4 KiB of a head between reads', async () => {
    const head = `POST /api/v1/ping HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(5_000)}\r\nContent-Length: 2\r\n\r\n{}`;
    const split = Math.floor(head.length / 2);
    // Each write is its own TLS record; half a second apart, the server reads the first alone.
    expect(await sendInPieces(server.ports.master, [head.slice(0, split), head.slice(split)], 500)).toBeNull();
    // The same head under 4 KiB, in two pieces just as far apart, is answered (a documented 400: it is not signed).
    const small = head.replace('p'.repeat(5_000), 'p'.repeat(3_000));
    const smallSplit = Math.floor(small.length / 2);
    expect(await sendInPieces(server.ports.master, [small.slice(0, smallSplit), small.slice(smallSplit)], 500)).toMatch(/^HTTP\/1\.1 4\d\d/);
    // And the server keeps serving.
    expect((await terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);
  });
});
