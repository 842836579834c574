/**
 * @module `npm run flood`: what a flood of refused master calls costs the real server, with a log line for every
 * refusal (--refusal-log-window 0) against the default budget (src/net/refusal-log.ts), in one run. For each
 * setting it starts the compiled server with its stdout in a file (as a log collector would take it), pairs an
 * RSA-2048 terminal, then sends the same refused call again and again on keep-alive connections: a replay of a
 * captured call (refused after the signature is verified) or a call from a serial nobody created (refused before).
 * Prints server CPU per refusal (from /proc, as the fleet benchmark reads it: lib/proc-stats.ts), refusals a
 * second, and log bytes, and the ratios between the settings.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { addOperator, connectOperator, pairRawTerminal } from '../test/helpers/operator.js';
import { RawTerminal, type RawReply } from '../test/helpers/raw-terminal.js';
import { SERVER_CLI, allocatePorts, tempDir } from '../test/helpers/server-process.js';
import { cpuBetween, sampleProcess } from './lib/proc-stats.js';
import { UsageError, parseOptions, wholeOption } from './lib/usage.js';

const HELP = `npm run flood -- [options]

Floods the real server (2 front threads, stdout to a file) with refused master
calls, once per log setting, and prints server CPU per refusal side by side.

  --refusals N     measured refusals per setting and kind        default 20000
  --warmup N       refusals sent first, not measured              default 5000
  --kinds LIST     replay, unknown (comma separated)              default replay,unknown
  --windows LIST   --refusal-log-window values to compare          default 10,0
                   (10: the default budget; 0: a line for every refusal)
  --connections N  keep-alive connections sending at once         default 32
  -h, --help       this help

The client is node:https in this process; it is slower than the server, so
compare CPU per refusal, not the rate.`;

type Kind = 'replay' | 'unknown';
const KINDS: readonly Kind[] = ['replay', 'unknown'];

interface Measured {
  kind: Kind;
  window: number;
  refusals: number;
  statuses: Record<string, number>;
  seconds: number;
  cpuMsPerRefusal: number;
  logBytes: number;
}

async function waitForListening(logFile: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const line = fs.readFileSync(logFile, 'utf8').split('\n').find((l) => l.includes('"msg":"listening"'));
    if (line) return (JSON.parse(line) as { sfp: string }).sfp;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the server did not report listening within 30 s; its log: ${logFile}`);
}

async function measure(window: number, kinds: readonly Kind[], opts: { refusals: number; warmup: number; connections: number }, progress: (line: string) => void): Promise<Measured[]> {
  const dataDir = tempDir('bench-flood');
  const logFile = path.join(dataDir, 'server.log');
  const ports = await allocatePorts();
  const out = fs.openSync(logFile, 'w');
  const child = spawn(process.execPath, [
    SERVER_CLI, '--data-dir', dataDir, '--host', '127.0.0.1', '--gate-port', String(ports.gate), '--master-port', String(ports.master),
    '--admin-port', String(ports.admin), '--threads', '2', '--master-rate', '1000000', '--log-level', 'info', '--refusal-log-window', String(window),
  ], { stdio: ['ignore', out, out], env: { ...process.env, PAIRING_LOG_PRETTY: '0' } });
  fs.closeSync(out);
  const agents = Array.from({ length: opts.connections }, () => new https.Agent({ keepAlive: true, maxSockets: 1 }));
  try {
    const sfp = await waitForListening(logFile);
    const server = { sfp, gateUrl: `https://127.0.0.1:${ports.gate}`, adminUrl: `wss://127.0.0.1:${ports.admin}/admin` };
    const masterUrl = `https://127.0.0.1:${ports.master}`;
    const admin = await connectOperator(server, await addOperator(dataDir, 'bench'));
    await admin.request('gate.open', { minutes: 10 });
    const paired = RawTerminal.create('FLOOD-PAIRED', 'rsa');
    await pairRawTerminal(admin, server, paired);
    await admin.close();
    const calls: Record<Kind, (agent?: https.Agent) => Promise<RawReply>> = {
      replay: paired.replayable(masterUrl, '/api/v1/ping', '{}'),
      unknown: RawTerminal.create('FLOOD-UNKNOWN', 'rsa').replayable(masterUrl, '/api/v1/ping', '{}'),
    };
    // The replay's first send is the genuine call; every later one is refused.
    if ((await calls.replay()).status !== 200) throw new Error('the captured call was not accepted the first time');

    const results: Measured[] = [];
    for (const kind of kinds) {
      const send = calls[kind];
      const flood = async (count: number): Promise<Record<string, number>> => {
        const statuses: Record<string, number> = {};
        let sent = 0;
        await Promise.all(agents.map(async (agent) => {
          while (sent < count) {
            sent++;
            const { status } = await send(agent);
            statuses[status] = (statuses[status] ?? 0) + 1;
            if (sent % 5_000 === 0) progress(`window ${window} s, ${kind}: ${sent.toLocaleString('en-US')} of ${count.toLocaleString('en-US')}`);
          }
        }));
        return statuses;
      };
      await flood(opts.warmup);
      const bytesBefore = fs.statSync(logFile).size;
      const before = sampleProcess(child.pid!);
      const statuses = await flood(opts.refusals);
      const { cpuSec, wallSec } = cpuBetween(before, sampleProcess(child.pid!));
      results.push({ kind, window, refusals: opts.refusals, statuses, seconds: wallSec, cpuMsPerRefusal: (cpuSec * 1000) / opts.refusals, logBytes: fs.statSync(logFile).size - bytesBefore });
    }
    return results;
  } finally {
    for (const agent of agents) agent.destroy();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function list(name: string, raw: string): string[] {
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${name} must list at least one value`);
  return items;
}

async function main(): Promise<void> {
  const { values } = parseOptions({
    options: {
      refusals: { type: 'string', default: '20000' }, warmup: { type: 'string', default: '5000' }, kinds: { type: 'string', default: 'replay,unknown' },
      windows: { type: 'string', default: '10,0' }, connections: { type: 'string', default: '32' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const kinds = list('kinds', values.kinds).map((k) => {
    if (!(KINDS as readonly string[]).includes(k)) throw new UsageError(`unknown kind "${k}" (there are: ${KINDS.join(', ')})`);
    return k as Kind;
  });
  const windows = list('windows', values.windows).map((w) => wholeOption('windows', w, 0));
  const opts = { refusals: wholeOption('refusals', values.refusals), warmup: wholeOption('warmup', values.warmup, 0), connections: wholeOption('connections', values.connections) };
  const tty = process.stderr.isTTY === true;
  const progress = (line: string): void => void process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
  const all: Measured[] = [];
  for (const window of windows) all.push(...(await measure(window, kinds, opts, progress)));
  if (tty) process.stderr.write('\r\x1b[K');

  const rows = ['| kind | --refusal-log-window | answers | refusals/s | server CPU per refusal, µs | log bytes per refusal |', '|---|---|---|---|---|---|'];
  for (const m of all) {
    const answers = Object.entries(m.statuses).map(([status, n]) => `${n} × ${status}`).join(', ');
    rows.push(`| ${m.kind} | ${m.window} | ${answers} | ${Math.round(m.refusals / m.seconds).toLocaleString('en-US')} | ${(m.cpuMsPerRefusal * 1000).toFixed(1)} | ${(m.logBytes / m.refusals).toFixed(1)} |`);
  }
  process.stdout.write(`${rows.join('\n')}\n`);
  const [first, ...others] = windows;
  for (const kind of kinds) {
    const base = all.find((m) => m.kind === kind && m.window === first)!;
    for (const window of others) {
      const other = all.find((m) => m.kind === kind && m.window === window)!;
      process.stdout.write(`${kind}: window ${window} costs ${(other.cpuMsPerRefusal / base.cpuMsPerRefusal).toFixed(2)}× the server CPU per refusal of window ${first}\n`);
    }
  }
  const unexpected = all.filter((m) => Object.keys(m.statuses).some((status) => status !== '401'));
  if (unexpected.length > 0) {
    process.stderr.write('some answers were not the 401 a refused call gets: the figures are not what they say\n');
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`error: ${error.message}\n\n${HELP}\n`);
    process.exit(2);
  }
  process.stderr.write(`flood failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
