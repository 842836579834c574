/** @module Unit tests: the server's configuration refuses what the store cannot honour, with the flag's name. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_OPTIONS, ConfigError, loadConfig } from '../../../src/config.js';
import { MAX_CLOCK_SKEW_SEC } from '../../../src/store/nonce-ring.js';
import { MAX_PAIRING_TTL_SEC } from '../../../src/store/pairing-timeline.js';

describe('loadConfig', () => {
  it('accepts a clock skew up to the bound the nonce ring is built for, and refuses one beyond it', () => {
    expect(loadConfig({ 'clock-skew': String(MAX_CLOCK_SKEW_SEC) }, {}).clockSkewSec).toBe(MAX_CLOCK_SKEW_SEC);
    expect(loadConfig({}, { PAIRING_CLOCK_SKEW: '30' }).clockSkewSec).toBe(30);
    expect(() => loadConfig({ 'clock-skew': String(MAX_CLOCK_SKEW_SEC + 1) }, {})).toThrow(ConfigError);
    expect(() => loadConfig({}, { PAIRING_CLOCK_SKEW: '3600' })).toThrow(/--clock-skew must be at most 1200 seconds, got 3600 \(from PAIRING_CLOCK_SKEW\)/);
    expect(() => loadConfig({ 'clock-skew': '0' }, {})).toThrow(/positive whole number/);
  });

  it('keeps a pairing request pending at most 7 days: listings read only that stretch of the history for pending ones', () => {
    expect(loadConfig({ 'pairing-ttl': String(MAX_PAIRING_TTL_SEC) }, {}).pairingTtlSec).toBe(MAX_PAIRING_TTL_SEC);
    expect(() => loadConfig({}, { PAIRING_TTL: String(MAX_PAIRING_TTL_SEC + 1) })).toThrow(/--pairing-ttl must be at most 604800 seconds, got 604801 \(from PAIRING_TTL\)/);
  });

  it('keeps the pairing history 90 days by default, 0 for ever, and never for less than two pairing TTLs (a rejection would be forgotten while it holds)', () => {
    expect(loadConfig({}, {}).pairingHistoryDays).toBe(90);
    expect(loadConfig({ 'pairing-history-days': '0' }, {}).pairingHistoryDays).toBe(0);
    expect(loadConfig({}, { PAIRING_HISTORY_DAYS: '2' }).pairingHistoryDays).toBe(2);
    expect(() => loadConfig({ 'pairing-history-days': '1' }, {})).toThrow(/--pairing-history-days must be at least 2 with a pairing TTL of 86400 s .*got 1$/);
    expect(() => loadConfig({ 'pairing-ttl': String(MAX_PAIRING_TTL_SEC) }, { PAIRING_HISTORY_DAYS: '13' }))
      .toThrow(/must be at least 14 .*got 13 \(from PAIRING_HISTORY_DAYS\)/);
    expect(() => loadConfig({ 'pairing-history-days': '90d' }, {})).toThrow(/--pairing-history-days must be a whole number of days \(0: kept for ever\), got "90d"/);
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

  it('serves no metrics unless --metrics-port is given; then on 127.0.0.1 unless --metrics-host says otherwise', () => {
    expect(loadConfig({}, {})).toMatchObject({ metricsPort: null, metricsHost: '127.0.0.1' });
    expect(loadConfig({ 'metrics-port': '9464' }, {})).toMatchObject({ metricsPort: 9464, metricsHost: '127.0.0.1' });
    expect(loadConfig({}, { PAIRING_METRICS_PORT: '9464', PAIRING_METRICS_HOST: '10.0.0.5' })).toMatchObject({ metricsPort: 9464, metricsHost: '10.0.0.5' });
    expect(() => loadConfig({ 'metrics-port': '70000' }, {})).toThrow(/--metrics-port must be a port number 0..65535, got "70000"/);
    // A host alone leaves nothing listening: the operator meant to turn metrics on.
    expect(() => loadConfig({}, { PAIRING_METRICS_HOST: '10.0.0.5' })).toThrow('--metrics-host (from PAIRING_METRICS_HOST) needs --metrics-port: the metrics endpoint is off without it');
  });

  it('refuses a metrics port that another service of this server uses, naming it', () => {
    expect(() => loadConfig({ 'metrics-port': '7777' }, {})).toThrow('--metrics-port 7777 is the --admin-port too: the metrics endpoint needs a port of its own');
    expect(() => loadConfig({ 'metrics-port': '9000', 'gate-port': '9000' }, {})).toThrow(/is the --gate-port too/);
    expect(() => loadConfig({ 'master-port': '9000' }, { PAIRING_METRICS_PORT: '9000' })).toThrow('--metrics-port 9000 (from PAIRING_METRICS_PORT) is the --master-port too');
    // Port 0 is "any free port" for each service: they cannot collide.
    expect(loadConfig({ 'metrics-port': '0', 'admin-port': '0' }, {}).metricsPort).toBe(0);
  });

  it('takes an empty or blank environment variable as unset: each default applies, as if it were not there', () => {
    const empty = Object.fromEntries([
      'PAIRING_DATA_DIR', 'PAIRING_HOST', 'PAIRING_PUBLIC_HOST', 'PAIRING_GATE_PORT', 'PAIRING_MASTER_PORT', 'PAIRING_ADMIN_PORT',
      'PAIRING_SERVER_KEY', 'PAIRING_SERVER_CERT', 'PAIRING_MIN_FREE_DISK', 'PAIRING_STATUS_LOG', 'PAIRING_CLOCK_SKEW', 'PAIRING_THREADS',
      'PAIRING_LOG_LEVEL',
    ].map((name, i) => [name, i % 2 === 0 ? '' : ' \t']));
    const config = loadConfig({}, empty);
    expect(config).toEqual(loadConfig({}, {}));
    expect(config).toMatchObject({
      dataDir: path.resolve('data'), host: '0.0.0.0', publicHost: '127.0.0.1', publicHostIsLoopbackFallback: true,
      gatePort: 7741, masterPort: 7743, adminPort: 7777, serverKeyFile: null, minFreeDiskMiB: 64, statusLogMs: 60_000, logLevel: 'info',
    });
    // A flag still wins over an empty variable, and a set one over the default.
    expect(loadConfig({ 'master-port': '9000' }, { PAIRING_MASTER_PORT: '' }).masterPort).toBe(9000);
    expect(loadConfig({}, { PAIRING_HOST: '', PAIRING_PUBLIC_HOST: 'pairing.example.test' }).publicHost).toBe('pairing.example.test');
  });

  it('reads numbers as plain decimal digits only, naming the option and the variable it came from', () => {
    expect(loadConfig({}, { PAIRING_MASTER_PORT: ' 7421 ' }).masterPort).toBe(7421);
    expect(loadConfig({ 'min-free-disk': '0' }, {}).minFreeDiskMiB).toBe(0);
    expect(() => loadConfig({}, { PAIRING_MASTER_PORT: '0x1cfd' }))
      .toThrow('--master-port must be a port number 0..65535, got "0x1cfd" (from PAIRING_MASTER_PORT)');
    expect(() => loadConfig({}, { PAIRING_MIN_FREE_DISK: '1e3' }))
      .toThrow('--min-free-disk must be a whole number of MiB (0: no check), got "1e3" (from PAIRING_MIN_FREE_DISK)');
    for (const bad of ['0x1cfd', '1e3', '0b1', '0o7', '+5', '5.0', '١٢', '1_000', '99999999999999999999']) {
      expect(() => loadConfig({ 'gate-rate': bad }, {}), bad).toThrow(/--gate-rate must be a positive whole number/);
      expect(() => loadConfig({ 'admin-port': bad }, {}), bad).toThrow(/--admin-port must be a port number/);
    }
  });

  it('takes the five log levels and refuses another as the operator\'s mistake, naming where it came from', () => {
    expect(loadConfig({}, {}).logLevel).toBe('info');
    expect(loadConfig({ 'log-level': 'debug' }, {}).logLevel).toBe('debug');
    expect(() => loadConfig({ 'log-level': 'warning' }, {})).toThrow(/--log-level must be one of trace\|debug\|info\|warn\|error, got "warning"$/);
    expect(() => loadConfig({}, { PAIRING_LOG_LEVEL: 'loud' })).toThrow(/got "loud" \(from PAIRING_LOG_LEVEL\)/);
  });

  it('refuses an empty value given as a flag: --host \'\' is a mistake, not a wish for the default', () => {
    for (const flag of ['host', 'public-host', 'data-dir', 'master-port', 'min-free-disk', 'log-level'] as const) {
      for (const value of ['', '  ']) {
        expect(() => loadConfig({ [flag]: value }, {}), `--${flag} "${value}"`).toThrow(`--${flag} needs a value, got an empty one`);
      }
    }
  });
});

describe('the environment variables --help names', () => {
  it('reads every numeric option from PAIRING_ and its name in capitals (two --pairing- ones aside), and names it in an error', () => {
    const numeric = Object.entries(CONFIG_OPTIONS).filter(([, spec]) => spec.type === 'string').map(([flag]) => flag)
      .filter((flag) => !['data-dir', 'host', 'public-host', 'server-key', 'server-cert', 'log-level'].includes(flag));
    expect(numeric.length).toBeGreaterThan(15);
    for (const flag of numeric) {
      // The rule the help states, and its two exceptions.
      const variable = flag === 'pairing-ttl' ? 'PAIRING_TTL' : flag === 'pairing-history-days' ? 'PAIRING_HISTORY_DAYS' : `PAIRING_${flag.toUpperCase().replace(/-/g, '_')}`;
      expect(() => loadConfig({}, { [variable]: 'x' }), flag).toThrow(`(from ${variable})`);
    }
  });
});
