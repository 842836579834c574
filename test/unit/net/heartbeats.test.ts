/** @module Unit tests: the front threads' shared heartbeat, read across a real worker thread. */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Heartbeats, SILENT_AFTER_MS, monotonicMs } from '../../../src/net/heartbeats.js';

/** The compiled module: a worker thread loads JavaScript (npm test compiles first). */
const COMPILED = new URL('../../../dist/src/net/heartbeats.js', import.meta.url).href;

describe('Heartbeats', () => {
  it('reads a stamp another thread wrote as fresh: one buffer, one clock', async () => {
    const beats = Heartbeats.create(2);
    const worker = new Worker(
      `import('${COMPILED}').then(({ Heartbeats }) => { new Heartbeats(require('node:worker_threads').workerData).beat(1); process.exit(0); });`,
      { eval: true, workerData: beats.buffer },
    );
    await new Promise((resolve) => worker.once('exit', resolve));
    expect(beats.silentFor(1)).toBeGreaterThanOrEqual(0);
    expect(beats.silentFor(1)).toBeLessThan(SILENT_AFTER_MS);
    expect(beats.isSilent(1)).toBe(false);
    // Slot 0 was never stamped: silent since the clock's origin.
    expect(beats.isSilent(0)).toBe(true);
  });

  it('counts a thread silent only after SILENT_AFTER_MS without a beat', () => {
    const beats = Heartbeats.create(1);
    const at = monotonicMs();
    beats.beat(0, at);
    expect(beats.isSilent(0, at + SILENT_AFTER_MS)).toBe(false);
    expect(beats.isSilent(0, at + SILENT_AFTER_MS + 1)).toBe(true);
    beats.beat(0, at + SILENT_AFTER_MS + 1);
    expect(beats.silentFor(0, at + SILENT_AFTER_MS + 1)).toBe(0);
  });
});
