/**
 * @module `npm run bench:endurance`: hours of a fleet's day in one run. Waves of terminals connect, call master at a
 * steady rate with calls signed live, and leave, one wave after another through the whole paired fleet; every sample
 * the server's memory (its own, and with the mapped store's pages) and its actors are read beside the calls' latency.
 * It shows what the fleet benchmark's minute-long phases cannot: that actors of terminals gone quiet are evicted, and
 * whether memory creeps over a long run. Writes endurance.json and ENDURANCE.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FrontReport } from '../src/protocol/types.js';
import { ensureIdentities, type IdentityPlan } from './fleet/identities.js';
import { freePorts } from './fleet/fleet.js';
import { prepareFleet } from './fleet/fleet-setup.js';
import { GeneratorProcess } from './fleet/generator-process.js';
import type { EnduranceLoadReport, EnduranceSample } from './fleet/messages.js';
import { ROOT, SERVER_CLI, serverNodeArgs, startProcess } from './fleet/server-process.js';
import { ensureObserver, StatusReader } from './fleet/server-status.js';
import { analyse, enduranceMarkdown, summaryLines, type EnduranceResults, type EnduranceRow, type EnduranceSettings } from './lib/endurance-report.js';
import { describeMachine, formatMachine } from './lib/machine.js';
import { cpuBetween, ownBytes, sampleProcess, type ProcSample } from './lib/proc-stats.js';
import { Progress } from './lib/progress.js';
import { UsageError, parseOptions, wholeOption } from './lib/usage.js';

/** uWebSockets.js closes a connection idle for 10 s (checked every 4 s): each terminal of a wave must call more often. */
const MOST_SECONDS_BETWEEN_CALLS = 6;
/**
 * A wave's calls are signed during the wave before it and sent during its own: 2 waves old at most, inside the server's
 * ±300 s window for `created` (its default --clock-skew) with room to spare.
 */
const MOST_WAVE_SECONDS = 120;

const HELP = `npm run bench:endurance -- [options]

A long run at a steady rate: waves of terminals connect, call master (signed pings, signed live on the load
generator's worker threads) and disconnect, one wave after another through the whole paired fleet. Every sample
it reads the server's memory (its own, RSS less the mapped store's pages, and RSS) and its actors in memory
beside the calls' latency, and ends with the actors' bound and the memory's trend. It reuses the fleet that
\`npm run bench\` paired with the same --terminals/--active/--rsa-keys, or pairs one first.

  --seconds S        how long the terminals call                          default 600
  --rate N           signed master calls a second, open loop              default 1000
  --wave N           terminals calling at a time                           default 1000
  --wave-seconds S   how long each wave calls before the next one          default 30 (at most ${MOST_WAVE_SECONDS})
  --actor-idle S     the server's --actor-idle: an idle actor leaves after default 60 (the server's)
  --sample-seconds S a sample every S seconds                             default: 10, or the run / 60 when longer
  --terminals N      the paired fleet (as npm run bench)                  default 10000
  --active N         of those, RSA-2048 terminals (the rest P-256)        default min(terminals, 10000)
  --rsa-keys N       distinct RSA keys among them                          default 256
  --threads N        server threads                                        default: cores
  --sign-threads N   the load generator's signing threads                 default 1
  --out DIR          where endurance.json and ENDURANCE.md go              default bench/
  --cache-dir DIR    generated identities and paired fleets               default bench/.cache/

Each terminal of a wave must call at least every ${MOST_SECONDS_BETWEEN_CALLS} s (--wave ÷ --rate), or the server closes its idle connection.
Environment: BENCH_SERVER_NODE_ARGS   Node flags for the server, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'

Examples:
  npm run bench:endurance                                         # 10 minutes on the default fleet
  npm run bench:endurance -- --seconds 7200 --terminals 100000    # two hours through 100,000 terminals
  npm run bench:endurance -- --seconds 300 --actor-idle 10        # eviction visible within minutes`;

interface Options extends EnduranceSettings {
  active: number;
  rsaKeys: number;
  out: string;
  cacheDir: string;
}

function parse(): Options | null {
  const { values } = parseOptions({
    options: {
      seconds: { type: 'string', default: '600' },
      rate: { type: 'string', default: '1000' },
      wave: { type: 'string', default: '1000' },
      'wave-seconds': { type: 'string', default: '30' },
      'actor-idle': { type: 'string', default: '60' },
      'sample-seconds': { type: 'string' },
      terminals: { type: 'string', default: '10000' },
      active: { type: 'string' },
      'rsa-keys': { type: 'string', default: '256' },
      threads: { type: 'string' },
      'sign-threads': { type: 'string', default: '1' },
      out: { type: 'string', default: path.join(ROOT, 'bench') },
      'cache-dir': { type: 'string', default: path.join(ROOT, 'bench', '.cache') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return null;
  const seconds = wholeOption('seconds', values.seconds);
  const terminals = wholeOption('terminals', values.terminals);
  const options: Options = {
    seconds, terminals,
    rate: wholeOption('rate', values.rate),
    waveSize: Math.min(terminals, wholeOption('wave', values.wave)),
    waveSeconds: wholeOption('wave-seconds', values['wave-seconds']),
    actorIdleSec: wholeOption('actor-idle', values['actor-idle']),
    sampleSeconds: values['sample-seconds'] ? wholeOption('sample-seconds', values['sample-seconds']) : Math.max(10, Math.ceil(seconds / 60)),
    active: values.active ? wholeOption('active', values.active) : Math.min(terminals, 10_000),
    rsaKeys: wholeOption('rsa-keys', values['rsa-keys']),
    threads: values.threads ? wholeOption('threads', values.threads) : os.cpus().length,
    signThreads: wholeOption('sign-threads', values['sign-threads']),
    out: path.resolve(values.out),
    cacheDir: path.resolve(values['cache-dir']),
  };
  if (options.active > terminals) throw new UsageError(`--active (${options.active}) cannot exceed --terminals (${terminals})`);
  if (options.waveSeconds > MOST_WAVE_SECONDS) {
    throw new UsageError(`--wave-seconds ${options.waveSeconds}: at most ${MOST_WAVE_SECONDS}; a wave's calls are signed during the wave before it and must reach the server within its ±300 s window`);
  }
  const between = options.waveSize / options.rate;
  if (between > MOST_SECONDS_BETWEEN_CALLS) {
    throw new UsageError(`each terminal of a wave would call every ${between.toFixed(1)} s (--wave ${options.waveSize} ÷ --rate ${options.rate}): the server closes a connection idle for 10 s; `
      + `keep it at most ${MOST_SECONDS_BETWEEN_CALLS} s with a higher --rate or a smaller --wave`);
  }
  return options;
}

async function main(): Promise<void> {
  const opts = parse();
  if (!opts) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const progress = new Progress();
  const machine = describeMachine();
  process.stdout.write(`machine: ${formatMachine(machine)}\n`);
  const plan: IdentityPlan = { cacheDir: path.join(opts.cacheDir, 'identities'), rsa: opts.active, ec: opts.terminals - opts.active, rsaKeys: opts.rsaKeys };
  fs.mkdirSync(opts.cacheDir, { recursive: true });
  await ensureIdentities(plan, os.cpus().length, (t) => progress.update(t));
  progress.done(`identities: ${plan.rsa} RSA-2048 + ${plan.ec} P-256 terminals ready`);

  const [gate, master, admin] = await freePorts(3) as [number, number, number];
  // Pairing a fleet from one machine is far above the gate's internet-facing global budget; each terminal has its own address.
  const serverArgs = (dataDir: string): string[] => [
    '--data-dir', dataDir, '--host', '127.0.0.1', '--gate-port', String(gate), '--master-port', String(master), '--admin-port', String(admin),
    '--threads', String(opts.threads), '--gate-global-rate', '1000000', '--actor-idle', String(opts.actorIdleSec),
  ];
  const gen = GeneratorProcess.start((t) => progress.update(t));
  try {
    const fleet = await prepareFleet({ plan, cacheDir: opts.cacheDir, reuse: true, pairConcurrency: 128, serverArgs, ports: { gate, admin }, gen, progress });
    await ensureObserver(fleet.dataDir);
    const server = await startProcess(SERVER_CLI, serverArgs(fleet.dataDir), serverNodeArgs());
    // Interrupted, the run stops its server, which would otherwise hold the fleet's data dir, then dies of the signal.
    // The generator exits by itself when this process goes.
    const onSignal = (signal: NodeJS.Signals): void => {
      server.terminate();
      process.kill(process.pid, signal);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const started = new Date();
    let load: EnduranceLoadReport;
    const rows: EnduranceRow[] = [];
    try {
      const status = await StatusReader.connect(admin, String(server.ready.sfp));
      let last: ProcSample = sampleProcess(server.pid);
      // Samples arrive in order, one per interval; each reads the server as the interval ends.
      let reading = Promise.resolve();
      const onSample = (sample: EnduranceSample): void => {
        const proc = sampleProcess(server.pid);
        const serverCores = cpuBetween(last, proc).cores;
        last = proc;
        reading = reading.then(async () => {
          const fronts = await status.read().then((s) => s.threads.flatMap((t) => (t.report ? [t.report] : [])), () => null);
          const total = (of: (front: FrontReport) => number): number | null => (fronts ? fronts.reduce((n, front) => n + of(front), 0) : null);
          const row: EnduranceRow = {
            ...sample, serverCores, rssBytes: proc.rssBytes, rssOwnBytes: ownBytes(proc), actors: total((f) => f.actors),
            heapUsedBytes: total((f) => f.heapUsedBytes), trackedAddresses: total((f) => f.trackedAddresses), cachedKeys: total((f) => f.cachedKeys),
            serverLagMaxMs: fronts && fronts.length > 0 ? Math.max(...fronts.map((f) => f.lagMaxMs)) : null,
          };
          rows.push(row);
          const failed = Object.values(sample.failures).reduce((a, b) => a + b, 0);
          progress.done(`${row.elapsedSec.toFixed(0)}/${opts.seconds} s, wave ${row.wave + 1}: ${(sample.ok / sample.seconds).toFixed(0)} calls/s, `
            + `p99 ${sample.latency.p99Ms.toFixed(2)} ms (first calls ${sample.firstCalls.count > 0 ? sample.firstCalls.p99Ms.toFixed(2) : '–'}, the others ${sample.laterCalls.p99Ms.toFixed(2)}), ${failed} failed; server ${serverCores.toFixed(2)} cores, longest lag ${row.serverLagMaxMs ?? '–'} ms, `
            + `${(row.rssOwnBytes / 2 ** 20).toFixed(0)} MiB own (RSS ${(row.rssBytes / 2 ** 20).toFixed(0)}), ${row.actors ?? '–'} actors; generator ${sample.generatorCores.toFixed(2)} cores, loop delay p99 ${sample.generatorLoopDelayP99Ms.toFixed(1)} / max ${sample.generatorLoopDelayMaxMs.toFixed(1)} ms, GC pause max ${sample.generatorGcPauseMaxMs.toFixed(1)} ms`);
        });
      };
      load = await gen.run<EnduranceLoadReport>({
        type: 'endure',
        spec: { plan, host: '127.0.0.1', port: master, rate: opts.rate, waveSize: opts.waveSize, waveSeconds: opts.waveSeconds, seconds: opts.seconds, sampleSeconds: opts.sampleSeconds, signThreads: opts.signThreads },
      }, onSample);
      await reading;
      await status.close();
    } finally {
      await server.stop();
    }
    const settings: EnduranceSettings = {
      terminals: opts.terminals, rate: opts.rate, waveSize: opts.waveSize, waveSeconds: opts.waveSeconds, seconds: opts.seconds,
      sampleSeconds: opts.sampleSeconds, actorIdleSec: opts.actorIdleSec, threads: opts.threads, signThreads: opts.signThreads,
    };
    const results: EnduranceResults = {
      when: started.toISOString(), machine,
      command: ['npm run bench:endurance', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
      settings, load, rows, analysis: analyse(settings, rows),
    };
    fs.mkdirSync(opts.out, { recursive: true });
    fs.writeFileSync(path.join(opts.out, 'endurance.json'), JSON.stringify(results, null, 2) + '\n');
    fs.writeFileSync(path.join(opts.out, 'ENDURANCE.md'), enduranceMarkdown(results));
    process.stdout.write(`\n${summaryLines(results).join('\n')}\n\nwritten: ${path.join(opts.out, 'endurance.json')}, ${path.join(opts.out, 'ENDURANCE.md')}\n`);
  } finally {
    gen.stop();
  }
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`npm run bench:endurance: ${error.message} (see --help)\n`);
    process.exit(2);
  }
  process.stderr.write(`endurance run failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
