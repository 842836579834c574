/**
 * @module Unit tests: GateWindow.release, which a start that fails after the restore calls: the gate stops listening,
 * the stored window stays for the next start, and the window's timer writes nothing after. A real store and a real
 * TCP listener stand in for the front threads.
 */
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { GateWindow, type GateListener } from '../../../src/net/gate-window.js';
import { createLogger } from '../../../src/logger.js';
import { openTempStore } from '../../helpers/actor-store.js';
import { acceptsTcp } from '../../helpers/ports.js';

/** One loopback listener, as every front thread's gate socket is to a terminal. */
class TcpGate implements GateListener {
  private server: net.Server | null = null;

  open(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((socket) => socket.destroy());
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        this.server = server;
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    const server = this.server;
    this.server = null;
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

const temp = openTempStore('gate-window');

afterAll(async () => {
  await temp.close();
});

describe('GateWindow.release', () => {
  it('stops the reopened gate listening and keeps the stored window, which its timer then leaves alone', async () => {
    const { store } = temp;
    // A clock that stands still: the window is 300 ms from its end however long the store's fsync and the restore take
    // on a loaded machine (on the wall clock, a window measured before them could end before the restore read it).
    const now = Date.now();
    const until = now + 300;
    await store.durable(store.settings.put('gate', { openUntil: until }));
    const log = createLogger({ level: 'silent', pretty: false });
    const gate = new GateWindow(new TcpGate(), { port: 0, store, log, events: () => undefined, now: () => now });
    await gate.restore();
    const { open, port } = gate.status();
    expect(open).toBe(true);
    expect(await acceptsTcp(port)).toBe(true);

    await gate.release();
    expect(gate.status()).toEqual({ open: false, openUntil: null, port: 0 });
    expect(await acceptsTcp(port)).toBe(false);
    // Past the window's end: its timer, left running, closed the gate "again" and stored the window closed, so the next
    // start would not have reopened it. That timer was set for 300 ms at the restore; this one, set later for longer,
    // fires after it.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(store.settings.get('gate')).toEqual({ openUntil: until });
  });
});
