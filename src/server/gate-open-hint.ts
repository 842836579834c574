/** @module The start-up banner's hint for a closed gate: the `cas` command that opens it, reaching this server as printed. */
import { DEFAULT_ADMIN_URL } from '../admin/cli-args.js';
import { GATE_DEFAULT_MINUTES } from '../protocol/types.js';

/**
 * `cas gate open --minutes N`, N the gate's default window, with the admin channel's URL in front as CAS_URL when cas's
 * default does not name this server's (another --admin-port, --host or --public-host): a hint copied as printed MUST
 * reach the server that printed it, not whatever listens on the default port.
 */
export function gateOpenHint(adminUrl: string): string {
  const casUrl = `wss://${new URL(adminUrl).host}/admin`;
  return `${casUrl === DEFAULT_ADMIN_URL ? '' : `CAS_URL=${casUrl} `}cas gate open --minutes ${GATE_DEFAULT_MINUTES}`;
}
