/**
 * @module The audit chain checked against an anchor from the server's own log: whoever can write the store can cut
 * the newest entries or rewrite the chain so that it still holds, and `audit verify --head` still finds it out.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open } from 'lmdb';
import { auditHash } from '../../src/store/audit-chain.js';
import type { AuditRecord } from '../../src/store/records.js';
import { serverCli } from '../helpers/cli.js';
import { addOperator, connectOperator } from '../helpers/operator.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let anchor: { seq: number; hash: string };

/** The store's audit table, opened with lmdb itself as an attacker with file access would. */
async function withAudit(edit: (audit: ReturnType<typeof openAudit>['audit']) => Promise<void>): Promise<void> {
  const { root, audit } = openAudit();
  try {
    await edit(audit);
  } finally {
    await root.close();
  }
}
function openAudit() {
  const root = open({ path: path.join(server.dataDir, 'store'), maxDbs: 64, compression: false });
  return { root, audit: root.openDB<AuditRecord, number>({ name: 'audit' }) };
}

const verify = (...extra: string[]) => serverCli(['audit', 'verify', '--json', '--data-dir', server.dataDir, ...extra]);

beforeAll(async () => {
  server = await startServerProcess({ extraArgs: ['--status-log', '1'] });
  const alice = await connectOperator(server, await addOperator(server.dataDir, 'alice'));
  await alice.request('terminals.create', { serial: 'ATM-AUDIT1' });
  await alice.request('terminals.create', { serial: 'ATM-AUDIT2' });
  await alice.close();
  // The status line after those entries: its auditHead is what log shipping keeps away from the store.
  const line = await server.waitForLog((l) => l.msg === 'server status' && ((l.auditHead as { seq?: number } | null)?.seq ?? 0) >= 4);
  anchor = line.auditHead as { seq: number; hash: string };
  await server.stop();
});

afterAll(async () => {
  await server?.stop();
});

describe('audit verify --head', () => {
  it('holds for the log as the server left it, and refuses an anchor that is not SEQ:HASH', async () => {
    expect((await verify('--head', `${anchor.seq}:${anchor.hash}`)).json).toMatchObject({ ok: true, entries: anchor.seq, head: anchor.hash });
    // It prints the anchor to keep as --head takes it back.
    const plain = await serverCli(['audit', 'verify', '--data-dir', server.dataDir]);
    expect(plain.stdout).toContain(`head ${anchor.seq}:${anchor.hash} (keep it; audit verify --head ${anchor.seq}:${anchor.hash} checks it later)`);
    expect((await verify()).json).toMatchObject({ anchor: `${anchor.seq}:${anchor.hash}` });
    const bad = await verify('--head', 'latest');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('SEQ:HASH');
  });

  it('finds a rewritten chain that holds on its own', async () => {
    await withAudit(async (audit) => {
      // Entry 2 edited, then every entry after it hashed again: the chain alone holds.
      let prevHash = audit.get(1)!.hash;
      for (let seq = 2; seq <= anchor.seq; seq++) {
        const entry = audit.get(seq)!;
        const { hash: _old, ...content } = { ...entry, prevHash, ...(seq === 2 ? { user: 'someone-else' } : {}) };
        const hash = auditHash(content);
        await audit.put(seq, { ...content, hash });
        prevHash = hash;
      }
    });
    expect((await verify()).json).toMatchObject({ ok: true });
    const checked = await verify('--head', `${anchor.seq}:${anchor.hash}`);
    expect(checked.code).toBe(1);
    expect(checked.json).toMatchObject({ ok: false, firstBroken: anchor.seq });
  });

  it('finds the newest entries cut off', async () => {
    await withAudit(async (audit) => {
      await audit.remove(anchor.seq);
    });
    expect((await verify()).json).toMatchObject({ ok: true, entries: anchor.seq - 1 });
    const checked = await verify('--head', `${anchor.seq}:${anchor.hash}`);
    expect(checked.code).toBe(1);
    expect(checked.json).toMatchObject({ ok: false, firstBroken: anchor.seq });
    expect(checked.json.reason).toContain('newest entries were removed');
  });
});
