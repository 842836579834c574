/** @module Unit tests: the start-up banner's hint for a closed gate names the admin URL exactly when cas's default would not reach the server. */
import { describe, expect, it } from 'vitest';
import { resolveConnection } from '../../../src/admin/cli-args.js';
import { gateOpenHint } from '../../../src/server/gate-open-hint.js';

/** The URL `cas` uses when the hint is run as printed: CAS_URL from its front, else cas's own default. */
function urlCasUses(hint: string): string {
  const env = /^CAS_URL=(\S+) /.exec(hint);
  return resolveConnection({ user: 'alice', insecure: true, json: false }, env ? { CAS_URL: env[1] } : {}).url;
}

describe('the banner\'s gate hint', () => {
  it('is the plain command on cas\'s default admin URL, and puts CAS_URL in front on another port or host', () => {
    expect(gateOpenHint('https://127.0.0.1:7777')).toBe('cas gate open --minutes 60');
    expect(gateOpenHint('https://127.0.0.1:17777')).toBe('CAS_URL=wss://127.0.0.1:17777/admin cas gate open --minutes 60');
    expect(gateOpenHint('https://pairing.example.test:7777')).toBe('CAS_URL=wss://pairing.example.test:7777/admin cas gate open --minutes 60');
  });

  it('makes cas reach the admin channel the banner names, whatever its host and port', () => {
    for (const admin of ['https://127.0.0.1:7777', 'https://127.0.0.1:17777', 'https://10.0.0.5:7777', 'https://[::1]:7777', 'https://pairing.example.test:443']) {
      expect(new URL(urlCasUses(gateOpenHint(admin))).host).toBe(new URL(admin).host);
      expect(new URL(urlCasUses(gateOpenHint(admin))).pathname).toBe('/admin');
    }
  });
});
