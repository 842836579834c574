/**
 * @module The VPN profile a terminal takes from the gate: what the server renders passes; a line that makes OpenVPN run
 * or write something (`script-security`, `up`, `plugin`, `log`…) does not, whoever sent it.
 */
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { emptyServer, type StoredState } from '../../../src/terminal/state-dir.js';
import { storedVpnConfig } from '../../../src/terminal/vpn-config.js';
import { renderClientProfile } from '../../../src/vpn/vpn-profile.js';

const PEM = (label: string): string => `-----BEGIN ${label}-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END ${label}-----`;

/** A profile as the server renders it for a terminal. */
const serverProfile = renderClientProfile({
  terminalSerial: 'ATM-1', host: 'vpn.example', port: 1194, proto: 'udp', serverName: 'pairing-vpn-server',
  caCertPem: PEM('CERTIFICATE'), clientCertPem: PEM('CERTIFICATE'), tlsCryptKey: PEM('OpenVPN Static key V1'), masterUrl: 'https://10.8.0.1:7743',
});

function stateWith(profile: string): StoredState {
  return {
    version: 1, serial: 'ATM-1', keyKind: 'ec', alg: 'ecdsa-p256-sha256', tfp: 'ab'.repeat(32), createdAt: new Date().toISOString(),
    server: { ...emptyServer(), gateUrl: 'https://gate.example:7741', sfp: 'cd'.repeat(32), vpn: { profile, masterUrl: 'https://10.8.0.1:7743', serial: '01', expiresAt: '2030-01-01T00:00:00Z' } },
    pairing: null, paired: true,
  };
}

const refusal = (profile: string): AppError | null => {
  try {
    storedVpnConfig(stateWith(profile), 'pair');
    return null;
  } catch (error) {
    return error as AppError;
  }
};

describe('a VPN profile from the gate', () => {
  it('is taken as the server renders it', () => {
    expect(storedVpnConfig(stateWith(serverProfile), 'pair').profile).toBe(serverProfile);
  });

  it('is refused when a line would make OpenVPN run a command or write a file, wherever it stands', () => {
    for (const line of ['script-security 2', 'up /bin/sh', '--up "/bin/sh -c id"', 'plugin /tmp/x.so', 'route-up /tmp/x', 'log /etc/passwd', 'config /tmp/other.ovpn', 'management 0.0.0.0 7505']) {
      for (const profile of [`${serverProfile}${line}\n`, `${line}\n${serverProfile}`]) {
        const error = refusal(profile);
        expect(error, line).toBeInstanceOf(AppError);
        expect(error!.code).toBe('invalid_state');
        expect(error!.message).toContain(`holds "${line.split(/\s+/)[0]}", which this terminal does not take`);
      }
    }
  });

  it('is refused with a block other than ca, cert and tls-crypt, or one left open', () => {
    expect(refusal(`${serverProfile}<key>\n${PEM('PRIVATE KEY')}\n</key>\n`)?.message).toContain('holds "<key>"');
    expect(refusal(`${serverProfile}<ca>\n${PEM('CERTIFICATE')}\nup /bin/sh\n`)?.message).toContain('leaves its <ca> block open');
  });
});
