/**
 * @module Free loopback ports for services that must keep a fixed port across restarts (the gate reopens on the same
 * one), chosen below the kernel's ephemeral range.
 *
 * A port that bind(0) reports free comes from that range, and so does the source port of every outgoing connection:
 * between the check and the server binding it (the gate binds only when an operator opens it, seconds later), one of
 * the suite's thousands of client connections could take it, or another test file running in parallel could be
 * handed the same port. Below the range, only our own allocations compete, and each process walks its own stretch.
 */
import fs from 'node:fs';
import net from 'node:net';

/** The first port of the kernel's ephemeral range (Linux default 32768); ours stay below it. */
function ephemeralLow(): number {
  try {
    const [low] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return Number.isInteger(low) ? low! : 32_768;
  } catch {
    return 32_768;
  }
}

const FLOOR = 10_000;
const CEILING = ephemeralLow();
/** Where this process starts: spread by pid, so parallel test workers walk different stretches. */
let next = CEILING - FLOOR > 1_000 ? FLOOR + ((process.pid * 7_919) % (CEILING - FLOOR)) : 0;

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port the kernel hands out itself: the fallback on a machine whose ephemeral range leaves no room below it. */
function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function freePort(): Promise<number> {
  if (next === 0) return kernelPort();
  for (let tries = 0; tries < 1_000; tries++) {
    const port = next;
    next = next + 1 >= CEILING ? FLOOR : next + 1;
    if (await canBind(port)) return port;
  }
  return kernelPort();
}

/** Whether something accepts a TCP connection on loopback `port` now (a gate listening, say). */
export function acceptsTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}
