/** @module The load generator process, forked by the fleet orchestrator so its CPU is not the server's: pairs the fleet, pre-signs master calls on a worker pool before any measured phase (or loads the ones another generator signed), then drives the phases from one event loop. */
import v8 from 'node:v8';
import { Piscina } from 'piscina';
import { AdminClient } from '../../src/admin/admin-client.js';
import { totpCode } from '../../src/crypto/totp.js';
import { loadIdentities, signerOf, type TerminalIdentity } from './identities.js';
import { runEndurance } from './endurance-load.js';
import { FleetConnections } from './fleet-connections.js';
import { connectAndCallOnce, runPhase } from './load-phases.js';
import type { Command, ConnectReport, GeneratorMessage, PresignReport } from './messages.js';
import { pairFleet, type PairingReport } from './pairing-driver.js';
import { loadPresigned, savePresigned } from './presigned-file.js';
import type { SignTask } from './sign.worker.js';

const SIGNER = new URL('./sign.worker.js', import.meta.url).href;
/** Terminals per pre-signing task: big enough to amortise the hop, small enough to spread over the threads. */
const PRESIGN_CHUNK = 25;

let requests: Buffer[][] = [];
let fleet: FleetConnections | null = null;

function send(message: GeneratorMessage): void {
  process.send?.(message);
}

const progress = (text: string): void => send({ type: 'progress', text });

function signerPool(threads: number): Piscina<SignTask, string[]> {
  return new Piscina<SignTask, string[]>({ filename: SIGNER, minThreads: threads, maxThreads: threads });
}

async function pair(command: Extract<Command, { type: 'pair' }>): Promise<PairingReport> {
  const { active, idle } = loadIdentities(command.plan);
  const terminals = [...active, ...idle].map((identity, index) => ({ identity, index }));
  const connect = (): Promise<AdminClient> => AdminClient.connect(command.admin.url, { fingerprint: command.admin.sfp, timeoutMs: 60_000 });
  const admins = [await connect()];
  const signer = signerPool(command.signThreads);
  try {
    const session = await admins[0]!.login(command.admin.user, command.admin.password, await totpCode(command.admin.totpSecret));
    // One login (a TOTP code is accepted once), the other connections resume the same session, like more tabs of the web page.
    for (let i = 1; i < command.adminConnections; i++) {
      const extra = await connect();
      admins.push(extra);
      await extra.resume(session.token);
    }
    return await pairFleet({ admins, gate: command.gate, sfp: command.admin.sfp, terminals, concurrency: command.concurrency, signer, progress });
  } finally {
    await signer.destroy();
    await Promise.all(admins.map((a) => a.close()));
  }
}

async function presign(command: Extract<Command, { type: 'presign' }>): Promise<PresignReport> {
  const { active } = loadIdentities(command.plan);
  const signer = signerPool(command.signThreads);
  const started = performance.now();
  const each = command.perTerminal + command.writesPerTerminal;
  const total = active.length * each;
  let done = 0;
  requests = active.map(() => []);
  try {
    const chunks: Promise<void>[] = [];
    for (let from = 0; from < active.length; from += PRESIGN_CHUNK) {
      const slice: TerminalIdentity[] = active.slice(from, from + PRESIGN_CHUNK);
      chunks.push(signer.run({
        kind: 'master', created: command.created,
        terminals: slice.map((t) => ({ ...signerOf(t), count: command.perTerminal, writes: command.writesPerTerminal })),
      }).then((raw) => {
        slice.forEach((_, j) => {
          requests[from + j] = raw.slice(j * each, (j + 1) * each).map((r) => Buffer.from(r, 'latin1'));
        });
        done += raw.length;
        if ((from / PRESIGN_CHUNK) % 20 === 0) {
          const sec = (performance.now() - started) / 1000;
          progress(`pre-signing: ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} RSA-2048 signatures, ${(done / sec).toFixed(0)}/s on ${command.signThreads} threads`);
        }
      }));
    }
    await Promise.all(chunks);
  } finally {
    await signer.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  if (command.saveTo) savePresigned(command.saveTo, requests);
  return { requests: total, perTerminal: command.perTerminal, writesPerTerminal: command.writesPerTerminal, seconds, signsPerSec: total / seconds, threads: command.signThreads, created: command.created[0]! };
}

async function connect(command: Extract<Command, { type: 'connect' }>): Promise<ConnectReport> {
  fleet?.closeAll();
  fleet = new FleetConnections(requests, { host: command.host, port: command.port, heartbeatAfterMs: command.heartbeatAfterMs });
  return connectAndCallOnce(fleet, { concurrency: command.concurrency, serverPid: command.serverPid }, progress);
}

async function handle(command: Command): Promise<GeneratorMessage> {
  switch (command.type) {
    case 'pair':
      return { type: 'done', result: await pair(command) };
    case 'presign':
      return { type: 'done', result: await presign(command) };
    case 'load-requests':
      requests = loadPresigned(command.file);
      return { type: 'done', result: null };
    case 'connect':
      return { type: 'done', result: await connect(command) };
    case 'load':
      if (!fleet) throw new Error('connect before a load phase');
      return { type: 'done', result: await runPhase(fleet, command.phase, progress) };
    case 'disconnect':
      fleet?.closeAll();
      fleet = null;
      return { type: 'done', result: null };
    case 'endure':
      return { type: 'done', result: await runEndurance(command.spec, progress, (sample) => send({ type: 'sample', sample })) };
  }
}

/**
 * Writes to every page of the young generation once, now, before any phase. V8 commits the space whole but the kernel
 * maps a page on its first write; the connect phase's frequent full GCs keep restarting allocation at the bottom of
 * the space, so its top pages were first written in the first server's warm-up and peak: some 13,000 page faults
 * there, 11% of the generator's CPU in `perf`, then a few dozen a second, so the baseline's and the floor's phases,
 * later, found the space written (bench/JOURNAL.md, session 16). Objects kept for a moment in a small ring, so the
 * compiler cannot prove them unused and skip them.
 */
function touchYoungGeneration(): void {
  const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  if (!young) return;
  const ring: unknown[] = new Array(16);
  // Each array takes about 1 KiB; 3× the space covers both semi-spaces with room for the flips.
  const arrays = Math.ceil((3 * young.space_size) / 1024);
  for (let i = 0; i < arrays; i++) ring[i & 15] = new Array<number>(126).fill(i);
}

touchYoungGeneration();

process.on('message', (command: Command) => {
  handle(command).then(send, (error: unknown) => send({ type: 'failed', message: error instanceof Error ? error.stack ?? error.message : String(error) }));
});
// The orchestrator going away ends the generator too.
process.on('disconnect', () => process.exit(0));
