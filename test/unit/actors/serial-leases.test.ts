/**
 * @module Serial leases: one holder per bucket across threads, taken free by the thread a call reaches, and freed only
 * once the bucket's last actor is gone and what it wrote is on disk.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { FREE, HANDOFF_AFTER_MS, LEASE_BUCKETS, LeaseTable, ThreadLeases, bucketOf, createLeaseTable, type LeaseHooks } from '../../../src/actors/serial-leases.js';

/** Hooks that record what happened; `durable` resolves when the test says so, with the answer it gives. */
function recorder() {
  const claimed: string[] = [];
  const released: number[] = [];
  const writes: ((onDisk: boolean) => void)[] = [];
  const hooks: LeaseHooks = {
    claimed: (serial) => claimed.push(serial),
    released: (bucket) => released.push(bucket),
    durable: () => new Promise<boolean>((resolve) => writes.push(resolve)),
  };
  /** Settles every write asked for so far and lets the release callbacks run. */
  const settle = async (onDisk = true): Promise<void> => {
    for (const done of writes.splice(0)) done(onDisk);
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { hooks, claimed, released, writes, settle };
}

/** Two serials in one bucket, found by search (the hash is fixed, so the search is too). */
function sameBucketPair(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const serial = `PAIR-${i}`;
    const other = seen.get(bucketOf(serial));
    if (other !== undefined) return [other, serial];
    seen.set(bucketOf(serial), serial);
  }
}

/** Thread 0 of a fresh table, holding `serial`, whose one actor has just been evicted (its release waits on `a.settle`). */
function evictedOnThreadZero(serial: string) {
  const buffer = createLeaseTable();
  const a = recorder();
  const zero = new ThreadLeases(buffer, 0, a.hooks);
  zero.route(serial, true);
  zero.activated(serial);
  zero.evicted(serial);
  return { buffer, a, zero };
}

describe('serial leases', () => {
  it('are taken free by the first thread a call reaches, once, and the others see that holder', () => {
    const buffer = createLeaseTable();
    const a = recorder();
    const b = recorder();
    const zero = new ThreadLeases(buffer, 0, a.hooks);
    const one = new ThreadLeases(buffer, 1, b.hooks);
    expect(new LeaseTable(buffer).holder('T-1')).toBe(FREE);
    expect(zero.route('T-1', true)).toBe(0);
    expect(zero.route('T-1', true)).toBe(0);
    expect(a.claimed).toEqual(['T-1']);
    expect(one.route('T-1', true)).toBe(0);
    expect(b.claimed).toEqual([]);
    expect(new LeaseTable(buffer).holder('T-1')).toBe(0);
  });

  it("free a bucket only once its last actor is evicted and the write-behind says it is on disk", async () => {
    const buffer = createLeaseTable();
    const a = recorder();
    const zero = new ThreadLeases(buffer, 0, a.hooks);
    const one = new ThreadLeases(buffer, 1, recorder().hooks);
    const [first, second] = sameBucketPair();
    zero.route(first, true);
    zero.activated(first);
    zero.activated(second);
    zero.evicted(first);
    await a.settle();
    expect(one.route(second, true)).toBe(0);
    zero.evicted(second);
    // Evicted, not yet on disk: still held.
    expect(one.route(first, true)).toBe(0);
    await a.settle();
    expect(a.released).toEqual([bucketOf(first)]);
    expect(one.route(first, true)).toBe(1);
  });

  it('keep a bucket whose writes are not known to be on disk', async () => {
    const { buffer, a } = evictedOnThreadZero('T-2');
    await a.settle(false);
    expect(a.released).toEqual([]);
    expect(new LeaseTable(buffer).holder('T-2')).toBe(0);
  });

  it('do not complete a release that an activation overtook, even when the actor is gone again by then', async () => {
    const { a, zero } = evictedOnThreadZero('T-3');
    // A call comes back before the first write is on disk: its nonce goes into a later write.
    zero.activated('T-3');
    zero.evicted('T-3');
    expect(a.writes).toHaveLength(2);
    a.writes.shift()!(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(a.released).toEqual([]);
    await a.settle();
    expect(a.released).toEqual([bucketOf('T-3')]);
  });

  it('hand off a bucket whose calls have all come from other threads for a while', () => {
    let now = 10_000;
    const zero = new ThreadLeases(createLeaseTable(), 0, recorder().hooks, () => now);
    zero.route('T-4', true);
    expect(zero.shouldHandOff('T-4')).toBe(false);
    now += HANDOFF_AFTER_MS - 1;
    // A forwarded call does not count as local.
    zero.route('T-4', false);
    expect(zero.shouldHandOff('T-4')).toBe(false);
    now += 1;
    expect(zero.shouldHandOff('T-4')).toBe(true);
    zero.route('T-4', true);
    expect(zero.shouldHandOff('T-4')).toBe(false);
  });

  it("of a thread that died are all freed, and nobody else's", () => {
    const buffer = createLeaseTable();
    const zero = new ThreadLeases(buffer, 0, recorder().hooks);
    const one = new ThreadLeases(buffer, 1, recorder().hooks);
    const zeroHeld = Array.from({ length: 50 }, (_, i) => `Z-${i}`).filter((serial) => zero.route(serial, true) === 0);
    const oneHeld = Array.from({ length: 30 }, (_, i) => `O-${i}`).filter((serial) => one.route(serial, true) === 1);
    expect(zeroHeld.length).toBeGreaterThan(40);
    expect(new LeaseTable(buffer).releaseAll(0)).toBe(new Set(zeroHeld.map(bucketOf)).size);
    for (const serial of zeroHeld) expect(one.holder(serial)).toBe(FREE);
    for (const serial of oneHeld) expect(one.holder(serial)).toBe(1);
  });

  it('are counted per holder, free buckets and threads beyond the count left out', () => {
    const buffer = createLeaseTable();
    const zero = new ThreadLeases(buffer, 0, recorder().hooks);
    const one = new ThreadLeases(buffer, 1, recorder().hooks);
    const two = new ThreadLeases(buffer, 2, recorder().hooks);
    const held = (leases: ThreadLeases, prefix: string, n: number): number =>
      new Set(Array.from({ length: n }, (_, i) => `${prefix}-${i}`).filter((serial) => leases.route(serial, true) === leases.self).map(bucketOf)).size;
    const counts = [held(zero, 'Z', 40), held(one, 'O', 25), held(two, 'T', 10)];
    expect(counts[0]).toBeGreaterThan(30);
    expect(new LeaseTable(buffer).countByHolder(3)).toEqual(counts);
    expect(new LeaseTable(buffer).countByHolder(2)).toEqual(counts.slice(0, 2));
  });

  it('give every bucket exactly one holder when threads race for the same serials', async () => {
    const buffer = createLeaseTable();
    const serials = 20_000;
    // Each worker takes what it can of the same serials, all at once; the table must agree with what each was told.
    const source = `
      const { workerData, parentPort } = require('node:worker_threads');
      const slots = new Int32Array(workerData.buffer);
      const won = [];
      for (let i = 0; i < workerData.serials; i++) {
        const bucket = i % workerData.buckets;
        if (Atomics.compareExchange(slots, bucket, -1, workerData.self) === -1) won.push(bucket);
      }
      parentPort.postMessage(won);`;
    const race = (self: number) => new Promise<number[]>((resolve, reject) => {
      const worker = new Worker(source, { eval: true, workerData: { buffer, self, serials, buckets: LEASE_BUCKETS } });
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const [zero, one] = await Promise.all([race(0), race(1)]);
    expect(zero!.length + one!.length).toBe(serials);
    expect(new Set([...zero!, ...one!]).size).toBe(serials);
    const table = new LeaseTable(buffer);
    expect(table.releaseAll(0)).toBe(zero!.length);
    expect(table.releaseAll(1)).toBe(one!.length);
  });
});
