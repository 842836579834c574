/**
 * @module Crash safety, bounded for `npm test` (the heavy version is `npm run soak`): cash events under repeated SIGKILLs at
 * random moments lose nothing acknowledged and store nothing twice, pins survive, the store reopens; and SIGTERM with requests
 * in flight answers every one of them, exits 0 and leaves a store that reopens with those events in it.
 */
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { signRequest } from '../../src/crypto/signature.js';
import { runCrashSoak, type SoakResult } from '../helpers/crash-soak.js';
import { addOperator, connectOperator, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { writeSection } from '../helpers/reliability.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

let soak: SoakResult | null = null;
const graceful = { inFlight: 0, answered: 0, accepted: 0, overloaded: 0, dropped: 0, exitCode: null as number | null, refusedAfter: '' };

afterAll(() => {
  const summary: string[] = [];
  if (soak) {
    summary.push(
      `${soak.kills} SIGKILLs at random moments while ${soak.acknowledged + soak.unanswered} cash events were sent by paired terminals; the server was restarted on the same data dir each time (slowest restart ${soak.slowestRestartMs} ms).`,
      `${soak.acknowledged} events acknowledged with accepted:true, ${soak.lost.length} of them lost; ${soak.unanswered} sent without an answer, ${soak.notExactlyOnce.length} of them not settled to exactly one copy by a re-send.`,
      `Pins intact for every terminal: ${soak.brokenPins.length === 0 ? 'yes' : `no (${soak.brokenPins.join(', ')})`}; audit chain intact: ${soak.auditChainIntact ? 'yes' : 'no'}; final SIGTERM exit code ${soak.finalExitCode}.`,
    );
  }
  if (graceful.inFlight > 0) {
    summary.push(`SIGTERM with ${graceful.inFlight} requests in flight on established connections: ${graceful.answered} answered (${graceful.accepted} accepted, ${graceful.overloaded} 503), ${graceful.dropped} dropped without an answer; exit code ${graceful.exitCode}; a new connection afterwards: ${graceful.refusedAfter}.`);
  }
  if (summary.length === 0) return;
  writeSection({
    name: 'crash-safety',
    title: 'Crash safety (bounded run in npm test)',
    summary,
    numbers: soak ? { kills: soak.kills, eventsAcknowledged: soak.acknowledged, eventsLost: soak.lost.length + soak.notExactlyOnce.length } : {},
  });
});

describe('SIGKILL at random moments', () => {
  it('loses no acknowledged event, stores none twice, keeps every pin, and reopens the store each time', async () => {
    soak = await runCrashSoak({ kills: 5, terminals: 3, writers: 2, minDelayMs: 100, maxDelayMs: 800 });
    expect(soak.acknowledged).toBeGreaterThan(20);
    expect(soak.lost).toEqual([]);
    expect(soak.notExactlyOnce).toEqual([]);
    expect(soak.brokenPins).toEqual([]);
    expect(Object.keys(soak.refused).filter((k) => !k.startsWith('503') && !k.startsWith('429'))).toEqual([]);
    expect(soak.auditChainIntact).toBe(true);
    expect(soak.finalExitCode).toBe(0);
  }, 120_000);
});

/** One signed cash event as raw HTTP/1.1 bytes, so it can be written on an already open connection at a chosen moment. */
function rawCashEvent(t: RawTerminal, port: number, eventId: string): Buffer {
  const body = Buffer.from(JSON.stringify({ eventId, currency: 'USD', denomination: 5, count: 1, at: new Date().toISOString() }));
  const signed = signRequest({ method: 'POST', path: '/api/v1/cash-events', body, serial: t.serial, privateKeyPem: t.privateKeyPem, alg: t.alg, keyid: t.tfp });
  const head = [`POST /api/v1/cash-events HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Content-Type: application/json', `Content-Length: ${body.length}`, 'Connection: close',
    ...Object.entries(signed).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`), body]);
}

function connect(port: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the server sends until it closes: the status and JSON body of the answer, or null for none. */
function answerOf(socket: tls.TLSSocket): Promise<{ status: number; json: any } | null> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      if (!status) return resolve(null);
      let json: unknown = null;
      try {
        json = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
      } catch {
        json = null;
      }
      resolve({ status: Number(status), json });
    });
  });
}

describe('SIGTERM with requests in flight', () => {
  let server: ServerProcess;
  afterAll(async () => {
    await server?.stop('SIGKILL');
  });

  it('answers every request already sent, stops accepting, exits 0, and the store reopens with what it acknowledged', async () => {
    server = await startServerProcess();
    const admin = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
    await admin.request('gate.open', { minutes: 10 });
    const terminal = RawTerminal.create('GRACE-1', 'ed25519');
    await pairRawTerminal(admin, server, terminal);
    await admin.close();

    const { dataDir, ports } = server;
    const sockets = await Promise.all(Array.from({ length: 24 }, () => connect(ports.master)));
    const answers = sockets.map(answerOf);
    const ids = sockets.map(() => `grace-${randomBytes(6).toString('hex')}`);
    // MUST write every request before the signal, in one go: these are in flight when SIGTERM arrives.
    sockets.forEach((socket, i) => socket.write(rawCashEvent(terminal, ports.master, ids[i]!)));
    const exitCode = server.stop('SIGTERM');
    graceful.inFlight = sockets.length;
    await server.waitForLog((l) => l.msg === 'stopped accepting new connections');
    const late = await connect(ports.master).then((s) => (s.destroy(), 'accepted (not refused)'), (e: NodeJS.ErrnoException) => `refused (${e.code})`);
    graceful.refusedAfter = late;

    const results = await Promise.all(answers);
    graceful.exitCode = await exitCode;
    graceful.answered = results.filter((r) => r !== null).length;
    graceful.accepted = results.filter((r) => r?.status === 200 && r.json?.accepted === true).length;
    graceful.overloaded = results.filter((r) => r?.status === 503).length;
    graceful.dropped = results.filter((r) => r === null).length;
    expect(results.filter((r) => r === null)).toHaveLength(0);
    expect(results.every((r) => r!.status === 200 || r!.status === 503)).toBe(true);
    expect(late.startsWith('refused')).toBe(true);
    expect(graceful.exitCode).toBe(0);

    server = await startServerProcess({ dataDir, ports });
    for (const [i, result] of results.entries()) {
      if (result?.status !== 200) continue;
      const again = await terminal.send(server.masterUrl, '/api/v1/cash-events', { body: JSON.stringify({ eventId: ids[i], currency: 'USD', denomination: 5, count: 1, at: new Date().toISOString() }) });
      expect(again.json).toEqual({ accepted: true, duplicate: true });
    }
    expect((await terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);
  });
});
