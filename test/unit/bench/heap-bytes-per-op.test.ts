/** @module The micro benchmarks' count of heap bytes allocated per operation, against allocations of a known size. */
import { describe, expect, it } from 'vitest';
import { heapBytesPerOp } from '../../../bench/lib/micro-runner.js';

/** Where each call's allocation goes, so that the compiler cannot drop it. */
let kept: unknown = null;
/** A JSArray of 100 small integers: a 16-byte header and 8 bytes per element for its backing store, 32 for itself. */
const array = (): void => {
  kept = new Array(100).fill(0);
};

describe('heapBytesPerOp', () => {
  it('counts an array of 100 elements as the 850 bytes or so it takes, across the scavenges it causes', async () => {
    // 200,000 arrays are about 170 MB: many scavenges happen inside the count.
    const bytes = await heapBytesPerOp({ name: 'array', fn: array }, 0.000_001, 200);
    expect(bytes).toBeGreaterThan(800);
    expect(bytes).toBeLessThan(900);
    expect(kept).toHaveLength(100);
  });

  it('counts nothing for a call that allocates nothing', async () => {
    let sum = 0;
    const bytes = await heapBytesPerOp({ name: 'add', fn: () => (sum += 1) }, 0.000_001, 100);
    expect(bytes).toBeLessThan(8);
    expect(sum).toBeGreaterThan(0);
  });

  it('does not count the promise the loop awaits for an asynchronous task, nor the loop for a batch of operations', async () => {
    const bytes = await heapBytesPerOp({ name: 'async array', fn: async () => array(), async: true }, 0.000_01, 200);
    // The async function's own promise is the task's: a few dozen bytes above the array.
    expect(bytes).toBeGreaterThan(800);
    expect(bytes).toBeLessThan(1000);
    const perOp = await heapBytesPerOp({ name: 'two arrays', fn: () => { array(); array(); }, ops: 2 }, 0.000_001, 200);
    expect(perOp).toBeGreaterThan(800);
    expect(perOp).toBeLessThan(900);
  });
});
