/**
 * @module A probe for the measured server: samples what each thread allocates while a trigger file exists.
 *
 *   BENCH_SERVER_NODE_ARGS='--import ./dist/bench/probes/heap-sample.js' HEAP_SAMPLE_TRIGGER=/tmp/hs npm run bench -- …
 *   touch /tmp/hs   # during the phase to look at (e.g. when "server at half peak" is printed)
 *   rm /tmp/hs      # before the phase ends: each thread writes its profile and prints its top allocation sites
 *
 * HEAP_SAMPLE_KEEP says which sampled objects count:
 *   all        every allocation, including what the next scavenge collects (the default)
 *   survivors  what outlived at least one scavenge, alive or not: what scavenges copy and promote, and what later
 *              needs a mark-compact (needs --expose-gc in BENCH_SERVER_NODE_ARGS, to end with a scavenge)
 *   live       only what is still alive after a full GC when sampling stops: what calls leave behind
 * Optimised code reports an allocation at the outermost function it was inlined into; add --no-turbo-inlining
 * (which slows the server) to see the function that really allocates. Profiles go to HEAP_SAMPLE_DIR (default
 * the temp dir) as `.heapprofile` files that Chrome DevTools opens. Measurement only; never loaded in production.
 */
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { isMainThread, threadId } from 'node:worker_threads';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const trigger = process.env.HEAP_SAMPLE_TRIGGER;
type Keep = 'all' | 'survivors' | 'live';
const keep = (process.env.HEAP_SAMPLE_KEEP ?? 'all') as Keep;
if (!['all', 'survivors', 'live'].includes(keep)) throw new Error(`HEAP_SAMPLE_KEEP must be all, survivors or live, not ${keep}`);
const outDir = process.env.HEAP_SAMPLE_DIR ?? os.tmpdir();
const label = isMainThread ? 'main' : `thread-${threadId}`;
const TOP = 15;

if (trigger) {
  const session = new Session();
  session.connect();
  let sampling = false;
  let busy = false;
  setInterval(() => {
    if (busy) return;
    const wanted = fs.existsSync(trigger);
    if (wanted === sampling) return;
    busy = true;
    (wanted ? start() : stop())
      .catch((err: unknown) => process.stderr.write(`[heap-sample ${label}] ${String(err)}\n`))
      .finally(() => (busy = false));
  }, 100).unref();

  const start = async (): Promise<void> => {
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 1024,
      includeObjectsCollectedByMajorGC: keep !== 'live',
      includeObjectsCollectedByMinorGC: keep === 'all',
    });
    sampling = true;
  };

  const stop = async (): Promise<void> => {
    // Collect first, or the garbage made since the last scavenge would count as surviving (or live).
    if (keep === 'live') await session.post('HeapProfiler.collectGarbage');
    if (keep === 'survivors') minorGc();
    const { profile } = await session.post('HeapProfiler.stopSampling');
    sampling = false;
    const file = path.join(outDir, `heap-${process.pid}-${label}.heapprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    process.stderr.write(`[heap-sample ${label}] ${keep} bytes by site, written to ${file}\n${topSites(profile.head as ProfileNode)}\n`);
  };
}

function minorGc(): void {
  const gc = (globalThis as { gc?: (options: { type: 'minor'; execution: 'sync' }) => void }).gc;
  if (!gc) throw new Error('HEAP_SAMPLE_KEEP=survivors needs --expose-gc');
  gc({ type: 'minor', execution: 'sync' });
}

/** Self sizes summed per allocation site (function and line), with the caller that allocated most there. */
function topSites(head: ProfileNode): string {
  const sites = new Map<string, { bytes: number; callers: Map<string, number> }>();
  const frame = (n: ProfileNode): string =>
    `${n.callFrame.functionName || '(anonymous)'} ${path.basename(n.callFrame.url) || '(native)'}:${n.callFrame.lineNumber + 1}`;
  const walk = (node: ProfileNode, parent: ProfileNode | null): void => {
    if (node.selfSize > 0) {
      const site = sites.get(frame(node)) ?? { bytes: 0, callers: new Map<string, number>() };
      site.bytes += node.selfSize;
      const caller = parent ? frame(parent) : '(root)';
      site.callers.set(caller, (site.callers.get(caller) ?? 0) + node.selfSize);
      sites.set(frame(node), site);
    }
    for (const child of node.children) walk(child, node);
  };
  walk(head, null);
  const total = [...sites.values()].reduce((sum, s) => sum + s.bytes, 0);
  return [...sites]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .slice(0, TOP)
    .map(([name, s]) => {
      const [caller] = [...s.callers].sort((a, b) => b[1] - a[1])[0]!;
      return `  ${(s.bytes / 1024).toFixed(0).padStart(7)} KiB ${((100 * s.bytes) / total).toFixed(1).padStart(5)}%  ${name}  ← ${caller}`;
    })
    .join('\n') + `\n  ${(total / 1024).toFixed(0).padStart(7)} KiB in all`;
}
