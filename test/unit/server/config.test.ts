/** @module Unit tests: the server's configuration refuses what the store cannot honour, with the flag's name. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { MAX_CLOCK_SKEW_SEC } from '../../../src/store/nonce-ring.js';
import { MAX_PAIRING_TTL_SEC } from '../../../src/store/pairing-timeline.js';

describe('loadConfig', () => {
  it('accepts a clock skew up to the bound the nonce ring is built for, and refuses one beyond it', () => {
    expect(loadConfig({ 'clock-skew': String(MAX_CLOCK_SKEW_SEC) }, {}).clockSkewSec).toBe(MAX_CLOCK_SKEW_SEC);
    expect(loadConfig({}, { PAIRING_CLOCK_SKEW: '30' }).clockSkewSec).toBe(30);
    expect(() => loadConfig({ 'clock-skew': String(MAX_CLOCK_SKEW_SEC + 1) }, {})).toThrow(ConfigError);
    expect(() => loadConfig({}, { PAIRING_CLOCK_SKEW: '3600' })).toThrow(/--clock-skew must be at most 1200 seconds, got 3600/);
    expect(() => loadConfig({ 'clock-skew': '0' }, {})).toThrow(/positive whole number/);
  });

  it('keeps a pairing request pending at most 7 days: listings read only that stretch of the history for pending ones', () => {
    expect(loadConfig({ 'pairing-ttl': String(MAX_PAIRING_TTL_SEC) }, {}).pairingTtlSec).toBe(MAX_PAIRING_TTL_SEC);
    expect(() => loadConfig({}, { PAIRING_TTL: String(MAX_PAIRING_TTL_SEC + 1) })).toThrow(/--pairing-ttl must be at most 604800 seconds, got 604801/);
  });

  it('logs the status every minute by default; 0 turns it off; anything else but whole seconds is refused', () => {
    expect(loadConfig({}, {}).statusLogMs).toBe(60_000);
    expect(loadConfig({ 'status-log': '0' }, {}).statusLogMs).toBe(0);
    expect(loadConfig({}, { PAIRING_STATUS_LOG: '5' }).statusLogMs).toBe(5_000);
    expect(() => loadConfig({ 'status-log': '-1' }, {})).toThrow(/--status-log must be a whole number of seconds \(0: never\), got "-1"/);
    expect(() => loadConfig({ 'status-log': 'often' }, {})).toThrow(ConfigError);
  });

  it('keeps 64 MiB free on the store\'s disk by default; 0 turns the check off; whole MiB only', () => {
    expect(loadConfig({}, {}).minFreeDiskMiB).toBe(64);
    expect(loadConfig({ 'min-free-disk': '0' }, {}).minFreeDiskMiB).toBe(0);
    expect(loadConfig({}, { PAIRING_MIN_FREE_DISK: '1024' }).minFreeDiskMiB).toBe(1024);
    expect(() => loadConfig({ 'min-free-disk': '-1' }, {})).toThrow(/--min-free-disk must be a whole number of MiB \(0: no check\), got "-1"/);
  });

  it('sums up refused requests past their budget every 10 s by default; 0 logs every refusal; whole seconds only', () => {
    expect(loadConfig({}, {}).refusalLogWindowMs).toBe(10_000);
    expect(loadConfig({ 'refusal-log-window': '0' }, {}).refusalLogWindowMs).toBe(0);
    expect(loadConfig({}, { PAIRING_REFUSAL_LOG_WINDOW: '60' }).refusalLogWindowMs).toBe(60_000);
    expect(() => loadConfig({ 'refusal-log-window': '1.5' }, {})).toThrow(/--refusal-log-window must be a whole number of seconds \(0: a line for every refusal\), got "1.5"/);
  });

  it('bounds admin connections: a 5-minute login deadline, 50 per address, 1,000 without a session; positive whole numbers', () => {
    expect(loadConfig({}, {})).toMatchObject({ adminLoginDeadlineSec: 300, adminConnectionsPerAddress: 50, adminConnectionsWaiting: 1_000 });
    expect(loadConfig({ 'admin-login-deadline': '60', 'admin-conns-per-address': '5' }, { PAIRING_ADMIN_CONNS_WAITING: '20' }))
      .toMatchObject({ adminLoginDeadlineSec: 60, adminConnectionsPerAddress: 5, adminConnectionsWaiting: 20 });
    expect(() => loadConfig({ 'admin-conns-waiting': '0' }, {})).toThrow(/--admin-conns-waiting must be a positive whole number, got "0"/);
  });
});
