/** @module `cas` end to end in-process against a real TLS + WebSocket peer: pin before password, stdin password, TOTP handling, output, exit codes. */
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/admin/cli.js';
import { startStandIn, type StandIn } from './stand-in-server.js';

let peer: StandIn;

beforeAll(async () => {
  peer = await startStandIn();
  peer.users.set('alice', { password: 'correct horse' });
  peer.users.set('carol', { password: 'pw2', totp: '123456' });
});
afterAll(async () => {
  await peer.close();
});

function sink(): { stream: PassThrough; text(): string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

async function cas(argv: string[], stdinText: string, stop?: AbortSignal) {
  const stdin = new PassThrough();
  stdin.end(stdinText);
  const out = sink();
  const err = sink();
  const code = await runCli(argv, { io: { stdin, stdout: out.stream, stderr: err.stream }, env: {}, ...(stop && { stop }) });
  return { code, stdout: out.text(), stderr: err.text() };
}

describe('cas', () => {
  it('sends nothing, not even the login, to a server that fails the pin', async () => {
    const before = peer.received.length;
    const closed = peer.nextClose();
    const res = await cas(['--url', peer.url, '-u', 'alice', '--fingerprint', 'cd'.repeat(32), 'terminals', 'list'], 'correct horse\n');
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^error: server_pin_mismatch: /);
    // What to do next: compare over a trusted channel, and pin anew only for a certificate that really changed.
    expect(res.stderr).toContain('Compare both with `pairing-server fingerprint --colons` on the server');
    expect(res.stderr).toContain('pin the new SFP (--fingerprint or CAS_FINGERPRINT)');
    await closed;
    expect(peer.received.length).toBe(before);
  });

  it('names the URL it tried, and where to change it, when nothing listens there', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const url = `wss://127.0.0.1:${port}/admin`;
    const res = await cas(['--url', url, '-u', 'alice', '--fingerprint', peer.sfp, 'gate', 'status'], 'correct horse\n');
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(`error: server_unreachable: cannot reach 127.0.0.1:${port}: ECONNREFUSED: nothing listens there. Is the server running, and is that `
      + `its admin port (serve --admin-port)? cas tried ${url} (set it with --url or CAS_URL; default wss://127.0.0.1:7777/admin)\n`);
  });

  it('logs in with the password from stdin, runs the op, logs out, and prints a table', async () => {
    const before = peer.received.length;
    const res = await cas(['--url', peer.url, '-u', 'alice', '--data-dir', peer.dataDir, 'terminals', 'list'], 'correct horse\n');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^SERIAL\s+STATE/);
    expect(res.stdout).toContain('BT100001');
    expect(res.stdout).toContain('BT100002');
    expect(res.stdout).toContain('AB:AB:AB:AB…AB:AB:AB:AB');
    expect(peer.received.slice(before).map((f) => f.op)).toEqual(['login', 'terminals.list', 'terminals.list', 'logout']);
    expect(peer.received.slice(before).filter((f) => f.op === 'terminals.list').map((f) => f.args)).toEqual([{ limit: 1000 }, { limit: 1000, after: 'BT100001' }]);
  });

  it('prints the raw result with --json', async () => {
    const res = await cas(['--url', peer.url, '-u', 'alice', '--fingerprint', peer.sfp, '--json', 'terminals', 'list'], 'correct horse\n');
    expect(res.code).toBe(0);
    // terminals list: the items with the counts the pages gave (this stand-in gives no `matching`; all pages came, so cas counts them).
    expect(JSON.parse(res.stdout)).toEqual({
      terminals: [expect.objectContaining({ serial: 'BT100001' }), expect.objectContaining({ serial: 'BT100002' })], total: 2, matching: 2, shown: 2, more: false,
    });
  });

  it('asks for no more than --limit, and passes the search and state on', async () => {
    const before = peer.received.length;
    const res = await cas(['--url', peer.url, '-u', 'alice', '--fingerprint', peer.sfp, '--json', 'terminals', 'list', '--limit', '1', '--search', 'lobby', '--state', 'paired'], 'correct horse\n');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({ terminals: [expect.objectContaining({ serial: 'BT100001' })], total: 2, matching: 1, shown: 1, more: false });
    expect(peer.received.slice(before).filter((f) => f.op === 'terminals.list').map((f) => f.args)).toEqual([{ query: 'lobby', state: 'paired', limit: 1 }]);
    expect((await cas(['--url', peer.url, '-u', 'alice', '--fingerprint', peer.sfp, 'terminals', 'list', '--state', 'lost'], '')).code).toBe(2);
  });

  it('does not prompt for 2FA without a terminal, and uses --totp when given', async () => {
    const base = ['--url', peer.url, '-u', 'carol', '--fingerprint', peer.sfp];
    const without = await cas([...base, 'terminals', 'list'], 'pw2\n');
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(/^error: totp_required: /);
    const withCode = await cas([...base, '--totp', '123456', 'terminals', 'list'], 'pw2\n');
    expect(withCode.code).toBe(0);
  });

  it('fails with login_failed on a wrong password, and with bad_request on an empty stdin', async () => {
    const base = ['--url', peer.url, '-u', 'alice', '--fingerprint', peer.sfp, 'terminals', 'list'];
    expect((await cas(base, 'nope\n')).stderr).toMatch(/^error: login_failed: /);
    const empty = await cas(base, '');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/^error: bad_request: /);
  });

  it('exits 2 on usage errors and 0 on --help', async () => {
    expect((await cas(['terminals', 'nope'], '')).code).toBe(2);
    expect((await cas(['terminals', 'list'], '')).code).toBe(2); // no user, no pin
    const help = await cas(['--help'], '');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: cas');
  });

  it('watch prints each pushed event as one JSON line until stopped', async () => {
    const stop = new AbortController();
    const stdin = new PassThrough();
    stdin.end('correct horse\n');
    const out = sink();
    const args = ['--url', peer.url, '-u', 'alice', '--fingerprint', peer.sfp, '--json', 'watch', '--topics', 'pairing'];
    const done = runCli(args, { io: { stdin, stdout: out.stream, stderr: sink().stream }, env: {}, stop: stop.signal });
    // Wait for the subscribe frame to reach the peer before pushing.
    await expect.poll(() => peer.received.at(-1)?.op).toBe('subscribe');
    peer.push('pairing.requested', { serial: 'BT100001', requestId: 'r9' });
    await expect.poll(() => out.text()).toContain('r9');
    stop.abort();
    expect(await done).toBe(0);
    expect(JSON.parse(out.text().trim())).toEqual({ event: 'pairing.requested', data: { serial: 'BT100001', requestId: 'r9' } });
  });
});
