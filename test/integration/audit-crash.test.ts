/**
 * @module The server killed (SIGKILL) while operators' actions run: every action that took effect has its audit entry
 * after the restart, `ok` or, when the kill came between the change and its entry, `interrupted`; the chain verifies.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { AdminClient } from '../../src/admin/admin-client.js';
import { addOperator, connectOperator, type TestOperator } from '../helpers/operator.js';
import { serverCli } from '../helpers/cli.js';
import { startServerProcess, tempDir, type ServerProcess } from '../helpers/server-process.js';

const ROUNDS = 8;
const PER_ROUND = 4;

let server: ServerProcess | undefined;
afterAll(async () => {
  await server?.stop('SIGKILL');
});

interface Entry {
  action: string;
  target: string | null;
  detail: { result?: string };
}

describe('SIGKILL while operator actions run', () => {
  it('leaves no action that took effect without its audit entry', async () => {
    const dataDir = tempDir('audit-crash');
    let operator: TestOperator | null = null;
    for (let round = 0; round < ROUNDS; round++) {
      server = await startServerProcess({ dataDir });
      operator ??= await addOperator(dataDir, 'dora', { with2fa: false });
      const client: AdminClient = await connectOperator(server, operator);
      // Sent at once, and the server killed a few milliseconds later: some commit, some do not, some are cut between.
      const sent = Array.from({ length: PER_ROUND }, (_, i) => client.request('terminals.create', { serial: `CRASH-${round}-${i}` }).catch(() => undefined));
      await new Promise((resolve) => setTimeout(resolve, 2 + Math.floor(Math.random() * 10)));
      await server.stop('SIGKILL');
      await Promise.all(sent);
      await client.close().catch(() => undefined);
    }
    server = await startServerProcess({ dataDir });
    const client = await connectOperator(server, operator!);
    const created = ((await client.request('terminals.list', { limit: 1000 })) as { terminals: { serial: string }[] }).terminals.map((t) => t.serial);
    const entries = (await client.request('audit.list', { action: 'terminals.create', limit: 1000 })) as Entry[];
    const audited = new Map(entries.map((e) => [e.target, e.detail.result]));
    // Every terminal in the store was audited as created, or as cut short; none went unrecorded.
    expect(created.filter((serial) => !['ok', 'interrupted'].includes(audited.get(serial) ?? 'none'))).toEqual([]);
    await client.close();
    const verify = await serverCli(['audit', 'verify', '--json', '--data-dir', dataDir]);
    expect(verify.json).toMatchObject({ ok: true });
  }, 120_000);
});
