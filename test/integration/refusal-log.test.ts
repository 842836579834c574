/**
 * @module A flood of refused master calls (one captured request replayed a thousand times) against the real server:
 * each front logs the first refusals of a kind one by one and counts the rest, the counts come out in a warning
 * (here at shutdown, which ends the window), nothing is lost from the tally, and the genuine terminal keeps working.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { REFUSALS_LOGGED_PER_WINDOW } from '../../src/net/refusal-log.js';
import { addOperator, connectOperator, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal, sendConcurrently } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const THREADS = 2;
const REPLAYS = 1_000;

let server: ServerProcess | undefined;
afterAll(async () => {
  await server?.stop('SIGKILL');
});

describe('a flood of refused requests in the server log', () => {
  it('logs the first of each kind per thread, counts the rest in one warning per thread, and keeps serving', async () => {
    // A window of an hour: this one flood must not straddle two windows.
    server = await startServerProcess({ extraArgs: ['--threads', String(THREADS), '--master-rate', '100000', '--refusal-log-window', '3600'] });
    const admin = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
    await admin.request('gate.open', { minutes: 10 });
    const terminal = RawTerminal.create('FLOODLOG-1', 'ec');
    await pairRawTerminal(admin, server, terminal);
    await admin.close();

    // One signed ping, captured and sent again and again: only the first is accepted, the rest are replays.
    const captured = terminal.replayable(server.masterUrl, '/api/v1/ping', '{}');
    expect((await captured()).status).toBe(200);
    const statuses = await sendConcurrently(captured, REPLAYS);
    expect(statuses).toEqual(new Array<number>(REPLAYS).fill(401));
    // The terminal itself, with a fresh signature, is still served.
    expect((await terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);

    const refusedOneByOne = server.logs.filter((l) => l.msg === 'terminal request refused' && l.serial === terminal.serial);
    expect(refusedOneByOne.length).toBeGreaterThanOrEqual(REFUSALS_LOGGED_PER_WINDOW);
    expect(refusedOneByOne.length).toBeLessThanOrEqual(THREADS * REFUSALS_LOGGED_PER_WINDOW);
    expect(refusedOneByOne.every((l) => l.error === 'unauthenticated' && l.remoteAddress === refusedOneByOne[0]!.remoteAddress)).toBe(true);
    // The terminal is told only "could not be authenticated"; the log says which check failed, on whichever thread.
    expect(refusedOneByOne.every((l) => String(l.reason).startsWith('the nonce was already used'))).toBe(true);

    expect(await server.stop('SIGTERM')).toBe(0);
    const summaries = server.logs.filter((l) => l.msg === 'terminal requests refused beyond the log budget');
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(summaries.length).toBeLessThanOrEqual(THREADS);
    const suppressed = summaries.reduce((sum, l) => sum + Number(l.suppressed), 0);
    // Every refusal is either a line of its own or counted in a summary.
    expect(refusedOneByOne.length + suppressed).toBe(REPLAYS);
    for (const summary of summaries) {
      expect(summary).toMatchObject({ level: 40, service: 'master', status: 401, error: 'unauthenticated', logged: REFUSALS_LOGGED_PER_WINDOW, distinctAddresses: 1, windowSec: 3_600 });
      expect(summary.topAddresses).toEqual([{ address: refusedOneByOne[0]!.remoteAddress, count: summary.suppressed }]);
      expect(summary.topSerials).toEqual([{ serial: terminal.serial, count: summary.suppressed }]);
    }
  }, 60_000);
});
