/**
 * @module Crash soak: paired terminals send cash events while the server is SIGKILLed at random moments and restarted on
 * the same data dir, then every acknowledged event must be stored exactly once and the pins must be intact. Used by the
 * bounded crash-safety test and by `npm run soak`.
 */
import { randomInt } from 'node:crypto';
import { AdminClient } from '../../src/admin/admin-client.js';
import { serverCli } from './cli.js';
import { addOperator, connectOperator, pairRawTerminal } from './operator.js';
import { RawTerminal, type RawReply } from './raw-terminal.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

export interface SoakOptions {
  kills: number;
  terminals: number;
  /** Concurrent senders per terminal. */
  writers: number;
  /** The kill comes this long after the restarted server accepts traffic (uniformly random). */
  minDelayMs: number;
  maxDelayMs: number;
  onProgress?(line: string): void;
}

export interface SoakResult {
  kills: number;
  acknowledged: number;
  /** Sent when the server died: no answer, may or may not be stored. */
  unanswered: number;
  /** Acknowledged with accepted:true but not found as a duplicate afterwards: must be 0. */
  lost: string[];
  /** Unanswered events that a re-send did not settle to exactly one stored copy: must be 0. */
  notExactlyOnce: string[];
  /** Answers other than accepted:true while the server lived, by status and code (an auth failure here would be a bug). */
  refused: Record<string, number>;
  /** Terminals whose pin or master access did not survive: must be 0. */
  brokenPins: string[];
  slowestRestartMs: number;
  auditChainIntact: boolean;
  /** Exit code of the final graceful stop: must be 0. */
  finalExitCode: number | null;
  durationMs: number;
}

const eventBody = (eventId: string) => JSON.stringify({ eventId, currency: 'EUR', denomination: 10, count: 1, at: new Date().toISOString() });

function cashEvent(server: ServerProcess, terminal: RawTerminal, eventId: string): Promise<RawReply> {
  return terminal.send(server.masterUrl, '/api/v1/cash-events', { body: eventBody(eventId) });
}

/** Runs `task` over `items` with at most `width` at once. */
async function pooled<T>(items: readonly T[], width: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

export async function runCrashSoak(opts: SoakOptions): Promise<SoakResult> {
  const started = Date.now();
  let server = await startServerProcess();
  const { dataDir, ports } = server;
  const alice = await addOperator(dataDir, 'alice');
  let admin = await connectOperator(server, alice);
  const token = admin.token!;
  await admin.request('gate.open', { minutes: 120 });
  const terminals = Array.from({ length: opts.terminals }, (_, i) => RawTerminal.create(`SOAK-${i}`, (['ec', 'ed25519', 'rsa'] as const)[i % 3]));
  for (const t of terminals) await pairRawTerminal(admin, server, t);
  await admin.close();

  const acknowledged = new Map<string, RawTerminal>();
  const unanswered = new Map<string, RawTerminal>();
  const refused: Record<string, number> = {};
  let counter = 0;
  let slowestRestartMs = 0;

  for (let kill = 1; kill <= opts.kills; kill++) {
    let alive = true;
    const writer = async (t: RawTerminal): Promise<void> => {
      while (alive) {
        const eventId = `${t.serial}-${counter++}`;
        let reply: RawReply;
        try {
          reply = await cashEvent(server, t, eventId);
        } catch {
          // The server died with this request in flight: it may or may not have been stored.
          unanswered.set(eventId, t);
          return;
        }
        if (reply.status === 200 && reply.json?.accepted === true) {
          acknowledged.set(eventId, t);
        } else {
          unanswered.set(eventId, t);
          const key = `${reply.status} ${reply.json?.error ?? ''}`;
          refused[key] = (refused[key] ?? 0) + 1;
        }
      }
    };
    const writers = terminals.flatMap((t) => Array.from({ length: opts.writers }, () => writer(t)));
    await new Promise((resolve) => setTimeout(resolve, randomInt(opts.minDelayMs, opts.maxDelayMs + 1)));
    // MUST be SIGKILL: no handler runs, nothing is flushed on the way out.
    await server.stop('SIGKILL');
    alive = false;
    await Promise.all(writers);
    const restartStarted = Date.now();
    server = await startServerProcess({ dataDir, ports });
    slowestRestartMs = Math.max(slowestRestartMs, Date.now() - restartStarted);
    opts.onProgress?.(`kill ${kill}/${opts.kills} · acknowledged ${acknowledged.size} · unanswered ${unanswered.size} · restart ${Date.now() - restartStarted} ms`);
  }

  const lost: string[] = [];
  await pooled([...acknowledged], 8, async ([eventId, t]) => {
    const reply = await cashEvent(server, t, eventId);
    if (!(reply.status === 200 && reply.json?.accepted === true && reply.json?.duplicate === true)) lost.push(eventId);
  });
  const notExactlyOnce: string[] = [];
  await pooled([...unanswered], 8, async ([eventId, t]) => {
    const first = await cashEvent(server, t, eventId);
    const second = await cashEvent(server, t, eventId);
    if (first.json?.accepted !== true || second.json?.duplicate !== true) notExactlyOnce.push(eventId);
  });

  const brokenPins: string[] = [];
  admin = await AdminClient.connect(server.adminUrl, { fingerprint: server.sfp });
  await admin.resume(token);
  for (const t of terminals) {
    const view = await admin.request<{ state: string; tfp: string | null }>('terminals.get', { serial: t.serial });
    const ping = await t.send(server.masterUrl, '/api/v1/ping', { body: '{}' });
    if (view.state !== 'paired' || view.tfp !== t.tfp || ping.status !== 200) brokenPins.push(t.serial);
  }
  await admin.close();
  const verify = await serverCli(['audit', 'verify', '--json', '--data-dir', dataDir]);
  const finalExitCode = await server.stop('SIGTERM');
  return {
    kills: opts.kills, acknowledged: acknowledged.size, unanswered: unanswered.size, lost, notExactlyOnce, refused, brokenPins,
    slowestRestartMs, auditChainIntact: verify.code === 0 && verify.json?.ok === true, finalExitCode, durationMs: Date.now() - started,
  };
}
