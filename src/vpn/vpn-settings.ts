/** @module VPN settings: defaults, validation of what operators set (it ends up in OpenVPN configuration files), and the effective values. */
import { isIP } from 'node:net';
import { z } from 'zod';
import { AppError } from '../errors.js';

export type VpnProto = 'udp' | 'tcp';

/** As stored; null host / masterUrl mean "derived": the server's public host, and the tunnel's first address at master's port. */
export interface VpnSettingsRecord {
  host: string | null;
  port: number;
  proto: VpnProto;
  subnet: string;
  masterUrl: string | null;
  updatedAt: number | null;
  updatedBy: string | null;
}

/** The values in force, as `vpn.get` shows them. */
export interface VpnSettings {
  host: string;
  port: number;
  proto: VpnProto;
  subnet: string;
  masterUrl: string;
  hostIsDefault: boolean;
  masterUrlIsDefault: boolean;
  updatedAt: string | null;
  updatedBy: string | null;
}

export const DEFAULT_VPN_SETTINGS: VpnSettingsRecord = Object.freeze({
  host: null, port: 1194, proto: 'udp', subnet: '10.8.0.0/24', masterUrl: null, updatedAt: null, updatedBy: null,
});

export interface Subnet {
  network: string;
  netmask: string;
  prefix: number;
  /** The OpenVPN server's own address in the tunnel (`server` directive: network + 1). */
  serverAddress: string;
}

const ipv4ToInt = (ip: string): number => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
const intToIpv4 = (n: number): string => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');

/** An IPv4 CIDR whose host bits are zero, /8 to /29 (OpenVPN's `server` needs a few addresses); null otherwise. */
export function parseSubnet(cidr: string): Subnet | null {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr);
  if (!match || isIP(match[1]!) !== 4) return null;
  const prefix = Number(match[2]);
  if (prefix < 8 || prefix > 29) return null;
  const network = ipv4ToInt(match[1]!);
  const size = 2 ** (32 - prefix);
  if (network % size !== 0) return null;
  return { network: match[1]!, netmask: intToIpv4(2 ** 32 - size), prefix, serverAddress: intToIpv4(network + 1) };
}

function subnetContains(subnet: Subnet, ip: string): boolean {
  if (isIP(ip) !== 4) return false;
  const size = 2 ** (32 - subnet.prefix);
  return Math.floor(ipv4ToInt(ip) / size) === Math.floor(ipv4ToInt(subnet.network) / size);
}

/** Host names (RFC 1123) and IP literals only: the value is written into `remote` lines, so nothing else may pass. */
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const hostSchema = z.string().trim().refine((h) => HOSTNAME.test(h) || isIP(h) !== 0, 'a host name or an IP address');

export const vpnSetSchema = z.object({
  host: hostSchema.nullable().optional(),
  port: z.number().int().min(1).max(65535).optional(),
  proto: z.enum(['udp', 'tcp']).optional(),
  subnet: z.string().trim().refine((s) => parseSubnet(s) !== null, 'an IPv4 network such as 10.8.0.0/24 (/8 to /29, host bits zero)').optional(),
  masterUrl: z.string().trim().max(256).nullable().optional(),
}).strict();
export type VpnSettingsPatch = z.infer<typeof vpnSetSchema>;

/** `https://HOST:PORT` as an origin, or invalid_field. An IPv4 literal MUST lie inside the tunnel: no other route is pushed. */
function checkTunnelMasterUrl(value: string, subnet: Subnet): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AppError('invalid_field', 'masterUrl: an https URL such as https://10.8.0.1:7743');
  }
  if (url.protocol !== 'https:' || url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    throw new AppError('invalid_field', 'masterUrl: an https origin without path, query or credentials');
  }
  if (isIP(url.hostname) === 4 && !subnetContains(subnet, url.hostname)) {
    throw new AppError('invalid_field', `masterUrl: ${url.hostname} is outside the tunnel subnet ${subnet.network}/${subnet.prefix}`);
  }
  return url.origin;
}

/** Applies a validated patch; explicit nulls return host / masterUrl to their derived defaults. */
export function applyPatch(current: VpnSettingsRecord, patch: VpnSettingsPatch, user: string, now: number): VpnSettingsRecord {
  const next: VpnSettingsRecord = {
    host: patch.host === undefined ? current.host : patch.host,
    port: patch.port ?? current.port,
    proto: patch.proto ?? current.proto,
    subnet: patch.subnet ?? current.subnet,
    masterUrl: patch.masterUrl === undefined ? current.masterUrl : patch.masterUrl,
    updatedAt: now,
    updatedBy: user,
  };
  // Re-checked against the new subnet even when only the subnet changed: a stored URL may now lie outside it.
  if (next.masterUrl !== null) next.masterUrl = checkTunnelMasterUrl(next.masterUrl, parseSubnet(next.subnet)!);
  return next;
}

export function effectiveSettings(record: VpnSettingsRecord, defaults: { publicHost: string; masterPort: number }): VpnSettings {
  const subnet = parseSubnet(record.subnet)!;
  return {
    host: record.host ?? defaults.publicHost,
    port: record.port,
    proto: record.proto,
    subnet: record.subnet,
    masterUrl: record.masterUrl ?? `https://${subnet.serverAddress}:${defaults.masterPort}`,
    hostIsDefault: record.host === null,
    masterUrlIsDefault: record.masterUrl === null,
    updatedAt: record.updatedAt === null ? null : new Date(record.updatedAt).toISOString(),
    updatedBy: record.updatedBy,
  };
}
