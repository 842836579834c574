/**
 * @module The audit page's Action filter offers every action the server writes to the log: each audited op of the admin
 * channel, each `pairing-server users` command, identity prepare and promote, and what the server writes by name. One left out (cash.export, users.role were) is still found when
 * typed whole, but an operator picking from the list would think it is never audited.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OFFLINE_ACCOUNT_EVENTS, OFFLINE_LOGGED_ACTIONS } from '../../../src/admin/offline-accounts.js';
import { OPS } from '../../../src/admin/ops.js';

describe('the audit page\'s Action suggestions', () => {
  it('name every audited op and every offline account command', async () => {
    const page = '../../../src/admin/web/views/audit.js';
    const { ACTIONS } = (await import(page)) as { ACTIONS: string[] };
    const audited = Object.entries(OPS).filter(([, spec]) => spec.audit !== false).map(([name]) => name);
    expect(audited).toContain('cash.export');
    for (const action of [...audited, ...Object.keys(OFFLINE_ACCOUNT_EVENTS), ...OFFLINE_LOGGED_ACTIONS]) expect(ACTIONS, action).toContain(action);
  });

  it('name every action the server writes by name (`action: \'…\'`): a backup, a restored copy\'s first start', async () => {
    const page = '../../../src/admin/web/views/audit.js';
    const { ACTIONS } = (await import(page)) as { ACTIONS: string[] };
    const src = path.resolve(import.meta.dirname, '../../../src');
    const written = fs.readdirSync(src, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .flatMap((file) => [...fs.readFileSync(path.join(src, file), 'utf8').matchAll(/action: '([a-z0-9_.]+)'/g)].map((m) => m[1]!));
    expect(written).toContain('server.backup');
    for (const action of written) expect(ACTIONS, action).toContain(action);
  });
});
