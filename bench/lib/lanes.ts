/** @module Work over `count` items with at most `lanes` of them in flight, each lane taking the next item as it finishes one. */

/**
 * Runs `work(0)` … `work(count - 1)`, at most `lanes` at a time, in order of start. With `spreadMs`, item i starts no
 * sooner than i/count of that time after the first: spread evenly, as a fleet's terminals arrive, rather than at once.
 * `work` handles its own failures: one that throws rejects the whole run, the other lanes stopping at their next item.
 */
export async function inLanes(count: number, lanes: number, work: (index: number) => Promise<void>, spreadMs: number | null = null): Promise<void> {
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(lanes, count) }, async () => {
    while (next < count) {
      const i = next++;
      if (spreadMs !== null) {
        const wait = started + (spreadMs * i) / count - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      await work(i);
    }
  }));
}
