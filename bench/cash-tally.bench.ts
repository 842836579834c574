/**
 * @module Micro benchmark: what telling operators of new cash events (the `cash` topic) costs master's hot path. A cash
 * event through the terminal's actor and a real store, with the tally (net/cash-tally.ts: a Map update, and a message
 * to the main thread at most every 200 ms) against the same path without it, as master ran before; and the tally alone.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import type { ActorContext } from '../src/actors/context.js';
import { TerminalRouter } from '../src/actors/terminal-router.js';
import { WriteBehind } from '../src/actors/write-behind.js';
import type { Authenticated } from '../src/auth/request-auth.js';
import { createLogger } from '../src/logger.js';
import { CashTally, type CashCounts } from '../src/net/cash-tally.js';
import type { TerminalRequest } from '../src/protocol/types.js';
import { Store } from '../src/store/store.js';
import { runMicroCli, type MicroSuite, type MicroTask } from './lib/micro-runner.js';
import { reference } from './lib/openssl-speed.js';

/** Terminals per path; a task sends one event for each of them at once, as a front thread's share of a busy fleet. */
const TERMINALS = 64;
/** The tally alone: calls per timed batch, over this many serials (a thread's share of 100,000 terminals' second). */
const TALLY_BATCH = 10_000;
const TALLY_SERIALS = 4_500;

let dir = '';
let store: Store | null = null;
let writeBehind: WriteBehind | null = null;
const routers: TerminalRouter[] = [];
const tallies: CashTally[] = [];
const channel = new MessageChannel();
let recorded = 0;
let tallied = 0;

export const suite: MicroSuite = {
  id: 'cash-tally',
  question: 'What does counting each new cash event for the operators\' `cash` pushes cost master\'s cash-event path?',
  openssl: ['rsa2048'],
  notes: [
    'ratio = operations per openssl RSA-2048 verify (one core).',
    `A real store in a temp dir (synced as the server's), ${TERMINALS} paired terminals per path; each task sends one new cash event for each of them at once through TerminalRouter.deliver and waits for the answers (durable: one group commit); ns/op is per event. Authentication is left out: it is the same for both.`,
    'with the tally: ctx.cashRecorded is CashTally.recorded, whose counts cross a MessageChannel (structured clone, as comlink sends them) at most every 200 ms; without: a no-op, as master was before the cash topic.',
    `The tally alone: ${TALLY_BATCH.toLocaleString('en-US')} recorded() calls a sample over ${TALLY_SERIALS.toLocaleString('en-US')} serials (a front thread's share of a 9,000 events/s fleet's second), the flush's message included when it falls due.`,
  ],
  async setup(): Promise<MicroTask[]> {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cash-tally-'));
    const s = Store.open(dir);
    store = s;
    const log = createLogger({ level: 'silent', pretty: false });
    writeBehind = new WriteBehind(s, log);
    const wb = writeBehind;
    channel.port2.on('message', (counts: CashCounts) => (tallied += counts.length));
    channel.port2.unref();
    const newTally = (): CashTally => {
      const tally = new CashTally((counts) => channel.port1.postMessage(counts));
      tallies.push(tally);
      return tally;
    };
    const nowSec = (): number => Math.floor(Date.now() / 1000);
    let nonce = 0;
    let eventId = 0;

    /** A path: its own terminals and router; `cashRecorded` is the alternative measured. */
    async function cashPath(prefix: string, cashRecorded: ActorContext['cashRecorded']): Promise<() => Promise<void>> {
      const serials = Array.from({ length: TERMINALS }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);
      const certDer = Buffer.from('bench');
      await s.root.transaction(() => {
        for (const serial of serials) {
          s.terminals.putSync(serial, {
            serial, name: serial, location: '', contact: '', vpn: false, createdAt: Date.now(), createdBy: 'bench',
            tfp: `tfp-${serial}`, certDer, pairedAt: Date.now(), pairedBy: 'bench', lastSeenAt: null,
          });
        }
      });
      const ctx: ActorContext = {
        store: s, writeBehind: wb, log, sfp: 'bench', masterUrl: 'https://127.0.0.1:7743', clockSkewSec: 300,
        pairingTtlMs: 600_000, maxCodeAttempts: 5, events: () => undefined, cashRecorded, now: () => Date.now(),
        vpn: { issue: () => Promise.reject(new Error('no VPN here')), publishCrl: () => Promise.resolve(), gateConfig: () => Promise.resolve(null) },
      };
      const router = new TerminalRouter(ctx, 60_000);
      routers.push(router);
      const one = async (serial: string): Promise<void> => {
        const created = nowSec();
        const auth: Authenticated = { serial, tfp: `tfp-${serial}`, nonce: `n${++nonce}`, created, checkedAtSec: created, certDer };
        const body = Buffer.from(JSON.stringify({ eventId: `e${++eventId}`, currency: 'EUR', denomination: 20, count: 1, at: new Date().toISOString() }));
        const request: TerminalRequest = { method: 'POST', path: '/api/v1/cash-events', query: '', headers: {}, body, remoteAddress: '127.0.0.1' };
        const reply = await router.deliver('master', request, auth);
        // A benchmark of a refused call would measure the wrong path.
        if (reply.status !== 200) throw new Error(`master answered ${reply.status}: ${JSON.stringify(reply.body)}`);
        recorded++;
      };
      return async () => {
        await Promise.all(serials.map(one));
      };
    }

    const ref = (o: Parameters<typeof reference>[0]) => reference(o, 'rsa2048.verify');
    const without = await cashPath('OLD', () => undefined);
    const tally = newTally();
    const withTally = await cashPath('NEW', (serial) => tally.recorded(serial));
    // Both paths warmed alike first: otherwise the first task measured pays for the store's first pages and the JIT.
    for (let i = 0; i < 50; i++) {
      await without();
      await withTally();
    }
    const alone = newTally();
    const serials = Array.from({ length: TALLY_SERIALS }, (_, i) => `ATM-${String(i).padStart(6, '0')}`);
    let next = 0;
    return [
      { name: 'cash event through the actor and store, without the tally (before)', async: true, ops: TERMINALS, fn: without, reference: ref },
      { name: 'cash event through the actor and store, with CashTally.recorded (now)', async: true, ops: TERMINALS, fn: withTally, reference: ref },
      {
        name: 'CashTally.recorded alone', batch: TALLY_BATCH, reference: ref,
        fn: () => alone.recorded(serials[next++ % TALLY_SERIALS]!),
      },
    ];
  },
  async teardown() {
    for (const tally of tallies) tally.stop();
    for (const router of routers) await router.close();
    await writeBehind?.close();
    await store?.close();
    channel.port1.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (recorded === 0) throw new Error('no cash event was recorded');
  },
};

await runMicroCli(suite);
