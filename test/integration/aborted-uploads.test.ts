/**
 * @module A client that goes away in the middle of its upload gives its place back: requests in flight are capped
 * (503 beyond), so places that leaked would take master and the gate down for good, with no authentication needed.
 */
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import type { ServerStatus } from '../../src/protocol/types.js';
import { addOperator, connectOperator, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const UPLOADS = 60;
let server: ServerProcess;
let alice: AdminClient;

beforeAll(async () => {
  server = await startServerProcess({ extraArgs: ['--threads', '2'] });
  alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
  await alice.request('gate.open', { minutes: 10 });
});

afterAll(async () => {
  await alice?.close();
  await server?.stop();
});

/** Announces a 10-byte body, sends 3 bytes, and hangs up. */
function abandonUpload(port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\nX-Terminal-Serial: NOBODY-1\r\n\r\nabc`, () => {
        // Long enough for the head to be read and the request admitted before the connection goes.
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 20);
      });
    });
    socket.on('error', reject);
  });
}

const inFlight = async (): Promise<{ master: number; gate: number }> => {
  const { threads } = await alice.request<ServerStatus>('server.status');
  return threads.reduce((sum, t) => ({ master: sum.master + (t.report?.inFlight.master ?? 0), gate: sum.gate + (t.report?.inFlight.gate ?? 0) }), { master: 0, gate: 0 });
};

describe('uploads the client abandons', () => {
  it('give their place in admission back, on master and on the gate', async () => {
    for (let i = 0; i < UPLOADS; i++) {
      await abandonUpload(server.ports.master, '/api/v1/cash-events');
      await abandonUpload(server.ports.gate, '/api/v1/pairing');
    }
    await expect.poll(inFlight, { timeout: 5_000, interval: 100 }).toEqual({ master: 0, gate: 0 });
    // And the services answer as before.
    const terminal = RawTerminal.create('ABORT-OK-1', 'ec');
    await pairRawTerminal(alice, server, terminal);
    expect((await terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);
  });
});
