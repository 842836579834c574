/**
 * @module The Prometheus scrape endpoint on the real server: off unless --metrics-port (nothing more listens), valid
 * exposition format whose numbers follow what terminals and operators do, nothing of the store in it, wrong methods
 * and paths refused while it goes on serving, and a port that is not its own refused at start-up.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { SILENT_AFTER_MS } from '../../src/net/heartbeats.js';
import { BUSY_WINDOW_MS } from '../../src/net/front-stats.js';
import { addOperator, connectOperator, pairRawTerminal } from '../helpers/operator.js';
import { serverCli } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { RawTerminal } from '../helpers/raw-terminal.js';
import { allocatePorts, dataDirTaken, startServerProcess, type ServerProcess } from '../helpers/server-process.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, path = '/metrics', method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/;
// Go's ParseFloat, as Prometheus reads a value: a decimal or exponent number, NaN or ±Inf.
const VALUE = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$/;

/**
 * A strict reader of the text format 0.0.4, as far as this server writes it: every sample's family has its HELP and
 * then its TYPE before it, once; names and label names are valid; label values escaped; values numbers; a counter's
 * name ends in _total; the body ends with a line feed. Throws naming the line otherwise.
 */
function parseExposition(text: string): Sample[] {
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a line feed');
  const help = new Set<string>();
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  let family: string | null = null;
  for (const [index, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${index + 1}: ${line}`;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name, ${where}`);
      if (kind === 'HELP') {
        if (help.has(name)) throw new Error(`HELP twice, ${where}`);
        help.add(name);
        family = name;
      } else {
        if (family !== name || types.has(name)) throw new Error(`TYPE not right after its HELP, ${where}`);
        if (!['counter', 'gauge'].includes(rest)) throw new Error(`unexpected type, ${where}`);
        if (rest === 'counter' && !name.endsWith('_total')) throw new Error(`counter without _total, ${where}`);
        types.set(name, rest);
      }
      continue;
    }
    if (line.startsWith('#') || line === '') throw new Error(`unexpected line, ${where}`);
    const head = /^([^{ ]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!head) throw new Error(`not a sample, ${where}`);
    const [, name, labelText, valueText] = head as unknown as [string, string, string | undefined, string];
    if (!NAME.test(name)) throw new Error(`bad metric name, ${where}`);
    if (name !== family || !types.has(name)) throw new Error(`sample without its HELP and TYPE before it, ${where}`);
    if (!VALUE.test(valueText)) throw new Error(`value not a number, ${where}`);
    const labels: Record<string, string> = {};
    let rest = labelText ?? '';
    while (rest !== '') {
      const match = LABEL.exec(rest);
      if (!match) throw new Error(`bad labels, ${where}`);
      labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(match[0].length);
    }
    samples.push({ name, labels, value: Number(valueText.replace('Inf', 'Infinity')) });
  }
  return samples;
}

/** The sum of a metric's samples whose labels include `match` (0 when there are none). */
function sum(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

let server: ServerProcess;
let alice: AdminClient;
let metricsPort: number;

async function scrape(): Promise<Sample[]> {
  const reply = await request(metricsPort);
  expect(reply.status).toBe(200);
  expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(reply.body);
}

/** Scrapes until `settled` holds of a scrape (one exposition serves a second, so a change shows within about one). */
async function scrapeUntil(settled: (samples: Sample[]) => boolean, timeoutMs = 10_000): Promise<Sample[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const samples = await scrape();
    if (settled(samples) || Date.now() > deadline) return samples;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** TCP ports a process listens on, from its socket descriptors and the kernel's socket tables. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['tcp', 'tcp6']) {
    for (const row of fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/);
      // st 0A: LISTEN; column 9 is the socket's inode.
      if (cols[3] === '0A' && inodes.has(cols[9]!)) ports.add(parseInt(cols[1]!.split(':')[1]!, 16));
    }
  }
  return [...ports].sort((a, b) => a - b);
}

beforeAll(async () => {
  metricsPort = await freePort();
  server = await startServerProcess({ extraArgs: ['--threads', '2', '--metrics-port', String(metricsPort)], env: { PAIRING_TEST_HOOKS: '1' } });
  alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
}, 60_000);

afterAll(async () => {
  await alice?.close();
  await server?.stop();
});

describe('GET /metrics', () => {
  it('is valid exposition format with a family for each number server.status has, and says nothing of the store', async () => {
    await alice.request('gate.open', { minutes: 10 });
    const terminal = RawTerminal.create('METRICS-SECRET-SERIAL-1', 'ec');
    await pairRawTerminal(alice, server, terminal);
    await alice.request('terminals.update', { serial: terminal.serial, name: 'Lobby Name Marker', location: 'Location Marker' });
    expect((await terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);
    await alice.request('gate.close', {});

    const reply = await request(metricsPort);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const samples = parseExposition(reply.body);
    const names = new Set(samples.map((s) => s.name));
    for (const name of ['process_start_time_seconds', 'process_resident_memory_bytes', 'pairing_server_resident_file_bytes', 'pairing_server_uptime_seconds', 'pairing_server_terminals',
      'pairing_server_pairing_requests', 'pairing_server_gate_open', 'pairing_server_gate_closes_in_seconds', 'pairing_server_audit_head_seq',
      'pairing_server_disk_free_bytes', 'pairing_server_disk_min_free_bytes', 'pairing_server_disk_low', 'pairing_server_threads',
      'pairing_server_thread_state', 'pairing_server_thread_restarts_total', 'pairing_server_thread_leases', 'pairing_server_actors',
      'pairing_server_in_flight_requests', 'pairing_server_answers_total', 'pairing_server_calls_handed_on_total',
      'pairing_server_calls_received_total', 'pairing_server_thread_busy_ratio', 'pairing_server_thread_loop_lag_max_seconds',
      'pairing_server_thread_heap_used_bytes', 'pairing_server_tracked_addresses', 'pairing_server_cached_keys']) {
      expect(names, name).toContain(name);
    }
    // The terminal paired and called from 127.0.0.1: its address is tracked by the thread(s) it reached, its key parsed by the one that verified the ping.
    expect(sum(samples, 'pairing_server_tracked_addresses')).toBeGreaterThanOrEqual(1);
    expect(sum(samples, 'pairing_server_tracked_addresses')).toBeLessThanOrEqual(4);
    expect(sum(samples, 'pairing_server_cached_keys')).toBeGreaterThanOrEqual(1);
    // Bounded labels: 2 threads × 2 services × 3 outcomes, whatever the fleet.
    expect(samples.filter((s) => s.name === 'pairing_server_answers_total')).toHaveLength(12);
    expect(sum(samples, 'pairing_server_thread_state', { state: 'running' })).toBe(2);
    expect(sum(samples, 'pairing_server_terminals')).toBe(1);
    expect(sum(samples, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 2 ** 20);
    // Of it, the mapped files' pages (node's binary at least, the store): a part, not the whole.
    expect(sum(samples, 'pairing_server_resident_file_bytes')).toBeGreaterThan(2 ** 20);
    expect(sum(samples, 'pairing_server_resident_file_bytes')).toBeLessThan(sum(samples, 'process_resident_memory_bytes'));
    // Nothing from the store's records, the operators or the peers: no serial, TFP, account, name or address.
    for (const secret of [terminal.serial, terminal.tfp, terminal.tfp.slice(0, 16), 'alice', 'Lobby Name Marker', 'Location Marker', '127.0.0.1', server.sfp]) {
      expect(reply.body, secret).not.toContain(secret);
    }
    expect(reply.body.toLowerCase()).not.toContain('metrics-secret');
  });

  it('follows reality: master answers and refusals by their count, the gate opening and closing, terminals, audit entries and a thread restart', async () => {
    const terminal = RawTerminal.create('METRICS-2', 'ec');
    await alice.request('gate.open', { minutes: 10 });
    // The gate closes whatever fails here: the tests after this one find it closed.
    try {
      await pairRawTerminal(alice, server, terminal);
      const before = await scrapeUntil((s) => sum(s, 'pairing_server_gate_open') === 1 && sum(s, 'pairing_server_terminals') === 2);
      expect(sum(before, 'pairing_server_gate_open')).toBe(1);
      expect(sum(before, 'pairing_server_gate_closes_in_seconds')).toBeGreaterThan(540);
      expect(sum(before, 'pairing_server_gate_closes_in_seconds')).toBeLessThanOrEqual(600);
      expect(sum(before, 'pairing_server_terminals')).toBe(2);

      const CALLS = 7;
      for (let i = 0; i < CALLS; i++) expect((await terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);
      // Three refused: a forged signature is a 401, whatever thread the connection reaches.
      const forger = RawTerminal.create('METRICS-2', 'ec');
      for (let i = 0; i < 3; i++) expect((await forger.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(401);
      await alice.request('gate.close', {});
      const answered = (s: Sample[]): number => sum(s, 'pairing_server_answers_total', { service: 'master', outcome: 'answered' });
      const refused = (s: Sample[]): number => sum(s, 'pairing_server_answers_total', { service: 'master', outcome: 'refused' });
      const after = await scrapeUntil((s) => answered(s) >= answered(before) + CALLS && refused(s) >= refused(before) + 3 && sum(s, 'pairing_server_gate_open') === 0);
      expect(answered(after) - answered(before)).toBe(CALLS);
      expect(refused(after) - refused(before)).toBe(3);
      expect(sum(after, 'pairing_server_gate_open')).toBe(0);
      expect(sum(after, 'pairing_server_gate_closes_in_seconds')).toBe(0);
      // gate.close is one more audited operator action.
      expect(sum(after, 'pairing_server_audit_head_seq')).toBeGreaterThan(sum(before, 'pairing_server_audit_head_seq'));

      process.kill(server.pid, 'SIGUSR2');
      const restarted = await scrapeUntil((s) => sum(s, 'pairing_server_thread_restarts_total') === 1 && sum(s, 'pairing_server_thread_state', { state: 'running' }) === 2, 30_000);
      expect(sum(restarted, 'pairing_server_thread_restarts_total')).toBe(1);
      expect(sum(restarted, 'pairing_server_thread_state', { state: 'running' })).toBe(2);
    } finally {
      await alice.request('gate.close', {});
    }
  }, 60_000);

  it('asks the threads at most once a second: a burst of scrapes gets one or two answers, not one each', async () => {
    const bodies = await Promise.all(Array.from({ length: 20 }, () => request(metricsPort)));
    expect(bodies.every((reply) => reply.status === 200)).toBe(true);
    // Each thread's report carries its heap in use, which moves with every report it makes: one text per status read.
    // A burst well within a second spans at most two of the server's one-second answers.
    expect(new Set(bodies.map((reply) => reply.body)).size).toBeLessThanOrEqual(2);
  });

  it('answers HEAD as GET without the body, on a connection that goes on serving', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const on = (method: string, path = '/metrics'): Promise<Reply> => new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: metricsPort, path, method, agent }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
    try {
      // Within the second one exposition serves: the same text, so the same length.
      const [head, get] = [await on('HEAD'), await on('GET')];
      expect(head.status).toBe(200);
      expect(head.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(head.body).toBe('');
      expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(get.body));
      // No body after a HEAD's headers, where a client reading the next answer on the connection would find it.
      const notFound = await on('HEAD', '/nope');
      expect([notFound.status, notFound.body]).toEqual([404, '']);
      expect(parseExposition((await on('GET')).body).length).toBeGreaterThan(20);
    } finally {
      agent.destroy();
    }
  });

  it('answers 405 to another method and 404 to another path, and goes on serving scrapes and operators', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const reply = await request(metricsPort, '/metrics', method);
      expect(reply.status, method).toBe(405);
      expect(reply.headers.allow).toBe('GET, HEAD');
      expect(reply.body).toContain('/metrics answers GET (and HEAD) only');
    }
    for (const path of ['/', '/metrics/', '/healthz', '/admin', '/metrics.txt', '/%2e%2e/metrics']) {
      const reply = await request(metricsPort, path);
      expect(reply.status, path).toBe(404);
      expect(reply.body).toContain('this port serves GET /metrics only');
    }
    expect((await scrape()).length).toBeGreaterThan(20);
    expect(await alice.request('gate.status', {})).toMatchObject({ open: false });
  });
});

describe('at start-up', () => {
  it('says the gate is open from the first scrape when the server reopens a window that was open when it stopped', async () => {
    const port = await freePort();
    const args = ['--threads', '2', '--metrics-port', String(port)];
    const first = await startServerProcess({ extraArgs: args });
    const operator = await connectOperator(first, await addOperator(first.dataDir, 'olga'));
    await operator.request('gate.open', { minutes: 10 });
    await operator.close();
    await first.stop();

    // Scrapes from before the restart begins, as an agent does. The first answer is the one to judge, and when its
    // connection was made: a scrape in the few milliseconds between the metrics port listening and the gate's window
    // reopened said closed, a window too short to meet every time, so the test also asks that the port took no
    // connection before the server logged the gate reopened.
    let stop = false;
    const firstAnswer = (async (): Promise<{ reply: Reply; connectedAt: number } | null> => {
      await dataDirTaken(first.dataDir, () => stop);
      while (!stop) {
        let connectedAt = 0;
        try {
          const reply = await new Promise<Reply>((resolve, reject) => {
            const req = http.request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
              let body = '';
              res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
              res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
            });
            req.on('socket', (socket) => socket.on('connect', () => (connectedAt = Date.now())));
            req.on('error', reject);
            req.end();
          });
          return { reply, connectedAt };
        } catch {
          // Not listening yet (or the start-up's check that the port is free, which answers nothing).
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      return null;
    })();
    let again: ServerProcess | undefined;
    try {
      again = await startServerProcess({ dataDir: first.dataDir, ports: first.ports, extraArgs: args });
      // Scraping on until the first answer: on a loaded machine the loop may have had none yet when the start-up's
      // `listening` line came (stopping then judged no scrape at all).
      const answer = await firstAnswer;
      expect(answer?.reply.status).toBe(200);
      const samples = parseExposition(answer!.reply.body);
      expect(sum(samples, 'pairing_server_gate_open')).toBe(1);
      expect(sum(samples, 'pairing_server_gate_closes_in_seconds')).toBeGreaterThan(500);
      const reopened = await again.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('gate reopened'));
      expect(answer!.connectedAt).toBeGreaterThanOrEqual(reopened.time as number);
    } finally {
      stop = true;
      await again?.stop();
    }
  }, 60_000);
});

describe('a thread that is not responding', () => {
  it('keeps its state and restarts, and leaves out what only its report could say rather than show zeros', async () => {
    const stallMs = SILENT_AFTER_MS + 3_000;
    const port = await freePort();
    const stalling = await startServerProcess({ extraArgs: ['--threads', '2', '--metrics-port', String(port)], env: { PAIRING_TEST_HOOKS: '1', PAIRING_TEST_STALL_MS: String(stallMs) } });
    try {
      const blocked = stalling.waitForLog((l) => l.msg === 'test hook: blocking this front thread on purpose');
      process.kill(stalling.pid, 'SIGUSR2');
      const thread = String((await blocked).thread);
      const other = thread === '0' ? '1' : '0';
      const deadline = Date.now() + stallMs;
      let samples: Sample[] = [];
      do {
        const reply = await request(port);
        expect(reply.status).toBe(200);
        samples = parseExposition(reply.body);
        await new Promise((resolve) => setTimeout(resolve, 100));
      } while (sum(samples, 'pairing_server_thread_state', { thread, state: 'not_responding' }) !== 1 && Date.now() < deadline);
      expect(sum(samples, 'pairing_server_thread_state', { thread, state: 'not_responding' })).toBe(1);
      expect(sum(samples, 'pairing_server_thread_state', { thread, state: 'running' })).toBe(0);
      expect(samples.filter((s) => s.name === 'pairing_server_thread_restarts_total').map((s) => s.labels.thread).sort()).toEqual(['0', '1']);
      for (const name of ['pairing_server_actors', 'pairing_server_answers_total', 'pairing_server_in_flight_requests', 'pairing_server_thread_busy_ratio', 'pairing_server_thread_loop_lag_max_seconds', 'pairing_server_thread_heap_used_bytes']) {
        const threads = new Set(samples.filter((s) => s.name === name).map((s) => s.labels.thread));
        expect([...threads], name).toEqual([other]);
      }
      // Back: its report says how long it held every call, and for a minute after, which no 5-s busy ratio does.
      do {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const reply = await request(port);
        expect(reply.status).toBe(200);
        samples = parseExposition(reply.body);
      } while (sum(samples, 'pairing_server_thread_state', { thread, state: 'running' }) !== 1);
      expect(sum(samples, 'pairing_server_thread_loop_lag_max_seconds', { thread })).toBeGreaterThanOrEqual((stallMs - 100) / 1000);
      expect(sum(samples, 'pairing_server_thread_loop_lag_max_seconds', { thread: other })).toBeLessThan(stallMs / 2 / 1000);
      // Still a window later: a scrape a minute apart sees it.
      await new Promise((resolve) => setTimeout(resolve, BUSY_WINDOW_MS + 1_000));
      const later = parseExposition((await request(port)).body);
      expect(sum(later, 'pairing_server_thread_loop_lag_max_seconds', { thread })).toBeGreaterThanOrEqual((stallMs - 100) / 1000);
    } finally {
      await stalling.stop();
    }
  }, 60_000);
});

describe('--metrics-port', () => {
  it('listens on nothing more without it: the server\'s listening sockets are master\'s and admin\'s alone', async () => {
    const plain = await startServerProcess({ extraArgs: ['--threads', '1'] });
    try {
      expect(listeningPorts(plain.pid)).toEqual([plain.ports.master, plain.ports.admin].sort((a, b) => a - b));
      expect(plain.logs.find((l) => l.msg === 'listening')).toMatchObject({ metricsUrl: null });
    } finally {
      await plain.stop();
    }
    // With it, its port is the one more (the gate is closed, so it does not listen).
    expect(listeningPorts(server.pid)).toEqual([server.ports.master, server.ports.admin, metricsPort].sort((a, b) => a - b));
    expect(server.logs.find((l) => l.msg === 'listening')).toMatchObject({ metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` });
  }, 60_000);

  it('is in `pairing-server serve --help` with its variable and default', async () => {
    const help = await serverCli(['serve', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--metrics-port N .*\n.*\[PAIRING_METRICS_PORT\]\s+default: off/);
    expect(help.stdout).toMatch(/--metrics-host ADDR .*\n.*\[PAIRING_METRICS_HOST\]\s+default 127\.0\.0\.1/);
  });

  it('refuses at start-up a port another service of the server has, or another program holds', async () => {
    const ports = await allocatePorts();
    const serve = (dataDir: string, extra: string[]) => serverCli(['serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--threads', '1',
      '--gate-port', String(ports.gate), '--master-port', String(ports.master), '--admin-port', String(ports.admin), ...extra]);
    const dataDir = fs.mkdtempSync(`${server.dataDir}-other-`);
    const same = await serve(dataDir, ['--metrics-port', String(ports.admin)]);
    expect(same.code).toBe(2);
    expect(same.stderr).toContain(`--metrics-port ${ports.admin} is the --admin-port too: the metrics endpoint needs a port of its own`);

    const holder = net.createServer();
    const held = await freePort();
    await new Promise<void>((resolve) => holder.listen(held, '127.0.0.1', resolve));
    try {
      const taken = await serve(dataDir, ['--metrics-port', String(held)]);
      expect(taken.code).toBe(1);
      expect(taken.stderr).toMatch(new RegExp(`^error: conflict: metrics: cannot listen on 127\\.0\\.0\\.1:${held} \\(port in use\\)`));
      expect(taken.stderr).toContain("stop it, or move the metrics service to another port (the server's --metrics-port)");
    } finally {
      holder.close();
    }
  }, 60_000);
});
