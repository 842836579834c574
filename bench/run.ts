/** @module `npm run bench`: openssl's figures, every micro benchmark (each in its own process), then the fleet benchmark; writes bench/results.json and bench/RESULTS.md. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runFleet, type FleetOptions, type FleetResult } from './fleet/fleet.js';
import { ROOT } from './fleet/server-process.js';
import { describeMachine, formatMachine } from './lib/machine.js';
import type { MicroResult } from './lib/micro-runner.js';
import { ALL_PRIMITIVES, measureOpenssl, type OpensslSpeed } from './lib/openssl-speed.js';
import { evaluateTargets, markdown, type RunResults } from './lib/report.js';
import { UsageError, parseOptions, wholeOption } from './lib/usage.js';

const MICRO = ['fingerprint', 'signature-verify', 'master-call', 'http-layer', 'pairing-code', 'lmdb-lookup', 'nonce-ring', 'actor-hop', 'thread-hop', 'pool-round-trip', 'refusal-log', 'cash-tally'] as const;

const HELP = `npm run bench -- [options]

Runs openssl speed, the micro benchmarks, then the fleet: the server, the node:https baseline and two floors
(uWebSockets.js + TLS, and the baseline's own node:https, each answering without any check) get the same
pre-signed calls. The server and the baseline run side by side, each driven by its own load-generator
process, and take turns at the peak; each one's checks cost its CPU per call less its floor's.

  --terminals N      terminals to register and pair                       default 10000
  --active N         of those, RSA-2048 terminals that call master        default min(terminals, 10000)
  --warmup-calls N   signed calls of a closed-loop phase before the peak,   default 30000
                     not measured, so the peak meets compiled code (0: none)
  --peak-calls N     signed calls in the peak phase (closed loop)          default 60000
  --peak-slices N    the server's and the baseline's peaks alternate in     default 6
                     N slices each, so both are measured in the same minute
  --steady-calls N   signed calls in each round at half the peak rate     default 10000
  --steady-rounds N  open-loop rounds at that rate, each after a 2 s pause default 3
                     (the p99 target is judged on the median round's p99)
  --steady-rate N    the server's (and the floor's) open-loop rate, calls/s, default half the server's peak
                     to compare two builds at one rate; the target is judged
                     only when N is at least half the peak
  --write-calls N    signed cash events for the server, then the baseline, default 20000
                     each after its rounds, closed loop, after one per
                     terminal not measured; answered once durable (0: none)
  --seconds S        longest duration of each measured fleet phase        default 60
  --concurrency N    calls in flight in the peak phase                    default 128
  --rsa-keys N       distinct RSA keys shared by the active terminals     default 256
  --pair-concurrency N  terminals pairing at the same time                default 128
  --reuse-fleet      reuse the fleet an earlier run paired with the same --terminals/--active/--rsa-keys
                     (skips pairing; its pairing figures are reported as reused)
  --threads N        server threads (passed when the server has --threads) default: cores
  --micro-time MS    time per micro-benchmark task                        default 1000
  --micro LIST       only these micro benchmarks (comma separated: ${MICRO.join(', ')})
  --skip-micro, --skip-fleet
  --openssl-seconds S  per openssl speed measurement                      default 2
  --out DIR          where results.json and RESULTS.md go                 default bench/
  --cache-dir DIR    generated identities and paired fleets               default bench/.cache/

Environment: BENCH_SERVER_NODE_ARGS   Node flags for the measured server process only (not the baseline or floor),
             e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof' to profile it under the fleet's load, or
             '--import ./dist/bench/probes/loop-probe.js' for GC pauses and loop lag per thread
             BENCH_BASELINE_NODE_ARGS  the same for the node:https baseline and its floor, e.g. to profile them
                                       ('--perf-basic-prof' for perf record -p PID: bench/JOURNAL.md, session 27)
             BENCH_SERVER_OUTPUT=FILE  the output of the server, baseline and floor is appended there too
             LOOP_PROBE_PAUSES_MS=N    with the loop probe: also print every GC pause of N ms or more, with its time
             BENCH_LATENCY_TIMELINE=FILE  every measured call (phase, when it was due, its latency) and the
                                       generator's GC pauses are appended there: is a p99 one stall or many?
             BENCH_GENERATOR_NODE_ARGS  Node flags for the load generator, after its defaults
                                       (--max-old-space-size=4096 --min-semi-space-size=64
                                       --max-semi-space-size=64 --no-allocation-site-pretenuring
                                       --expose-gc --no-memory-reducer),
                                       e.g. '--trace-gc'

Examples:
  npm run bench                                   # the default run, ~6-10 min on 2 cores
  npm run bench -- --skip-micro --terminals 1000 --peak-calls 20000
  npm run bench -- --terminals 100000 --active 10000   # the 100,000-terminal scale (pairing takes a while)
  npm run bench -- --terminals 100000 --reuse-fleet --skip-micro   # again, on the fleet paired above`;

function runMicro(id: string, timeMs: number, opensslFile: string, tmp: string): Promise<MicroResult> {
  const out = path.join(tmp, `${id}.json`);
  const script = path.join(ROOT, 'dist', 'bench', `${id}.bench.js`);
  return new Promise((resolve, reject) => {
    // One process per question: JIT state, heap and threads of one benchmark do not leak into the next.
    const child = spawn(process.execPath, [script, '--time', String(timeMs), '--openssl', opensslFile, '--json', out], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${id}.bench exited with ${code}`));
      resolve(JSON.parse(fs.readFileSync(out, 'utf8')) as MicroResult);
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseOptions({
    options: {
      terminals: { type: 'string', default: '10000' },
      active: { type: 'string' },
      'warmup-calls': { type: 'string', default: '30000' },
      'peak-calls': { type: 'string', default: '60000' },
      'peak-slices': { type: 'string', default: '6' },
      'steady-calls': { type: 'string', default: '10000' },
      'steady-rounds': { type: 'string', default: '3' },
      'steady-rate': { type: 'string' },
      'write-calls': { type: 'string', default: '20000' },
      seconds: { type: 'string', default: '60' },
      concurrency: { type: 'string', default: '128' },
      'rsa-keys': { type: 'string', default: '256' },
      'pair-concurrency': { type: 'string', default: '128' },
      'reuse-fleet': { type: 'boolean', default: false },
      threads: { type: 'string' },
      'micro-time': { type: 'string', default: '1000' },
      micro: { type: 'string' },
      'skip-micro': { type: 'boolean', default: false },
      'skip-fleet': { type: 'boolean', default: false },
      'openssl-seconds': { type: 'string', default: '2' },
      out: { type: 'string', default: path.join(ROOT, 'bench') },
      'cache-dir': { type: 'string', default: path.join(ROOT, 'bench', '.cache') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return;
  }
  // Every option is checked before the first measurement: a typo must not wait for openssl and the micro benchmarks.
  const opensslSeconds = wholeOption('openssl-seconds', values['openssl-seconds']);
  const microTime = wholeOption('micro-time', values['micro-time']);
  const microOnly = values['skip-micro'] ? [] : values.micro ? values.micro.split(',').map((s) => s.trim()) : [...MICRO];
  for (const id of microOnly) if (!(MICRO as readonly string[]).includes(id)) throw new UsageError(`unknown micro benchmark "${id}" (there are: ${MICRO.join(', ')})`);
  const cacheDir = path.resolve(values['cache-dir']);
  const terminals = wholeOption('terminals', values.terminals);
  const fleetOptions: FleetOptions | null = values['skip-fleet'] ? null : {
    terminals,
    active: values.active ? wholeOption('active', values.active) : Math.min(terminals, 10_000),
    rsaKeys: wholeOption('rsa-keys', values['rsa-keys']),
    warmupCalls: wholeOption('warmup-calls', values['warmup-calls'], 0),
    peakCalls: wholeOption('peak-calls', values['peak-calls']),
    peakSlices: wholeOption('peak-slices', values['peak-slices']),
    steadyCalls: wholeOption('steady-calls', values['steady-calls']),
    steadyRounds: wholeOption('steady-rounds', values['steady-rounds']),
    steadyRate: values['steady-rate'] ? wholeOption('steady-rate', values['steady-rate']) : null,
    writeCalls: wholeOption('write-calls', values['write-calls'], 0),
    seconds: wholeOption('seconds', values.seconds),
    concurrency: wholeOption('concurrency', values.concurrency),
    threads: values.threads ? wholeOption('threads', values.threads) : null,
    pairConcurrency: wholeOption('pair-concurrency', values['pair-concurrency']),
    reuseFleet: values['reuse-fleet'],
    cacheDir,
  };

  const started = Date.now();
  const machine = describeMachine();
  process.stdout.write(`machine: ${formatMachine(machine)}\n`);
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-run-'));

  let openssl: OpensslSpeed | null = null;
  try {
    process.stdout.write(`openssl speed -seconds ${opensslSeconds}: rsa2048 ecdsap256 ed25519 sha256 hmac(sha256)…\n`);
    openssl = await measureOpenssl(ALL_PRIMITIVES, opensslSeconds);
  } catch (error) {
    process.stderr.write(`openssl speed failed, results will have no physical-limit column: ${(error as Error).message}\n`);
  }
  const opensslFile = path.join(tmp, 'openssl.json');
  fs.writeFileSync(opensslFile, JSON.stringify(openssl));

  const micro: MicroResult[] = [];
  for (const id of microOnly) micro.push(await runMicro(id, microTime, opensslFile, tmp));

  const fleet: FleetResult | null = fleetOptions ? await runFleet(fleetOptions) : null;

  // The host may be shared: the same openssl figure after the fleet as before it shows how far its speed moved meanwhile.
  let opensslAfter: OpensslSpeed | null = null;
  if (fleet && openssl?.rsa2048) {
    try {
      process.stdout.write(`openssl speed -seconds ${openssl.seconds} rsa2048 again: did the host's speed move during the fleet?\n`);
      opensslAfter = await measureOpenssl(['rsa2048'], openssl.seconds);
    } catch (error) {
      process.stderr.write(`openssl speed after the fleet failed, the report will not say how the host's speed moved: ${(error as Error).message}\n`);
    }
  }

  const results: RunResults = {
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    startedAt: new Date(started).toISOString(),
    minutes: (Date.now() - started) / 60_000,
    machine, openssl, opensslAfter, micro, fleet,
    targets: evaluateTargets(fleet, openssl),
  };
  fs.mkdirSync(values.out, { recursive: true });
  fs.writeFileSync(path.join(values.out, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  const report = markdown(results);
  fs.writeFileSync(path.join(values.out, 'RESULTS.md'), report);
  fs.rmSync(tmp, { recursive: true, force: true });
  process.stdout.write(`\n${report}\nwritten: ${path.join(values.out, 'results.json')}, ${path.join(values.out, 'RESULTS.md')}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`npm run bench: ${error.message} (see --help)\n`);
    process.exit(2);
  }
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
