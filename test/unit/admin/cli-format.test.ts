/** @module Human output of `cas` on the view shapes the server sends (src/protocol/types.ts). */
import { describe, expect, it } from 'vitest';
import { bigCode, renderPush, renderResult } from '../../../src/admin/cli-format.js';
import type { PairingView, ServerStatus, TerminalView } from '../../../src/protocol/types.js';

const tfp = '0123456789abcdef'.repeat(4);
const colon = tfp.toUpperCase().match(/../g)!.join(':');

const terminal: TerminalView = {
  serial: 'BT100001', name: 'Lobby', location: 'Prague', contact: '+420 1', vpn: false, state: 'paired',
  tfp, lastSeenAt: '2024-05-01T10:00:00.123Z', createdAt: '2024-04-01T10:00:00.000Z', pairedAt: '2024-04-02T10:00:00.000Z',
};
const request: PairingView = {
  requestId: 'r1', serial: 'BT100001', tfp, remoteAddress: '203.0.113.7', requestedAt: '2024-05-01T10:00:00.000Z',
  expiresAt: '2024-05-02T10:00:00.000Z', state: 'pending', stage: 'approval', code: '123-456-789-012', info: { model: 'BATMFOUR' },
  conflictsWithPaired: true, otherKeysWaiting: 0, decidedBy: null, decidedAt: null,
};

describe('renderResult', () => {
  it('abbreviates the TFP in tables and shows it in full in get', () => {
    const list = renderResult('terminals', [terminal]);
    expect(list).toContain('01:23:45:67…89:AB:CD:EF');
    expect(list).not.toContain(colon);
    expect(renderResult('terminal', terminal)).toContain(colon);
    expect(list).toContain('2024-05-01 10:00:00Z');
  });

  it('abbreviates a TFP as the web page does: an operator comparing the two sees the same text', async () => {
    // The page's module is plain JavaScript for the browser, without types.
    const page = '../../../src/admin/web/format.js';
    const { shortFingerprint } = (await import(page)) as { shortFingerprint(hex: string): string };
    expect(renderResult('terminals', [terminal])).toContain(shortFingerprint(tfp));
    expect(shortFingerprint(tfp)).toBe('01:23:45:67…89:AB:CD:EF');
  });

  it('shows the pairing code in big digits and warns when the serial is paired with another TFP', () => {
    const out = renderResult('pairing', request);
    expect(out).toContain('code: 123-456-789-012');
    expect(out).toContain(bigCode('123-456-789-012'));
    expect(out).toContain('WARNING');
    expect(out).toContain(colon);
  });

  it('shows a pending request\'s code in the list, and none once it is decided', () => {
    const [titles, row] = renderResult('pairings', [request, { ...request, requestId: 'r2', state: 'rejected' }]).trimEnd().split('\n').slice(0, 2);
    expect(titles).toMatch(/^REQUEST\s+SERIAL\s+STATE\s+STAGE\s+CODE\s+TFP/);
    expect(row).toContain('123-456-789-012');
    expect(renderResult('pairings', [{ ...request, state: 'rejected' }])).not.toContain('123-456-789-012');
  });

  it('writes control characters and bidirectional overrides as escapes, so a name cannot forge a row or recolour the screen', () => {
    const forged = { ...terminal, name: 'Lobby\u001b[31mRED\nBT100002  paired', location: 'x\u202eevil' };
    const out = renderResult('terminals', [forged]);
    expect(out.trimEnd().split('\n')).toHaveLength(2);
    expect(out).toContain('Lobby\\u001b[31mRED\\u000aBT100002  paired');
    expect(out).toContain('x\\u202eevil');
    expect(out).not.toContain('\u001b');
    // Emoji joiners are text, not controls.
    expect(renderResult('terminals', [{ ...terminal, name: 'Kiosk 👨‍👩‍👧' }])).toContain('Kiosk 👨‍👩‍👧');
    // Invisible characters that would make a name read as another's are shown.
    const lookalike = renderResult('terminals', [{ ...terminal, name: 'alice\u200b \u200e\u200f\u061c\ufeff' }]);
    expect(lookalike).toContain('alice\\u200b \\u200e\\u200f\\u061c\\ufeff');
  });

  it('says who decided in a push, the server itself included', () => {
    expect(renderPush({ event: 'pairing.rejected', data: { request: { ...request, state: 'rejected', decidedBy: 'system' } } }, new Date('2024-05-01T10:00:00Z')))
      .toContain('state=rejected decidedBy=system');
  });

  it('says when there is no code yet, and prints (none) for an empty list', () => {
    expect(renderResult('pairing', { ...request, stage: 'reveal', code: null })).toContain('not yet');
    expect(renderResult('pairings', [])).toBe('(none)\n');
  });

  it('prints the server line and a row per thread, leaving a down thread\'s report columns empty', () => {
    const counts = (answered: number, refused: number, failed: number) => ({ answered, refused, failed });
    const status: ServerStatus = {
      startedAt: '2024-05-01T10:00:00.000Z', uptimeSec: 3_725, rssBytes: 300 * 1024 * 1024, rssFileBytes: 180 * 1024 * 1024, terminals: 100_000,
      pairingHistory: { requests: 104_211, days: 90 },
      disk: { freeBytes: 10 * 1024 ** 3, minFreeBytes: 64 * 1024 ** 2, low: false },
      threads: [
        {
          thread: 0, state: 'running', startedAt: '2024-05-01T10:00:00.000Z', restarts: 0, leases: 4_990,
          report: {
            actors: 5_000, inFlight: { master: 3, gate: 1 }, master: counts(120_000, 12, 0), gate: counts(40, 2, 1),
            handedOn: 7, received: 5, busy: 0.434, lagMaxMs: 38, heapUsedBytes: 64 * 1024 * 1024, trackedAddresses: 12, cachedKeys: 9,
          },
        },
        { thread: 1, state: 'restarting', startedAt: null, restarts: 2, leases: 0, report: null },
      ],
      nextIdentity: null,
    };
    const [head, titles, first, second] = renderResult('server', status).trimEnd().split('\n');
    expect(head).toBe('server up 1h 2m (since 2024-05-01 10:00:00Z), 100000 terminals created, 104211 pairing requests kept (90 days once over), RSS 300 MiB (own 120 MiB, mapped files 180 MiB), disk 10240 MiB free (minimum 64 MiB)');
    const low = renderResult('server', { ...status, disk: { freeBytes: 50 * 1024 ** 2, minFreeBytes: 64 * 1024 ** 2, low: true } }).split('\n')[0];
    expect(low).toBe('server up 1h 2m (since 2024-05-01 10:00:00Z), 100000 terminals created, 104211 pairing requests kept (90 days once over), RSS 300 MiB (own 120 MiB, mapped files 180 MiB), disk 50 MiB free (minimum 64 MiB) — ALMOST FULL: cash events are refused until there is room');
    expect(renderResult('server', { ...status, disk: null }).split('\n')[0]).toBe('server up 1h 2m (since 2024-05-01 10:00:00Z), 100000 terminals created, 104211 pairing requests kept (90 days once over), RSS 300 MiB (own 120 MiB, mapped files 180 MiB)');
    // Where the server cannot split its memory (not Linux), RSS alone.
    expect(renderResult('server', { ...status, disk: null, rssFileBytes: null }).split('\n')[0]).toMatch(/, RSS 300 MiB$/);
    expect(renderResult('server', { ...status, pairingHistory: { requests: 5, days: 0 } }).split('\n')[0]).toContain(', 5 pairing requests kept (for ever), RSS');
    const rollover = { sfp: 'ab'.repeat(32), announcedSince: '2024-05-01T09:00:00.000Z', terminalsSeenSince: 89_000, pairedTerminals: 90_000 };
    // How long the fleet has had (by the server's clock: started 10:00:00, up 1h 2m 5s) and how many of the paired are left.
    expect(renderResult('server', { ...status, nextIdentity: rollover }).split('\n').slice(1, 4)).toEqual([
      `next certificate SFP ${'ab'.repeat(32)} announced since 2024-05-01 09:00:00Z (for 2h 2m): 89000 of 90000 paired terminals seen since follow the switch`,
      `  the other 1000 will need terminal pair --expect-sfp ${'ab'.repeat(32)} after identity promote (cas terminals list --state paired: LAST SEEN before 2024-05-01 09:00:00Z)`,
      expect.stringMatching(/^THREAD/),
    ]);
    expect(renderResult('server', { ...status, nextIdentity: { ...rollover, terminalsSeenSince: 90_000 } }).split('\n').slice(1, 3)).toEqual([
      `next certificate SFP ${'ab'.repeat(32)} announced since 2024-05-01 09:00:00Z (for 2h 2m): 90000 of 90000 paired terminals seen since follow the switch`,
      expect.stringMatching(/^THREAD/),
    ]);
    // A server from before pairedTerminals counted against every terminal created: read as it meant it.
    const older = { sfp: 'ab'.repeat(32), announcedSince: '2024-05-01T09:00:00.000Z', terminalsSeenSince: 99_000 };
    expect(renderResult('server', { ...status, nextIdentity: older }).split('\n').slice(1, 3)).toEqual([
      `next certificate SFP ${'ab'.repeat(32)} announced since 2024-05-01 09:00:00Z (for 2h 2m): 99000 of 100000 terminals seen since follow the switch`,
      `  the other 1000, if paired, will need terminal pair --expect-sfp ${'ab'.repeat(32)} after identity promote (cas terminals list --state paired: LAST SEEN before 2024-05-01 09:00:00Z)`,
    ]);
    expect(titles).toMatch(/^THREAD\s+STATE\s+SINCE\s+RESTARTS\s+LEASES\s+ACTORS\s+BUSY\s+LAG\s+IN FLIGHT/);
    expect(first!.split(/\s{2,}/)).toEqual(['0', 'running', '2024-05-01 10:00:00Z', '0', '4990', '5000', '43%', '38 ms', '4', '120000/12/0', '40/2/1', '7', '5', '64 MiB', '12', '9']);
    expect(second!.split(/\s{2,}/)).toEqual(['1', 'restarting', '2', '0']);
  });

  it('falls back to JSON for a shape it does not know', () => {
    expect(JSON.parse(renderResult('terminals', { surprise: 1 }))).toEqual({ surprise: 1 });
  });
});

describe('renderPush', () => {
  it('prints one line with the nested view flattened and the TFP in colon form', () => {
    const line = renderPush({ event: 'pairing.requested', data: { request } }, new Date('2024-05-01T10:00:00Z'));
    expect(line.endsWith('\n')).toBe(true);
    expect(line.trimEnd()).not.toContain('\n');
    expect(line).toMatch(/^2024-05-01 10:00:00Z pairing\.requested /);
    expect(line).toContain('requestId=r1');
    expect(line).toContain('code=123-456-789-012');
    expect(line).toContain(`tfp=${colon}`);
  });

  it('shows which fields terminal.updated changed, with their new values (a cleared one as "")', () => {
    const line = renderPush({ event: 'terminal.updated', data: { terminal: { ...terminal, location: '' }, user: 'alice', changed: ['location', 'contact'] } }, new Date('2024-05-01T10:00:00Z'));
    expect(line).toMatch(/^2024-05-01 10:00:00Z terminal\.updated serial=BT100001 /);
    expect(line).toContain('user=alice changed=location,contact location="" contact="+420 1"');
    expect(line).not.toContain('name=');
  });

  it('keeps a top-level field over the nested view (terminal.unpaired carries the old TFP)', () => {
    const line = renderPush({ event: 'terminal.unpaired', data: { terminal: { ...terminal, tfp: null }, tfp, user: 'alice' } });
    expect(line).toContain(`tfp=${colon}`);
    expect(line).toContain('user=alice');
  });

  it('says which change operator.changed reports (users disable, reset-2fa…), not only whom it concerns', () => {
    const line = renderPush({ event: 'operator.changed', data: { user: 'bob', by: 'cli:root', at: '2024-05-01T10:00:00.000Z', action: 'users.disable', result: 'ok' } }, new Date('2024-05-01T10:00:00Z'));
    expect(line).toBe('2024-05-01 10:00:00Z operator.changed user=bob by=cli:root action=users.disable result=ok\n');
  });

  it('says how many cash events cash.recorded announces, per terminal when it names them, and of which one for a one-terminal watch', () => {
    const at = new Date('2024-05-01T10:00:00Z');
    expect(renderPush({ event: 'cash.recorded', data: { count: 12, terminals: 2, serials: { 'ATM-1': 7, 'ATM-2': 5 } } }, at))
      .toBe('2024-05-01 10:00:00Z cash.recorded count=12 terminals=2 serials=ATM-1:7,ATM-2:5\n');
    expect(renderPush({ event: 'cash.recorded', data: { count: 9000, terminals: 3000, serials: null } }, at))
      .toBe('2024-05-01 10:00:00Z cash.recorded count=9000 terminals=3000\n');
    expect(renderPush({ event: 'cash.recorded', data: { count: 7, terminals: 1, serials: { 'ATM-1': 7 }, serial: 'ATM-1' } }, at))
      .toBe('2024-05-01 10:00:00Z cash.recorded serial=ATM-1 count=7\n');
  });
});
