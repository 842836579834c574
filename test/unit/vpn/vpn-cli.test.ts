/** @module Unit tests: `cas vpn …` argument parsing and output, and writing the exported bundle with owner-only key files. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { parseCli } from '../../../src/admin/cli-args.js';
import { renderResult } from '../../../src/admin/cli-format.js';
import { writeVpnBundle } from '../../../src/vpn/vpn-bundle-files.js';

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpn-cli-test-'));
afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

function run(argv: string[]) {
  const parsed = parseCli(argv);
  if (parsed.kind !== 'run') throw new Error('expected a command');
  return parsed;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof AppError ? err.code : 'not an AppError';
  }
  return 'no error';
}

describe('cas vpn', () => {
  it('maps set flags to vpn.set args, "default" to null', () => {
    const parsed = run(['vpn', 'set', '--host', 'vpn.example', '--port', '1195', '--proto', 'tcp', '--subnet', '10.9.0.0/24', '--master-url', 'default']);
    expect(parsed.command.op).toBe('vpn.set');
    expect(parsed.args).toEqual({ host: 'vpn.example', port: 1195, proto: 'tcp', subnet: '10.9.0.0/24', masterUrl: null });
    expect(run(['vpn', 'set', '--host', 'default']).args).toEqual({ host: null });
  });

  it('refuses set without a change or with impossible values, before connecting', () => {
    expect(codeOf(() => parseCli(['vpn', 'set']))).toBe('bad_request');
    expect(codeOf(() => parseCli(['vpn', 'set', '--proto', 'icmp']))).toBe('bad_request');
    expect(codeOf(() => parseCli(['vpn', 'set', '--port', '70000']))).toBe('bad_request');
    expect(codeOf(() => parseCli(['vpn', 'get', '--host', 'x']))).toBe('bad_request');
  });

  it('exports only into files: --out is required and stays on this side of the channel', () => {
    expect(codeOf(() => parseCli(['vpn', 'export']))).toBe('bad_request');
    const parsed = run(['vpn', 'export', '--out', 'bundle']);
    expect(parsed.command.op).toBe('vpn.export');
    expect(parsed.args).toBeUndefined();
    expect(parsed.values.out).toBe('bundle');
    expect(run(['vpn', 'regenerate', 'ATM-1']).args).toEqual({ serial: 'ATM-1' });
  });

  it('prints the CRL as bare PEM, so that `cas vpn crl > crl.pem` works', () => {
    const pem = '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n';
    expect(renderResult('vpn-crl', { crl: pem, revoked: [] })).toBe(pem);
    expect(renderResult('vpn', { host: 'h', port: 1194, proto: 'udp', subnet: '10.8.0.0/24', masterUrl: 'https://10.8.0.1:7743', hostIsDefault: true, caCreated: false }))
      .toContain('not created yet');
  });
});

describe('writing the exported bundle', () => {
  const bundle = (files: unknown[]) => ({ files, settings: {}, caFingerprint: 'x' });

  it('writes key files 0600, the rest 0644, into a 0700 directory, narrowing a key file that existed', () => {
    const dir = path.join(workDir, 'out');
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.writeFileSync(path.join(dir, 'server.key'), 'old', { mode: 0o644 });
    const written = writeVpnBundle(dir, bundle([
      { name: 'server.conf', content: 'port 1194\n', secret: false },
      { name: 'server.key', content: 'KEY\n', secret: true },
    ]));
    expect(written.files).toEqual([{ name: 'server.conf', mode: '0644' }, { name: 'server.key', mode: '0600' }]);
    expect(fs.statSync(path.join(dir, 'server.key')).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(dir, 'server.key'), 'utf8')).toBe('KEY\n');
    const fresh = path.join(workDir, 'fresh');
    writeVpnBundle(fresh, bundle([{ name: 'ca.crt', content: 'x', secret: false }]));
    expect(fs.statSync(fresh).mode & 0o777).toBe(0o700);
  });

  it('refuses file names that would leave the directory', () => {
    for (const name of ['../evil', '/etc/passwd', '.hidden', 'a/b']) {
      expect(codeOf(() => writeVpnBundle(path.join(workDir, 'x'), bundle([{ name, content: '', secret: false }])))).toBe('bad_request');
    }
    expect(fs.existsSync(path.join(workDir, 'evil'))).toBe(false);
  });
});
