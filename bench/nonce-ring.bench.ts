/**
 * @module Micro benchmark: what recording the nonces of half a second of calls costs LMDB, with the ring's keys in
 * time order (src/store/nonce-ring.ts) against (serial, nonce) keys, as the ring kept them before; and what the
 * pruner's question "does this slot hold nonces?" costs on a full slot, asked of the B-tree's count
 * (src/store/entry-count.ts) against lmdb-js's `getKeysCount({ limit: 1 })`, which counts every key.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { entryCount } from '../src/store/entry-count.js';
import { NONCE_RING_SLOTS, NonceRing, slotIndex, slotName } from '../src/store/nonce-ring.js';
import { runMicroCli, type MicroSuite, type MicroTask } from './lib/micro-runner.js';
import { reference } from './lib/openssl-speed.js';

const TERMINALS = 10_000;
/** Nonces stored before timing: a server at 16,000 calls/s holds millions, a test run wants a few seconds of setup. */
const STORED = Number(process.env.BENCH_NONCE_RING_STORED ?? 500_000);
/** One front thread's write-behind flush at the fleet's peak: half a second of about 8,000 calls/s. */
const FLUSH = 4_000;
/** Calls a second: `created` moves on by a second every this many nonces. */
const RATE = 16_000;
const SEP = '\u0000';

const serials = Array.from({ length: TERMINALS }, (_, i) => `ATM-${String(i).padStart(6, '0')}`);

/** A store of its own for each layout, synced to memory only: what is timed is LMDB's work, not the disk's. */
interface Layout {
  root: RootDatabase;
  dir: string;
  put(serial: string, nonce: string, createdSec: number): Promise<boolean>;
}

function layoutStore(name: string): { root: RootDatabase; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-nonce-ring-${name}-`));
  return { dir, root: open({ path: dir, maxDbs: 64, compression: false, noSync: true }) };
}

function timeFirst(): Layout {
  const { root, dir } = layoutStore('time');
  const ring = new NonceRing(root);
  return { root, dir, put: (serial, nonce, created) => ring.put(serial, nonce, created, created + 301) };
}

/** The alternative: the same slots, keyed (serial, nonce) as the ring was until session 18. */
function serialFirst(): Layout {
  const { root, dir } = layoutStore('serial');
  const slots: Database<number, string>[] = Array.from({ length: NONCE_RING_SLOTS }, (_, i) => root.openDB({ name: slotName(i) }));
  return { root, dir, put: (serial, nonce, created) => slots[slotIndex(created)]!.put(serial + SEP + nonce, created + 301) };
}

/** Writes nonces for the fleet's serials in turn, a second of `created` per RATE of them, and flushes every `each`. */
function writer(layout: Layout): (count: number, each: number) => Promise<void> {
  let n = 0;
  let created = 1_800_000_000;
  // Unique, nonce-sized and cheap: a random stem per writer and a counter.
  const stem = Math.random().toString(36).slice(2, 12);
  return async (count, each) => {
    let last: Promise<boolean> = Promise.resolve(true);
    for (let i = 0; i < count; i++) {
      if (++n % RATE === 0) created++;
      last = layout.put(serials[n % TERMINALS]!, stem + n.toString(36), created);
      if ((i + 1) % each === 0) await last;
    }
    await last;
    await layout.root.flushed;
  };
}

const layouts: Layout[] = [];

export const suite: MicroSuite = {
  id: 'nonce-ring',
  question: `What does recording one nonce cost LMDB, in a flush of ${FLUSH.toLocaleString('en-US')} for ${TERMINALS.toLocaleString('en-US')} terminals with ${STORED.toLocaleString('en-US')} stored?`,
  openssl: ['rsa2048'],
  notes: [
    'ratio = operations per verify: N means one nonce (or one question) costs 1/N of an RSA-2048 verify (openssl).',
    `Each task puts ${FLUSH.toLocaleString('en-US')} nonces, one per terminal in turn, and waits for their commit, as a front thread's write-behind does every half second; ns/op is per nonce, mostly lmdb's writer thread, with no fsync (noSync).`,
    `Each layout has a store of its own, filled first with ${STORED.toLocaleString('en-US')} nonces (BENCH_NONCE_RING_STORED), which grows as the task runs.`,
    'The two "does the slot hold nonces?" rows ask it of the ring\'s fullest slot (its pages in memory, as on a server that just wrote them; on one that did not, each page the count walks is read from disk too): once a minute per slot behind the window on the pruning thread.',
  ],
  async setup(): Promise<MicroTask[]> {
    const tasks: MicroTask[] = [];
    for (const [name, make] of [
      ['NonceRing.put (src: created, serial, nonce)', timeFirst],
      ['(serial, nonce) keys, as the ring kept them before', serialFirst],
    ] as const) {
      const layout = make();
      layouts.push(layout);
      const write = writer(layout);
      await write(STORED, 50_000);
      tasks.push({ name: `${name}: a flush committed`, async: true, ops: FLUSH, fn: () => write(FLUSH, FLUSH), reference: (o) => reference(o, 'rsa2048.verify') });
    }
    const time = layouts[0]!;
    const slots = Array.from({ length: NONCE_RING_SLOTS }, (_, i) => time.root.openDB<number, string>({ name: slotName(i) }));
    const fullest = slots.reduce((a, b) => (entryCount(b) > entryCount(a) ? b : a));
    // Counted at setup: the flushes timed before these rows add to it.
    const held = `≥ ${entryCount(fullest).toLocaleString('en-US')}`;
    tasks.push(
      { name: `does a slot of ${held} hold nonces? entryCount (src: the B-tree's count)`, fn: () => entryCount(fullest) > 0, reference: (o) => reference(o, 'rsa2048.verify') },
      { name: `does a slot of ${held} hold nonces? getKeysCount({ limit: 1 }) (before: counts them all)`, fn: () => fullest.getKeysCount({ limit: 1 }) > 0, reference: (o) => reference(o, 'rsa2048.verify') },
    );
    return tasks;
  },
  async teardown() {
    for (const { root, dir } of layouts) {
      await root.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

await runMicroCli(suite);
