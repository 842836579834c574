/** @module The orchestrator's handle on the forked load generator: one command at a time, progress relayed, failures as errors. */
import { fork, type ChildProcess } from 'node:child_process';
import type { Command, EnduranceSample, GeneratorMessage } from './messages.js';
import { nodeArgsFrom } from './server-process.js';

const ENTRY = new URL('./load-generator.js', import.meta.url);

export class GeneratorProcess {
  private constructor(private readonly child: ChildProcess, private readonly onProgress: (text: string) => void) {}

  static start(onProgress: (text: string) => void): GeneratorProcess {
    // A larger heap: 10,000 TLS connections and ~100,000 pre-signed requests live here. A larger young generation:
    // each scavenge stalls the generator 4-8 ms with 10,000 sockets alive, and 64 MiB semi-spaces make them about
    // 4x rarer (the floor server's p99 at 2,300 calls/s went from 6.3 to 4.5 ms, p99.9 from 30 to 9 ms).
    // No allocation-site pretenuring: V8 took some short-lived reply objects for long-lived ones and allocated them in
    // the old generation, where, dead, they kept what they pointed to alive through every scavenge until the next
    // mark-compact. With it, 4-5 MB survived each scavenge and the generator's pauses in the open loop were 13-16 ms
    // (median; up to 27); without it, 0.05-0.7 MB and 5-6 ms (up to 8), in interleaved runs (bench/JOURNAL.md).
    // The young generation starts at its full size (--min-semi-space-size), so load-generator.ts can touch all of it
    // once before any measured phase instead of a growing space touching new pages in the first server's phases.
    // --expose-gc: load-phases.ts collects the generator's garbage before each measured slice, so that no GC pause of
    // the generator's stalls the replies of one. No memory reducer: it saw the generator idle in the pause before an
    // open-loop round and began a full GC that then paused the round (4.6 and 15 ms in one round, 0.9 and 11.8 in
    // another, `--trace-gc`: "Mark-Compact (reduce)"); the generator has memory to spare.
    // BENCH_GENERATOR_NODE_ARGS comes after these, so it can override them (e.g. '--trace-gc').
    const extra = nodeArgsFrom('BENCH_GENERATOR_NODE_ARGS');
    const execArgv = [
      '--max-old-space-size=4096', '--min-semi-space-size=64', '--max-semi-space-size=64', '--no-allocation-site-pretenuring',
      '--expose-gc', '--no-memory-reducer', ...extra,
    ];
    const child = fork(ENTRY, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new GeneratorProcess(child, onProgress);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Runs `command`; `onSample` hears the endurance run's samples as they come. */
  run<T>(command: Command, onSample?: (sample: EnduranceSample) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onMessage = (message: GeneratorMessage): void => {
        if (message.type === 'progress') {
          this.onProgress(message.text);
          return;
        }
        if (message.type === 'sample') {
          onSample?.(message.sample);
          return;
        }
        cleanup();
        if (message.type === 'done') resolve(message.result as T);
        else reject(new Error(`load generator: ${message.message}`));
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new Error(`the load generator exited (${code}) during ${command.type}`));
      };
      const cleanup = (): void => {
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send(command);
    });
  }

  stop(): void {
    if (this.child.connected) this.child.disconnect();
  }
}
