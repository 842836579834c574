/** @module The admin channel's `vpn.*` operations, spread into the op table of ops.ts. */
import { z } from 'zod';
import { serialSchema } from '../protocol/schemas.js';
import { vpnSetSchema } from '../vpn/vpn-settings.js';
import { argText, op, type OpSpec } from './op-spec.js';

/** A value as sent, as the audit entry keeps it: an op refused for a value of megabytes is audited too. */
const shown = (value: unknown): unknown =>
  value === null || typeof value === 'number' || typeof value === 'boolean' ? value : String(value).slice(0, 256);
/** What vpn.set may change (vpn-settings.ts, vpnSetSchema): the fields its audit entry shows. */
const SETTING_FIELDS = ['host', 'port', 'proto', 'subnet', 'masterUrl'] as const;

export const VPN_OPS: Readonly<Record<string, OpSpec>> = {
  'vpn.get': { access: 'session', changes: 'nothing', audit: false, run: (ctx) => ctx.vpn.status() },
  'vpn.set': op({
    // The host every VPN terminal's profile dials and the master URL it uses through the tunnel: what an attacker would
    // point elsewhere. 2FA as for deposit.set, and the entry keeps what was set and what it replaced.
    access: '2fa', changes: 'server', audit: true, target: () => 'vpn',
    auditDetail: (args, ctx) => {
      const current = ctx.vpn.status();
      const set = Object.fromEntries(SETTING_FIELDS.filter((field) => Object.hasOwn(args, field)).map((field) => [field, shown(args[field])]));
      return { set, previous: Object.fromEntries(Object.keys(set).map((field) => [field, current[field as keyof typeof current]])) };
    },
    // Checked here before the intent is written, and again by the service, which takes no value unchecked.
    args: vpnSetSchema,
    run: (ctx, conn, patch) => ctx.vpn.updateSettings(patch, conn.session!.user),
  }),
  // The bundle holds the OpenVPN server's private key and the tls-crypt key: the same bar as approving a terminal. It
  // writes nothing, but whoever holds those keys can stand in for the fleet's VPN server: `server`, not a viewer's.
  'vpn.export': { access: '2fa', changes: 'server', audit: true, target: () => 'vpn', run: (ctx) => ctx.vpn.exportBundle() },
  'vpn.crl': { access: 'session', changes: 'nothing', audit: false, run: (ctx) => ctx.vpn.crl() },
  'vpn.regenerate': op({
    access: 'session', changes: 'server', audit: true, target: (a) => argText(a, 'serial'), args: z.object({ serial: serialSchema }),
    run: (ctx, conn, { serial }) => ctx.vpn.regenerate(serial, conn.session!.user),
  }),
};
