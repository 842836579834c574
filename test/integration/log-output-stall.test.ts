/**
 * @module The real server with its stdout on a pipe nobody reads for a while (a stalled log shipper, a paused pager):
 * with a line for every refused request, the pipe fills after about 300 lines. The fronts and the admin channel keep
 * answering, and once the pipe is read again every line held meanwhile comes out.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { addOperator, connectOperator, pairRawTerminal } from '../helpers/operator.js';
import { RawTerminal, sendConcurrently } from '../helpers/raw-terminal.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

const REPLAYS = 1_500;

let server: ServerProcess | undefined;
afterAll(async () => {
  server?.resumeOutput();
  await server?.stop('SIGKILL');
});

describe('a server whose stdout is not being read', () => {
  it('keeps answering terminals and operators, and writes the held lines once it is read again', async () => {
    server = await startServerProcess({
      // A line for every refusal, and nothing else on a timer.
      extraArgs: ['--threads', '2', '--master-rate', '100000', '--refusal-log-window', '0', '--log-level', 'info', '--status-log', '0'],
    });
    const admin = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
    await admin.request('gate.open', { minutes: 10 });
    const terminal = RawTerminal.create('STDOUT-STALL-1', 'ec');
    await pairRawTerminal(admin, server, terminal);

    server.pauseOutput();
    const captured = terminal.replayable(server.masterUrl, '/api/v1/ping', '{}');
    expect((await captured()).status).toBe(200);
    const statuses = await sendConcurrently(captured, REPLAYS);
    // About 375 KB of lines against a 64 KiB pipe: when writes to stdout blocked, the fronts stopped here.
    expect(statuses).toEqual(new Array<number>(REPLAYS).fill(401));
    expect((await terminal.send(server.masterUrl, '/api/v1/ping', { body: '{}' })).status).toBe(200);
    const status = await admin.request<{ threads: unknown[] }>('server.status');
    expect(status.threads).toHaveLength(2);
    const refusedWhilePaused = server.logs.filter((l) => l.msg === 'terminal request refused' && l.serial === terminal.serial).length;
    expect(refusedWhilePaused).toBeLessThan(REPLAYS / 2);

    server.resumeOutput();
    // Every refusal's line, held while the pipe was full, arrives (well under each thread's 1 MiB: none dropped).
    const deadline = Date.now() + 15_000;
    let refused = 0;
    while (Date.now() < deadline) {
      refused = server.logs.filter((l) => l.msg === 'terminal request refused' && l.serial === terminal.serial).length;
      if (refused >= REPLAYS) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(refused).toBe(REPLAYS);
    expect(server.logs.some((l) => String(l.msg).startsWith('log lines dropped'))).toBe(false);
    await admin.close();
    expect(await server.stop('SIGTERM')).toBe(0);
  }, 60_000);
});
