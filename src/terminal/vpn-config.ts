/** @module The VPN configuration a trusted terminal keeps from the gate's answer (docs/VPN.md), and the OpenVPN profile it makes of it with its own key. */
import { AppError } from '../errors.js';
import type { StoredState } from './state-dir.js';

/** What the gate's trusted answer carried for a terminal created with VPN. */
export interface TerminalVpnConfig {
  /** OpenVPN client profile without a private key. */
  profile: string;
  /** Master's address inside the tunnel. */
  masterUrl: string;
  /** Serial number of the terminal's VPN certificate. */
  serial: string;
  expiresAt: string;
}

function isVpnConfig(value: unknown): value is TerminalVpnConfig {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.profile === 'string' && typeof v.masterUrl === 'string' && typeof v.serial === 'string' && typeof v.expiresAt === 'string';
}

/** The configuration in the stored state; `not_found`, saying why and what to do, when the server gave none. `pairHint`: how to pair. */
export function storedVpnConfig(state: StoredState, pairHint: string): TerminalVpnConfig {
  const vpn = state.server.vpn;
  if (!isVpnConfig(vpn)) {
    if (!state.paired) {
      throw new AppError('not_found', `no VPN configuration yet: the server gives one to terminals created with VPN, once they are trusted; ${pairHint}`);
    }
    // Paired, yet the last trusted answer carried none: pairing again does not help unless the server has one by now.
    // The VPN setting is chosen when the operator creates the terminal (`cas terminals create --vpn`); no op changes it later.
    throw new AppError(
      'not_found',
      `the server gave terminal ${state.serial} no VPN configuration: it gives one only to terminals the operator ` +
        'created with VPN (`cas terminals create SERIAL --vpn`), and that cannot be switched on for an existing terminal. ' +
        'Ask the operator how this terminal was created. If it was created with VPN, `terminal pair` fetches the ' +
        'configuration again (no new code).',
    );
  }
  return { profile: vpn.profile, masterUrl: vpn.masterUrl, serial: vpn.serial, expiresAt: vpn.expiresAt };
}

/** The complete OpenVPN profile: the server's part plus the terminal's own private key, which only its machine has. */
export function profileWithKey(profile: string, privateKeyPem: string): string {
  if (/^\s*<key>/m.test(profile)) throw new AppError('invalid_state', 'the stored VPN profile already holds a <key> block; pair again to fetch a fresh one');
  return `${profile.trimEnd()}\n<key>\n${privateKeyPem.trim()}\n</key>\n`;
}
