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
  checkProfile(vpn.profile);
  return { profile: vpn.profile, masterUrl: vpn.masterUrl, serial: vpn.serial, expiresAt: vpn.expiresAt };
}

/**
 * The directives the server's client profiles hold (src/vpn/vpn-profile.ts), and a few as harmless: OpenVPN runs
 * commands for `up`, `down`, `plugin`, `route-up` and the like once `script-security` allows it, as root on a terminal.
 * A profile comes from the gate; a terminal takes from it what a tunnel needs, nothing that runs or writes anything.
 */
const PROFILE_DIRECTIVES: ReadonlySet<string> = new Set([
  'client', 'dev', 'proto', 'remote', 'nobind', 'resolv-retry', 'persist-key', 'persist-tun', 'remote-cert-tls',
  'verify-x509-name', 'tls-version-min', 'verb', 'mute', 'keepalive', 'ping', 'ping-restart', 'connect-retry', 'data-ciphers', 'auth',
]);
const PROFILE_BLOCKS: ReadonlySet<string> = new Set(['ca', 'cert', 'tls-crypt']);

/** Throws `invalid_state`, naming the first line it does not take, for a profile with anything but PROFILE_DIRECTIVES and PROFILE_BLOCKS. */
function checkProfile(profile: string): void {
  let block: string | null = null;
  for (const raw of profile.split('\n')) {
    const line = raw.trim();
    if (block !== null) {
      if (line === `</${block}>`) block = null;
      continue;
    }
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const opening = /^<([a-z-]+)>$/.exec(line);
    if (opening && PROFILE_BLOCKS.has(opening[1]!)) {
      block = opening[1]!;
      continue;
    }
    const directive = opening ? line : line.split(/\s+/)[0]!;
    if (!PROFILE_DIRECTIVES.has(directive.replace(/^--/, ''))) {
      throw new AppError('invalid_state', `the VPN profile from the gate holds "${directive.slice(0, 40)}", which this terminal does not take (it takes only what a tunnel needs: ${[...PROFILE_DIRECTIVES].join(', ')}, and the ca, cert and tls-crypt blocks): it was not written. Tell the operator; a profile from this server never holds it`);
    }
  }
  if (block !== null) throw new AppError('invalid_state', `the VPN profile from the gate leaves its <${block}> block open: it was not written; pair again to fetch a fresh one`);
}

/** The complete OpenVPN profile: the server's part plus the terminal's own private key, which only its machine has. */
export function profileWithKey(profile: string, privateKeyPem: string): string {
  if (/^\s*<key>/m.test(profile)) throw new AppError('invalid_state', 'the stored VPN profile already holds a <key> block; pair again to fetch a fresh one');
  return `${profile.trimEnd()}\n<key>\n${privateKeyPem.trim()}\n</key>\n`;
}
