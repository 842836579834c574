/** @module `cas` argument parsing, connection settings (flags, env, data dir) and the pairing-code helpers, without a server. */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ADMIN_URL, parseCli, readServerFingerprint, resolveConnection, type GlobalFlags } from '../../../src/admin/cli-args.js';
import { UsageError } from '../../../src/cli-errors.js';
import { COMMANDS, normalizeCode } from '../../../src/admin/cli-commands.js';
import { bigCode } from '../../../src/admin/cli-format.js';
import { AppError } from '../../../src/errors.js';
import { makeCertificate } from './stand-in-server.js';

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as UsageError).code;
  }
  throw new Error('expected a usage error');
}

function run(argv: string[]) {
  const parsed = parseCli(argv);
  if (parsed.kind !== 'run') throw new Error('expected a command');
  return parsed;
}

describe('parseCli', () => {
  it('gives the global help, which explains the pairing workflow', () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const parsed = parseCli(argv);
      expect(parsed.kind).toBe('help');
      const text = parsed.kind === 'help' ? parsed.text : '';
      expect(text).toContain('cas pairing approve REQUEST_ID --code CODE');
      expect(text).toContain('call the location contact');
    }
  });

  it('gives per-group help listing only that group', () => {
    for (const argv of [['pairing', '--help'], ['help', 'pairing'], ['pairing', 'approve', '-h']]) {
      const parsed = parseCli(argv);
      const text = parsed.kind === 'help' ? parsed.text : '';
      expect(text).toContain('cas pairing reject');
      expect(text).not.toContain('cas deposit set');
    }
  });

  it('maps every command to its op with the right args', () => {
    expect(run(['terminals', 'create', 'BT1', '--name', 'Lobby', '--vpn']).args).toEqual({ serial: 'BT1', name: 'Lobby', vpn: true });
    expect(run(['terminals', 'create', 'BT1']).args).toEqual({ serial: 'BT1' });
    expect(run(['terminals', 'list']).command.op).toBe('terminals.list');
    expect(run(['terminals', 'unpair', 'BT1']).args).toEqual({ serial: 'BT1' });
    expect(run(['terminals', 'update', 'BT1', '--contact', '+1 555 0100']).args).toEqual({ serial: 'BT1', contact: '+1 555 0100' });
    expect(run(['terminals', 'update', 'BT1', '--name', 'Lobby', '--location', '']).args).toEqual({ serial: 'BT1', name: 'Lobby', location: '' });
    expect(run(['pairing', 'list', '--state', 'pending']).args).toEqual({ state: 'pending' });
    expect(run(['pairing', 'list']).args).toEqual({});
    expect(run(['pairing', 'list', '--limit', '20']).args).toEqual({ limit: 20 });
    expect(run(['pairing', 'list', '--state', 'pending', '--serial', 'BT1']).args).toEqual({ state: 'pending', serial: 'BT1' });
    expect(run(['terminals', 'list', '--search', 'zürich', '--state', 'pending']).args).toEqual({ query: 'zürich', state: 'pending' });
    expect(run(['pairing', 'approve', 'r1', '--code', '123 456 789 012']).args).toEqual({ requestId: 'r1', code: '123-456-789-012' });
    expect(run(['deposit', 'set', 'btc', 'bc1qxyz']).args).toEqual({ coin: 'BTC', address: 'bc1qxyz' });
    expect(run(['audit', '--limit', '20']).args).toEqual({ limit: 20 });
    expect(run(['audit', '--by', 'bob', '--action', 'pairing.approve', '--serial', 'BT1', '--before', '900']).args).toEqual({ user: 'bob', action: 'pairing.approve', serial: 'BT1', before: 900 });
    expect(run(['gate', 'open', '--minutes', '30']).args).toEqual({ minutes: 30 });
    expect(run(['gate', 'open', '--minutes', '10080']).args).toEqual({ minutes: 10080 });
    expect(run(['totp', 'confirm', '123 456']).args).toEqual({ totp: '123456' });
    expect(run(['--totp', '123 456', 'login']).globals.totp).toBe('123456');
    expect(run(['unknown', 'list']).command.op).toBe('unknown.list');
    expect(run(['watch']).args).toEqual({ topics: ['pairing', 'terminals'] });
    expect(run(['watch', '--topics', 'pairing']).args).toEqual({ topics: ['pairing'] });
    expect(run(['watch', '--topics', 'cash']).args).toEqual({ topics: ['cash'] });
    expect(run(['watch', '--topics', 'cash,pairing', '--serial', 'BT1']).args).toEqual({ topics: ['cash', 'pairing'], serial: 'BT1' });
    // Once each: the server refuses more entries than there are topics.
    expect(run(['watch', '--topics', 'cash,pairing,cash,terminals,pairing']).args).toEqual({ topics: ['cash', 'pairing', 'terminals'] });
    const ops = new Set(COMMANDS.map((c) => c.op));
    for (const op of ['terminals.get', 'pairing.get', 'pairing.reject', 'deposit.list', 'gate.status', 'gate.close']) expect(ops).toContain(op);
  });

  it('reads global flags anywhere on the line', () => {
    const parsed = run(['terminals', 'list', '--json', '--url', 'wss://h:1/admin', '-u', 'bob', '--insecure']);
    expect(parsed.globals).toEqual({ json: true, url: 'wss://h:1/admin', user: 'bob', insecure: true });
  });

  it('refuses mistakes as usage errors', () => {
    const mistakes = [
      [], ['frobnicate'], ['terminals'], ['terminals', 'explode'], ['terminals', 'get'], ['terminals', 'get', 'a', 'b'],
      ['terminals', 'list', '--code', '1'], ['pairing', 'approve', 'r1'], ['pairing', 'approve', 'r1', '--code', '12345'],
      ['pairing', 'list', '--state', 'lost'], ['audit', '--limit', '0'], ['audit', '--limit', 'ten'], ['gate', 'open', '--minutes', '-5'],
      ['gate', 'open', '--minutes', '0'], ['gate', 'open', '--minutes', '10081'], ['vpn', 'set', '--port', '65536'],
      ['--totp', '12345', 'login'], ['--totp', '1234567', 'pairing', 'list'], ['totp', 'confirm', '12345'],
      ['watch', '--topics', 'pairing,coins'], ['watch', '--serial', 'BT1'], ['watch', '--topics', 'pairing', '--serial', 'BT1'], ['terminals', 'list', '--no-such-flag'], ['terminals', 'list', '--url'],
      ['terminals', 'update', 'BT1'], ['terminals', 'update', '--contact', '1'], ['terminals', 'update', 'BT1', '--vpn'],
    ];
    for (const argv of mistakes) expect(usageError(() => parseCli(argv)), argv.join(' ')).toBe('bad_request');
  });

  it('bounds --minutes as the server does, with the same message for too little and too much', () => {
    const message = (argv: string[]) => { try { parseCli(argv); } catch (err) { return (err as Error).message; } return 'accepted'; };
    const said = '--minutes must be a whole number from 1 to 10080 (a week)';
    expect([message(['gate', 'open', '--minutes', '0']), message(['gate', 'open', '--minutes', '20000'])]).toEqual([said, said]);
  });
});

describe('normalizeCode and bigCode', () => {
  it('accepts the code as read over the phone and sends the canonical form', () => {
    expect(normalizeCode('123456789012')).toBe('123-456-789-012');
    expect(normalizeCode(' 123-456 789-012 ')).toBe('123-456-789-012');
    expect(usageError(() => normalizeCode('123-456-789-01x'))).toBe('bad_request');
  });

  it('draws five rows of block digits', () => {
    const rows = bigCode('100-000-000-008').trimEnd().split('\n');
    expect(rows).toHaveLength(5);
    expect(rows[0]!.startsWith(' █ ')).toBe(true);
  });
});

describe('resolveConnection', () => {
  let certDir: string;
  let opensslSfp: string;
  beforeAll(() => {
    certDir = makeCertificate().dir;
    // openssl's own fingerprint line, so the data-dir path is checked against an independent computation.
    const line = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', path.join(certDir, 'tls', 'server.crt')], { encoding: 'utf8' });
    opensslSfp = line.trim().split('=')[1]!.replaceAll(':', '').toLowerCase();
  });
  afterAll(() => rmSync(certDir, { recursive: true, force: true }));

  const flags = (extra: Partial<GlobalFlags>): GlobalFlags => ({ insecure: false, json: false, ...extra });

  it('reads the SFP from DIR/tls/server.crt', () => {
    expect(readServerFingerprint(certDir)).toBe(opensslSfp);
    const conn = resolveConnection(flags({ user: 'alice', dataDir: certDir }), {});
    expect(conn).toEqual({ url: DEFAULT_ADMIN_URL, user: 'alice', fingerprint: opensslSfp, insecure: false });
  });

  it('fails clearly when the data dir holds no certificate', () => {
    try {
      readServerFingerprint(path.join(certDir, 'missing'));
      throw new Error('expected an error');
    } catch (err) {
      expect((err as AppError).code).toBe('bad_request');
      // A usage mistake (exit 2), with both ways out.
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(/\(ENOENT\): pass the server's --data-dir, or --fingerprint SFP/);
    }
  });

  it('takes url, user and fingerprint from the environment, flags first', () => {
    const env = { CAS_URL: 'wss://env:7777/admin', CAS_USER: 'envuser', CAS_FINGERPRINT: opensslSfp.toUpperCase().match(/../g)!.join(':') };
    expect(resolveConnection(flags({}), env)).toEqual({ url: 'wss://env:7777/admin', user: 'envuser', fingerprint: opensslSfp, insecure: false });
    const other = 'ab'.repeat(32);
    expect(resolveConnection(flags({ user: 'bob', fingerprint: other }), env)).toMatchObject({ user: 'bob', fingerprint: other });
  });

  it('insists on a pin unless --insecure, and rejects contradictions', () => {
    expect(usageError(() => resolveConnection(flags({ user: 'a' }), {}))).toBe('bad_request');
    expect(usageError(() => resolveConnection(flags({ fingerprint: 'ab'.repeat(32) }), {}))).toBe('bad_request');
    expect(usageError(() => resolveConnection(flags({ user: 'a', fingerprint: 'zz' }), {}))).toBe('bad_request');
    expect(usageError(() => resolveConnection(flags({ user: 'a', insecure: true, fingerprint: 'ab'.repeat(32) }), {}))).toBe('bad_request');
    expect(usageError(() => resolveConnection(flags({ user: 'a', fingerprint: 'ab'.repeat(32), dataDir: certDir }), {}))).toBe('bad_request');
    expect(resolveConnection(flags({ user: 'a', insecure: true }), {})).toEqual({ url: DEFAULT_ADMIN_URL, user: 'a', insecure: true });
  });
});
