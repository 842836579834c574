/**
 * @module The admin channel at start-up tells the gate as it will be: a server stopped with its gate window open and
 * started again reopens the window before the admin port takes a connection, so an operator connecting as early as it
 * can reads the window open, with its remaining time, on the first gate.status (the page shows what it reads then until
 * the next push, and the restore pushes nothing). A start whose admin port another program holds still fails before
 * the gate reopens: it opens nothing to terminals.
 */
import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/admin/admin-client.js';
import type { GateStatus } from '../../src/protocol/types.js';
import { serverCli } from '../helpers/cli.js';
import { addOperator, connectOperator } from '../helpers/operator.js';
import { dataDirTaken, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { acceptsTcp } from '../helpers/ports.js';

/**
 * The admin port's first connection, as the client saw it: when its TCP handshake came, and whether the gate's port took
 * one at that moment. Only a connection whose TLS handshake then succeeds counts: the start-up's check that the port is
 * free accepts for a moment too, and speaks no TLS.
 */
async function firstAccepted(ports: ServerProcess['ports'], dataDir: string, stopped: () => boolean): Promise<{ at: number; gateListened: boolean } | null> {
  await dataDirTaken(dataDir, stopped);
  while (!stopped()) {
    const first = await new Promise<{ at: number; gateListened: boolean } | null>((resolve) => {
      const raw = net.connect(ports.admin, '127.0.0.1');
      raw.once('error', () => resolve(null));
      raw.once('connect', () => {
        const at = Date.now();
        const gateListened = acceptsTcp(ports.gate);
        const socket = tls.connect({ socket: raw, rejectUnauthorized: false });
        socket.once('secureConnect', () => {
          socket.destroy();
          void gateListened.then((listened) => resolve({ at, gateListened: listened }));
        });
        socket.once('error', () => resolve(null));
        socket.once('close', () => resolve(null));
      });
    });
    if (first !== null) return first;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return null;
}

describe('the admin channel at start-up', () => {
  it('reads a gate window reopened at restart as open, with its remaining time, from the first connection the admin port takes', async () => {
    const first = await startServerProcess({ extraArgs: ['--threads', '2'] });
    const operator = await connectOperator(first, await addOperator(first.dataDir, 'olga'));
    const opened = await operator.request<GateStatus>('gate.open', { minutes: 10 });
    // Kept for the restart: a resume costs no password hash, so gate.status follows the connection by milliseconds.
    const token = operator.token!;
    await operator.close();
    await first.stop();

    // Connects from before the restart begins, again and again, as an operator's page or a monitoring script would, and
    // logs in as soon as the port accepts. A connection taken in the few milliseconds between the admin port listening
    // and the window reopened read "closed", a window too short for a whole login to meet every time: so the test also
    // asks that when the port first took a connection, the gate already listened and the server had logged it reopened.
    let stop = false;
    // Several at once: the first connection after the port listens is seen within a fraction of a millisecond.
    let seen = false;
    const probes = Array.from({ length: 4 }, () => firstAccepted(first.ports, first.dataDir, () => stop || seen));
    const accepted = Promise.race(probes).then((found) => {
      seen = true;
      return found;
    });
    const firstAnswer = (async (): Promise<{ status: GateStatus; connectedAt: number } | null> => {
      if (await accepted === null) return null;
      while (!stop) {
        let client: AdminClient;
        try {
          client = await AdminClient.connect(first.adminUrl, { fingerprint: first.sfp, timeoutMs: 2_000 });
        } catch {
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        const connectedAt = Date.now();
        try {
          // Sent together: requests on a connection are answered in order.
          const [, status] = await Promise.all([client.resume(token), client.request<GateStatus>('gate.status', {})]);
          return { status, connectedAt };
        } finally {
          await client.close();
        }
      }
      return null;
    })();
    let again: ServerProcess | null = null;
    try {
      // The loops go on until they connect: the server's "listening" line can come before their next try does.
      again = await startServerProcess({ dataDir: first.dataDir, ports: first.ports, extraArgs: ['--threads', '2'] });
      const answer = await firstAnswer;
      expect(answer?.status).toEqual({ open: true, openUntil: opened.openUntil, port: first.ports.gate });
      expect(Date.parse(answer!.status.openUntil!) - answer!.connectedAt).toBeGreaterThan(8 * 60_000);
      const reopened = await again.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('gate reopened'));
      const port = await accepted;
      expect(port?.gateListened).toBe(true);
      expect(port!.at).toBeGreaterThanOrEqual(reopened.time as number);
    } finally {
      stop = true;
      await Promise.all([firstAnswer.catch(() => undefined), ...probes]);
      await again?.stop();
    }
  }, 60_000);

  it('fails to start on an admin port another program holds without reopening the gate, even for a moment', async () => {
    const first = await startServerProcess({ extraArgs: ['--threads', '1'] });
    const operator = await connectOperator(first, await addOperator(first.dataDir, 'oscar'));
    await operator.request('gate.open', { minutes: 10 });
    await operator.close();
    await first.stop();

    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen({ port: first.ports.admin, host: '127.0.0.1', exclusive: true }, resolve));
    let stop = false;
    let gateAccepted = false;
    const watching = (async () => {
      // The gate can listen only once the server holds the data dir: from then on, as often as the loop turns.
      await dataDirTaken(first.dataDir, () => stop);
      while (!stop) {
        if (await acceptsTcp(first.ports.gate)) gateAccepted = true;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    try {
      const { ports, dataDir } = first;
      const taken = await serverCli(['serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--threads', '1',
        '--gate-port', String(ports.gate), '--master-port', String(ports.master), '--admin-port', String(ports.admin)]);
      expect(taken.stdout).not.toContain('gate reopened');
      expect(gateAccepted).toBe(false);
      expect(taken.code).toBe(1);
      // Found by the check before the restore (the listen itself says "port in use or not permitted").
      expect(taken.stderr).toMatch(new RegExp(`^error: conflict: admin: cannot listen on 127\\.0\\.0\\.1:${ports.admin} \\(port in use\\)`));
    } finally {
      stop = true;
      await watching;
      holder.close();
    }
    // The window is kept for the next start that can serve.
    const again = await startServerProcess({ dataDir: first.dataDir, ports: first.ports, extraArgs: ['--threads', '1'] });
    try {
      await again.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('gate reopened'));
    } finally {
      await again.stop();
    }
  }, 60_000);
});
