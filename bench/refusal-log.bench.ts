/**
 * @module Micro benchmark: what a refused terminal request costs the server's log — its own line (pino, written
 * synchronously to a file, as the server's stdout redirected to one) against being counted past the budget
 * (src/net/refusal-log.ts) — beside one RSA-2048 verify.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogSink } from '../src/log-sink.js';
import { createLogger } from '../src/logger.js';
import { RefusalLog, type Refusal } from '../src/net/refusal-log.js';
import { runMicroCli, type MicroSuite, type MicroTask } from './lib/micro-runner.js';
import { reference } from './lib/openssl-speed.js';

/** Addresses a flood comes from in the last task: more than RefusalLog counts apart, so the cap is in it. */
const FLOOD_ADDRESSES = 5_000;

let dir = '';
const opened: RefusalLog[] = [];
let destination: LogSink | null = null;
let fd = -1;

export const suite: MicroSuite = {
  id: 'refusal-log',
  question: 'What does a refused request cost the log: a line of its own, or being counted past the budget (--refusal-log-window)?',
  openssl: ['rsa2048'],
  notes: [
    'ratio = refusals per verify: N means one costs 1/N of an RSA-2048 verify (openssl).',
    'The line is the server\'s own: the same logger, redaction and sink (src/log-sink.ts), written to a file in the temp dir (one write per line).',
  ],
  setup(): MicroTask[] {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-refusal-log-'));
    fd = fs.openSync(path.join(dir, 'server.log'), 'a');
    destination = new LogSink(fd);
    const log = createLogger({ level: 'info', pretty: false }, destination);
    const everyLine = new RefusalLog(log, 0);
    // A window of an hour and a budget of 0: every refusal is counted, the summary comes only at teardown.
    const counted = new RefusalLog(log, 3_600_000, 0);
    const countedFlood = new RefusalLog(log, 3_600_000, 0);
    opened.push(everyLine, counted, countedFlood);
    const replay: Refusal = { service: 'master', path: '/api/v1/ping', status: 401, error: 'unauthenticated', serial: 'ATM-004711', remoteAddress: '203.0.113.7' };
    const flood: Refusal[] = Array.from({ length: FLOOD_ADDRESSES }, (_, i) => ({ ...replay, serial: `ATM-${i}`, remoteAddress: `198.51.${i >> 8}.${i & 255}` }));
    let i = 0;
    return [
      { name: 'a line each (window 0)', batch: 20, fn: () => everyLine.record(replay), reference: (o) => reference(o, 'rsa2048.verify') },
      { name: 'counted past the budget, one sender', batch: 200, fn: () => counted.record(replay), reference: (o) => reference(o, 'rsa2048.verify') },
      {
        name: `counted past the budget, ${FLOOD_ADDRESSES.toLocaleString('en-US')} senders`, batch: 200,
        fn: () => countedFlood.record(flood[i++ % FLOOD_ADDRESSES]!), reference: (o) => reference(o, 'rsa2048.verify'),
      },
    ];
  },
  teardown() {
    for (const refusals of opened.splice(0)) refusals.close();
    destination?.flush();
    fs.closeSync(fd);
    const lines = fs.readFileSync(path.join(dir, 'server.log'), 'utf8').split('\n').filter(Boolean);
    fs.rmSync(dir, { recursive: true, force: true });
    // The summaries at close are the proof the counted tasks counted: one per RefusalLog that had a budget.
    const summaries = lines.filter((l) => l.includes('beyond the log budget')).length;
    if (summaries !== 2) throw new Error(`expected 2 summary lines, found ${summaries}`);
  },
};

await runMicroCli(suite);
