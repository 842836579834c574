/** @module Registers and pairs the fleet through the real flow: operator creates each serial, terminal commits and reveals at the gate, operator approves with the code, terminal sees `trusted`. */
import { randomBytes } from 'node:crypto';
import type { Piscina } from 'piscina';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { commitmentOf, pairingCode } from '../../src/crypto/pairing-code.js';
import { signerOf, type TerminalIdentity } from './identities.js';
import { inLanes } from '../lib/lanes.js';
import { KeepAliveConnection, loopbackAddress, type Reply } from './keep-alive-connection.js';
import type { SignTask } from './sign.worker.js';

export interface PairingReport {
  terminals: number;
  /** Creating the expected terminals over the admin channel. */
  createSeconds: number;
  /** Commit → reveal → approve → trusted, for every terminal. */
  pairSeconds: number;
  terminalsPerSec: number;
  gateCalls: number;
  /** TLS connections opened to the gate (one per terminal unless the server closed one). */
  gateConnections: number;
  /** Load generator cores busy while pairing (signing, TLS, JSON). */
  generatorCores: number;
  /** Answers 429/503 that were retried after Retry-After, as a terminal would. */
  retries: number;
  /** Mean latency of each step, ms: where a terminal's pairing time goes. */
  stepMs: Record<Step, number>;
  errors: number;
  errorSamples: string[];
}

type Step = 'commit' | 'reveal' | 'approve' | 'trusted';
const STEPS: readonly Step[] = ['commit', 'reveal', 'approve', 'trusted'];
const stepTotals: Record<Step, number> = { commit: 0, reveal: 0, approve: 0, trusted: 0 };

async function timedStep<T>(step: Step, work: Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await work;
  } finally {
    stepTotals[step] += performance.now() - start;
  }
}

export interface PairingOptions {
  /** Several connections of one operator session: the server runs one connection's requests in order, so one connection would serialise every durable write. */
  admins: AdminClient[];
  gate: { host: string; port: number };
  sfp: string;
  /** Each terminal's index decides its loopback source address. */
  terminals: { identity: TerminalIdentity; index: number }[];
  concurrency: number;
  signer: Piscina<SignTask, string[]>;
  progress(text: string): void;
}

const MAX_RETRIES = 20;

let gateConnections = 0;

class GateSession {
  private conn: KeepAliveConnection | null = null;
  calls = 0;
  retries = 0;

  constructor(private readonly opts: PairingOptions, private readonly t: { identity: TerminalIdentity; index: number }) {}

  /** One signed gate call; reconnects when the server closed the connection, and honours 429/503 like a terminal. */
  async call(body: object): Promise<{ status: number; json: Record<string, unknown> }> {
    const { identity } = this.t;
    for (let attempt = 0; ; attempt++) {
      const [request] = await this.opts.signer.run({
        kind: 'gate', body: JSON.stringify(body), certificateB64: identity.certDer.toString('base64'),
        signer: signerOf(identity),
      });
      if (!this.conn?.isOpen) {
        gateConnections++;
        this.conn = await KeepAliveConnection.connect({ host: this.opts.gate.host, port: this.opts.gate.port, localAddress: loopbackAddress(this.t.index) });
      }
      const reply: Reply = await this.conn.request(request!);
      this.calls++;
      const json = JSON.parse(reply.body.toString('utf8') || '{}') as Record<string, unknown>;
      if ((reply.status === 429 || reply.status === 503) && attempt < MAX_RETRIES) {
        this.retries++;
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      return { status: reply.status, json };
    }
  }

  close(): void {
    this.conn?.close();
  }
}

function expect(step: string, got: { status: number; json: Record<string, unknown> }, status: number): void {
  if (got.status !== status) throw new Error(`${step} answered ${got.status} ${String(got.json.error ?? got.json.status ?? '')}`);
}

async function pairOne(opts: PairingOptions, t: { identity: TerminalIdentity; index: number }): Promise<GateSession> {
  const session = new GateSession(opts, t);
  try {
    const terminalNonce = randomBytes(32);
    const commit = await timedStep('commit', session.call({ commitment: commitmentOf(terminalNonce), info: { model: 'bench-fleet' } }));
    expect('commit', commit, 202);
    const requestId = String(commit.json.requestId);
    const reveal = await timedStep('reveal', session.call({ requestId, reveal: terminalNonce.toString('base64') }));
    expect('reveal', reveal, 202);
    // The terminal derives the code it would show; the operator approves only with that code.
    const code = pairingCode({
      serverNonce: Buffer.from(String(commit.json.serverNonce), 'base64'), terminalNonce,
      serial: t.identity.serial, tfp: t.identity.tfp, sfp: opts.sfp,
    });
    await timedStep('approve', opts.admins[t.index % opts.admins.length]!.request('pairing.approve', { requestId, code }));
    const trusted = await timedStep('trusted', session.call({}));
    expect('trusted poll', trusted, 200);
    if (trusted.json.status !== 'trusted') throw new Error(`trusted poll answered status ${String(trusted.json.status)}`);
    return session;
  } finally {
    session.close();
  }
}

/** Runs `work` over `items` with at most `limit` in flight; collects failures instead of stopping. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>, onDone: (done: number) => void): Promise<string[]> {
  const failures: string[] = [];
  let done = 0;
  await inLanes(items.length, limit, async (i) => {
    try {
      await work(items[i]!);
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
    }
    onDone(++done);
  });
  return failures;
}

export async function pairFleet(opts: PairingOptions): Promise<PairingReport> {
  const total = opts.terminals.length;
  const admin = opts.admins[0]!;
  await admin.request('gate.open', { minutes: 24 * 60 });
  const createStart = performance.now();
  const createFailures = await eachLimited(opts.terminals, 256, async ({ identity, index }) => {
    await opts.admins[index % opts.admins.length]!.request('terminals.create', { serial: identity.serial, name: 'bench fleet' });
  }, (n) => {
    if (n % 500 === 0 || n === total) opts.progress(`pairing: created ${n}/${total} terminals`);
  });
  const createSeconds = (performance.now() - createStart) / 1000;

  const pairStart = performance.now();
  const cpuStart = process.cpuUsage();
  let gateCalls = 0;
  let retries = 0;
  const pairFailures = await eachLimited(opts.terminals, opts.concurrency, async (t) => {
    const session = await pairOne(opts, t).catch((error: unknown) => {
      throw new Error(`${t.identity.serial}: ${error instanceof Error ? error.message : String(error)}`);
    });
    gateCalls += session.calls;
    retries += session.retries;
  }, (n) => {
    if (n % 100 === 0 || n === total) {
      const sec = (performance.now() - pairStart) / 1000;
      opts.progress(`pairing: ${n}/${total} trusted, ${(n / sec).toFixed(0)}/s, ${retries} retries`);
    }
  });
  const pairSeconds = (performance.now() - pairStart) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  await admin.request('gate.close');
  const failures = [...createFailures, ...pairFailures];
  return {
    terminals: total, createSeconds, pairSeconds, terminalsPerSec: total / pairSeconds, gateCalls, gateConnections, retries,
    generatorCores: (cpu.user + cpu.system) / 1e6 / pairSeconds,
    stepMs: Object.fromEntries(STEPS.map((s) => [s, stepTotals[s] / total])) as Record<Step, number>,
    errors: failures.length, errorSamples: failures.slice(0, 5),
  };
}
