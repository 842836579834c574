/**
 * @module Reads a latency timeline (BENCH_LATENCY_TIMELINE) and, optionally, the loop probe's GC pause lines
 * (LOOP_PROBE_PAUSES_MS, in BENCH_SERVER_OUTPUT), and prints one phase in 100 ms steps: calls due, how many took
 * over the threshold, the slowest, and the GC pauses of the server's threads and the generator in that step.
 *
 *   node dist/bench/probes/timeline.js /tmp/timeline.tsv "server at half" [/tmp/server.log] [--over 5]
 *
 * Measurement only: it explains a p99 (one long stall, or a pause every few hundred calls) but is not part of a run.
 */
import fs from 'node:fs';

const STEP_MS = 100;

interface Call { at: number; ms: number }
interface Pause { at: number; ms: number; who: string }

function main(argv: string[]): void {
  const overAt = argv.indexOf('--over');
  const overMs = overAt >= 0 ? Number(argv[overAt + 1]) : 5;
  const [timelineFile, phasePrefix, probeFile] = overAt >= 0 ? [...argv.slice(0, overAt), ...argv.slice(overAt + 2)] : argv;
  if (!timelineFile || !phasePrefix || !Number.isFinite(overMs)) {
    process.stderr.write('usage: node dist/bench/probes/timeline.js TIMELINE.tsv "PHASE NAME PREFIX" [SERVER_OUTPUT.log] [--over MS]\n');
    process.exit(2);
  }

  const calls = new Map<string, Call[]>();
  const generatorPauses = new Map<string, Pause[]>();
  const startedAt = new Map<string, number>();
  for (const line of fs.readFileSync(timelineFile, 'utf8').split('\n')) {
    const [name, a, b] = line.split('\t');
    if (name === undefined || a === undefined || b === undefined) continue;
    if (name.endsWith(' generator gc')) push(generatorPauses, name.slice(0, -' generator gc'.length), { at: Number(a), ms: Number(b), who: 'generator' });
    else if (name.endsWith(' started at epoch ms')) startedAt.set(name.slice(0, -' started at epoch ms'.length), Number(a));
    else push(calls, name, { at: Number(a), ms: Number(b) });
  }
  const phase = [...calls.keys()].find((name) => name.startsWith(phasePrefix));
  if (!phase) {
    process.stderr.write(`no phase starts with "${phasePrefix}"; the timeline has: ${[...calls.keys()].join('; ')}\n`);
    process.exit(2);
  }

  const pauses = [...(generatorPauses.get(phase) ?? [])];
  const epoch = startedAt.get(phase);
  if (probeFile && epoch !== undefined) {
    const pattern = /\[probe (.*?)\] gc (\S+) at epoch ms ([\d.]+) took ([\d.]+) ms/;
    for (const line of fs.readFileSync(probeFile, 'utf8').split('\n')) {
      const m = pattern.exec(line);
      if (m) pauses.push({ at: Number(m[3]) - epoch, ms: Number(m[4]), who: `${m[1]} ${m[2]}` });
    }
  }

  const steps = new Map<number, { n: number; over: number; max: number; pauses: string[] }>();
  const step = (at: number) => {
    const key = Math.floor(at / STEP_MS);
    let s = steps.get(key);
    if (!s) steps.set(key, (s = { n: 0, over: 0, max: 0, pauses: [] }));
    return s;
  };
  const phaseCalls = calls.get(phase)!;
  for (const { at, ms } of phaseCalls) {
    const s = step(at);
    s.n++;
    if (ms > overMs) s.over++;
    s.max = Math.max(s.max, ms);
  }
  const end = Math.max(...phaseCalls.map((c) => c.at));
  for (const p of pauses) if (p.at >= -STEP_MS && p.at <= end + STEP_MS && p.ms >= 1) step(p.at).pauses.push(`${p.who} ${p.ms.toFixed(1)} ms`);

  console.log(`${phase}: ${phaseCalls.length} calls; per ${STEP_MS} ms step: calls due, over ${overMs} ms, slowest, GC pauses of 1 ms or more`);
  for (const key of [...steps.keys()].sort((a, b) => a - b)) {
    const s = steps.get(key)!;
    console.log(`${String(key * STEP_MS).padStart(6)} ms  ${String(s.n).padStart(5)}  ${String(s.over).padStart(4)}  ${s.max.toFixed(1).padStart(7)} ms  ${s.pauses.join('; ')}`);
  }
  const over = phaseCalls.filter((c) => c.ms > overMs).length;
  console.log(`over ${overMs} ms: ${over} of ${phaseCalls.length} (${((100 * over) / phaseCalls.length).toFixed(1)}%)`);
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

main(process.argv.slice(2));
